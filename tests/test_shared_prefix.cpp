// Shared-prefix ("cascade") attention: samples forked from one prefill read their request's keys
// and values in place. Decoding through a SharedPrefix must give the hidden states of the dense
// cache that copies the prefix into every row (ragged groups, rows of a group not adjacent, GQA,
// rows dropped mid-way), and must leave the shared tensors untouched.
#include "../src/torch/model.hpp"
#undef CHECK  // glog's, from ATen; Catch's below

#include <c10/core/CPUAllocator.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <numeric>

#include "tiny_model.hpp"

namespace td = ttsearch::torch::detail;
namespace fs = std::filesystem;

namespace {

/// Counts CPU allocations of exactly `watch` bytes (e.g. an fp32 copy of the shared prefix's keys).
struct CountingAllocator final : c10::Allocator {
  c10::Allocator* inner = nullptr;
  std::size_t watch = 0;
  mutable int hits = 0;
  c10::DataPtr allocate(std::size_t n) const override {
    if (n == watch) ++hits;
    return inner->allocate(n);
  }
  c10::DeleterFnPtr raw_deleter() const override { return inner->raw_deleter(); }
};

}  // namespace

TEST_CASE("shared prefix attention equals the dense per-row copy / copies nothing of the prefix - fp32 and bf16", "[torch][cache]") {
  ttsearch::testing::Qwen2Shape shape;
  shape.hidden = 40;  // head_dim 10: an fp32 copy of the prefix keys has a size no other tensor here has
  const fs::path dir = ttsearch::testing::write_tiny_qwen2((fs::temp_directory_path() / ("ttsearch_shared_" + std::to_string(::getpid()))).string(),
                                                           std::string(TTSEARCH_TEST_DATA_DIR) + "/tokenizer/qwen2.tokenizer.json", false, 5,
                                                           false, shape);
  for (const char* dtype : {"float32", "bfloat16"}) {
  INFO(dtype);
  ::torch::InferenceMode guard;
  auto m = td::load_model(dir.string(), "cpu", dtype);
  const bool half = std::string(dtype) != "float32";
  // three contexts of 5, 3 and 7 tokens, left-padded to 7
  const std::vector<std::int64_t> len = {5, 3, 7};
  const std::int64_t R = 3, P = 7;
  std::vector<std::int64_t> ids(R * P, 0), pos(R * P, 0), mask(R * P, 0);
  ttsearch::Rng rng(3);
  for (std::int64_t r = 0; r < R; ++r) {
    for (std::int64_t t = 0; t < len[r]; ++t) {
      const auto k = r * P + P - len[r] + t;
      ids[k] = static_cast<std::int64_t>(rng.below(500));
      pos[k] = t;
      mask[k] = 1;
    }
  }
  td::KVCache prefill;
  const auto pmask = at::tensor(mask, at::kLong).view({R, P}).to(at::kBool);
  m.model->hidden(at::tensor(ids, at::kLong).view({R, P}), at::tensor(pos, at::kLong).view({R, P}), pmask, &prefill);
  // six rows: groups 0, 0, 2, 0, 1, 2 (sizes 3, 1, 2)
  std::vector<std::int64_t> group = {0, 0, 2, 0, 1, 2};
  const auto B = static_cast<std::int64_t>(group.size());
  td::KVCache dense;
  const auto index = at::tensor(group, at::kLong);
  for (const auto& l : prefill.layers) dense.layers.push_back({l.k.index_select(0, index), l.v.index_select(0, index)});
  at::Tensor dense_mask = pmask.index_select(0, index);
  td::KVCache shared;
  shared.shared = std::make_shared<td::SharedPrefix>();
  shared.shared->layers = prefill.layers;
  shared.shared->mask = pmask;
  shared.shared->set_groups(group, at::Device(at::kCPU));
  CHECK(shared.shared->slots == 3);
  for (const auto& l : prefill.layers) {
    auto sizes = l.k.sizes().vec();
    sizes[0] = B;
    sizes[2] = 0;
    shared.layers.push_back({at::empty(sizes, l.k.options()), at::empty(sizes, l.v.options()), 0});
  }
  shared.reserve(6);
  at::Tensor own_mask = at::empty({B, 0}, at::kBool);
  const void* prefix_data = shared.shared->layers[0].k.data_ptr();
  std::vector<std::int64_t> rows(static_cast<std::size_t>(B));
  std::iota(rows.begin(), rows.end(), 0);
  for (int step = 0; step < 5; ++step) {
    if (step == 3) {  // drop rows 1, 2 and 4 (group 1 is left with no row)
      const std::vector<std::int64_t> keep = {0, 3, 5};
      std::vector<std::int64_t> next;
      for (auto k : keep) next.push_back(rows[static_cast<std::size_t>(k)]);
      rows = next;
      dense.select_rows(keep, at::Device(at::kCPU));
      shared.select_rows(keep, at::Device(at::kCPU));
      dense_mask = dense_mask.index_select(0, at::tensor(keep, at::kLong));
      own_mask = own_mask.index_select(0, at::tensor(keep, at::kLong));
      CHECK(shared.shared->group == std::vector<std::int64_t>{0, 0, 2});
    }
    const auto n = static_cast<std::int64_t>(rows.size());
    std::vector<std::int64_t> tok, p;
    for (const auto r : rows) {
      tok.push_back(static_cast<std::int64_t>(rng.below(500)));
      p.push_back(len[static_cast<std::size_t>(group[static_cast<std::size_t>(r)])] + step);
    }
    const auto live = at::ones({n, 1}, at::kBool);
    dense_mask = at::cat({dense_mask, live}, 1);
    own_mask = at::cat({own_mask, live}, 1);
    const auto t = at::tensor(tok, at::kLong).view({n, 1}), ps = at::tensor(p, at::kLong).view({n, 1});
    const auto want = m.model->hidden(t, ps, dense_mask, &dense);
    // no layer makes an fp32 copy of the shared prefix's keys ([G, kv_heads, P, head_dim] floats)
    const auto& pk = shared.shared->layers[0].k;
    CountingAllocator counting;
    counting.inner = c10::GetCPUAllocator();
    counting.watch = static_cast<std::size_t>(pk.numel()) * sizeof(float);
    c10::SetCPUAllocator(&counting, 100);
    const auto got = m.model->hidden(t, ps, own_mask, &shared);
    c10::SetCPUAllocator(counting.inner, 100);
    INFO("step " << step);
    CHECK(counting.hits == 0);
    if (step == 0) {  // the counter sees such a copy (the control)
      c10::SetCPUAllocator(&counting, 100);
      const auto copy = pk.to(at::kFloat).contiguous();
      c10::SetCPUAllocator(counting.inner, 100);
      CHECK(counting.hits >= (half ? 1 : 0));  // fp32 .to(kFloat) is no copy at all
    }
    const float err = (got.to(at::kFloat) - want.to(at::kFloat)).abs().max().item<float>();
    const float scale = want.to(at::kFloat).abs().max().item<float>();
    CHECK(err <= (half ? 2e-2f : 1e-5f) * std::max(1.0f, scale));
  }
  // the prefix was read in place: same storage, and each row holds only its own 5 positions
  CHECK(shared.shared->layers[0].k.data_ptr() == prefix_data);
  CHECK(shared.shared->layers[0].k.scalar_type() == td::parse_scalar_type(dtype));
  CHECK(shared.length() == 5);
  CHECK(dense.length() == P + 5);
  }
  fs::remove_all(dir);
}
