// The CPU implementations of the fused scoring ops (include/ttsearch/cuda/scoring.hpp) against
// libtorch's reference ops, over random shapes with odd vocabularies, T = 1, padding rows and
// -inf logits, in fp32, bf16 and fp16.
// ATen pulls in glog, whose CHECK macro would replace Catch's: include it first, then drop it.
#include <torch/torch.h>
#undef CHECK

#include <catch2/catch.hpp>

#include <ttsearch/cuda/scoring.hpp>

using namespace ttsearch;
using namespace ttsearch::cuda;

namespace {

ScalarType scalar_of(at::ScalarType t) {
  return t == at::kFloat ? ScalarType::kFloat32 : t == at::kBFloat16 ? ScalarType::kBFloat16 : ScalarType::kFloat16;
}

}  // namespace

TEST_CASE("scoring: fused log-softmax + gather equals log_softmax(x).gather(t)", "[torch][scoring]") {
  ::torch::manual_seed(0);
  struct Shape {
    std::int64_t B, T, V, pad;  // pad: extra columns past V in each row (a strided view)
  };
  for (const Shape sh : {Shape{1, 1, 1, 0}, Shape{2, 3, 7, 0}, Shape{3, 1, 151, 5}, Shape{2, 5, 1000, 0}, Shape{1, 4, 1001, 3}, Shape{4, 2, 4099, 0}}) {
    for (const auto dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
      INFO("B " << sh.B << " T " << sh.T << " V " << sh.V << " dtype " << c10::toString(dtype));
      auto wide = (::torch::randn({sh.B, sh.T, sh.V + sh.pad}) * 4).to(dtype);
      // some -inf logits (a masked vocabulary), never all of a row
      if (sh.V > 2) wide.index_put_({at::indexing::Slice(), at::indexing::Slice(), at::indexing::Slice(0, sh.V / 3)},
                                    -std::numeric_limits<float>::infinity());
      auto logits = wide.narrow(2, 0, sh.V);
      auto targets = ::torch::randint(sh.V / 3, sh.V, {sh.B, sh.T}, at::kInt);
      if (sh.V == 1) targets.zero_();
      if (sh.T > 1) targets.select(1, sh.T - 1).fill_(-1);  // padding
      const auto ref = at::log_softmax(logits.to(at::kFloat), -1).gather(-1, targets.clamp_min(0).to(at::kLong).unsqueeze(-1)).squeeze(-1)
                           .masked_fill(targets < 0, 0.0f);
      std::vector<float> out(static_cast<std::size_t>(sh.B * sh.T), 123.0f);
      log_softmax_gather_cpu(wide.data_ptr(), scalar_of(dtype), sh.B * sh.T, sh.V, sh.V + sh.pad, targets.data_ptr<std::int32_t>(), out.data());
      const auto got = at::from_blob(out.data(), {sh.B, sh.T}, at::kFloat);
      CHECK(at::allclose(got, ref, 1e-5, 1e-5));
    }
  }
  // a target on a -inf logit is -inf; a row of -inf gives -inf, never NaN
  std::vector<float> row = {-INFINITY, 0.0f, 1.0f};
  std::int32_t t = 0;
  float out = 0;
  log_softmax_gather_cpu(row.data(), ScalarType::kFloat32, 1, 3, 3, &t, &out);
  CHECK(out == -INFINITY);
  row = {-INFINITY, -INFINITY, -INFINITY};
  t = 2;
  log_softmax_gather_cpu(row.data(), ScalarType::kFloat32, 1, 3, 3, &t, &out);
  CHECK(out == -INFINITY);
  t = 3;
  CHECK_THROWS_WITH(log_softmax_gather_cpu(row.data(), ScalarType::kFloat32, 1, 3, 3, &t, &out), Catch::Contains("outside the vocabulary"));
  // fp16 / bf16 decoding of special values
  CHECK(f16_to_float(0x3C00) == 1.0f);
  CHECK(f16_to_float(0xC000) == -2.0f);
  CHECK(f16_to_float(0x0001) == 0x1p-24f);
  CHECK(f16_to_float(0xFC00) == -INFINITY);
  CHECK(bf16_to_float(0x3F80) == 1.0f);
  CHECK(bf16_to_float(0xFF80) == -INFINITY);
}

TEST_CASE("scoring: fused LM-head log-probs equal log_softmax(h W^T).gather(t) without the logits", "[torch][scoring]") {
  ::torch::manual_seed(1);
  for (const auto& [n, d, V] : std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>>{{1, 1, 1}, {5, 16, 37}, {33, 64, 1001}, {7, 96, 5000}}) {
    for (std::int64_t tile : {1, 7, 1024}) {
      INFO("n " << n << " d " << d << " V " << V << " tile " << tile);
      const auto h = ::torch::randn({n, d}), w = ::torch::randn({V, d}) * 0.3;
      auto targets = ::torch::randint(0, V, {n}, at::kInt);
      if (n > 2) targets[1] = -1;
      const auto ref = at::log_softmax(at::matmul(h, w.t()), -1).gather(-1, targets.clamp_min(0).to(at::kLong).unsqueeze(-1)).squeeze(-1)
                           .masked_fill(targets < 0, 0.0f);
      std::vector<float> out(static_cast<std::size_t>(n));
      lm_head_logprobs_cpu(h.data_ptr<float>(), w.data_ptr<float>(), n, d, V, targets.data_ptr<std::int32_t>(), out.data(), tile);
      CHECK(at::allclose(at::from_blob(out.data(), {n}, at::kFloat), ref, 1e-4, 1e-4));
    }
  }
}

TEST_CASE("scoring: PRM pair scores equal softmax over the two rows at the selected positions", "[torch][scoring]") {
  ::torch::manual_seed(2);
  const std::int64_t rows = 40, d = 48;
  const auto h = ::torch::randn({rows, d}), two = ::torch::randn({2, d});
  const std::vector<std::int64_t> pos = {0, 7, 39, 7, 12};
  const float bg = 0.25f, bb = -0.5f;
  const auto picked = h.index_select(0, at::tensor(pos, at::kLong));
  const auto ref = at::softmax(at::matmul(picked, two.t()) + at::tensor({bg, bb}), -1).select(1, 0);
  std::vector<float> out(pos.size());
  pair_scores_cpu(h.data_ptr<float>(), rows, d, pos.data(), static_cast<std::int64_t>(pos.size()), two[0].data_ptr<float>(),
                  two[1].data_ptr<float>(), bg, bb, out.data());
  CHECK(at::allclose(at::from_blob(out.data(), {static_cast<std::int64_t>(pos.size())}, at::kFloat), ref, 1e-5, 1e-6));
  const std::int64_t bad = rows;
  CHECK_THROWS_WITH(pair_scores_cpu(h.data_ptr<float>(), rows, d, &bad, 1, two[0].data_ptr<float>(), two[1].data_ptr<float>(), 0, 0, out.data()),
                    Catch::Contains("outside the 40 hidden rows"));
}
