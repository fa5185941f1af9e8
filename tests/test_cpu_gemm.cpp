// The runtime's CPU fp32 product (src/torch/cpu_gemm.*): the Eigen copies compiled for AVX2 and
// AVX-512 against at::linear on every shape class (one row, odd sizes, column blocks split over
// threads, strided and 3-D inputs, bias), the choice API, the fall-backs (small layers, autograd),
// and a whole model's logits with each kernel.
#include "../src/torch/cpu_gemm.hpp"
#undef CHECK  // glog's, from ATen; Catch's below

#include <catch2/catch.hpp>

#include <filesystem>

#include <ttsearch/core/error.hpp>
#include <ttsearch/torch/device.hpp>
#include <ttsearch/torch/model.hpp>

#include "tiny_model.hpp"

namespace td = ttsearch::torch::detail;
namespace fs = std::filesystem;
using namespace ttsearch;

namespace {

bool cpu_runs(const char* kind) {
  try {
    const auto x = at::ones({1, 4}), w = at::ones({2, 4});
    (void)td::linear_with(kind, x, w);
    return true;
  } catch (const InvalidArgument&) {
    return false;
  }
}

// max |a - b| relative to the largest |b| (at least 1)
double rel_err(const at::Tensor& a, const at::Tensor& b) {
  if (b.numel() == 0) return a.numel() == 0 ? 0.0 : 1.0;
  const double scale = std::max(1.0, b.abs().max().item<double>());
  return (a - b).abs().max().item<double>() / scale;
}

struct ChoiceGuard {  // restores the process-wide choice
  std::string saved = ttsearch::torch::cpu_gemm().starts_with("auto") ? "auto" : ttsearch::torch::cpu_gemm();
  ~ChoiceGuard() { ttsearch::torch::set_cpu_gemm(saved); }
};

}  // namespace

TEST_CASE("cpu gemm: the AVX2 and AVX-512 kernels equal at::linear on every shape class", "[torch][gemm]") {
  at::manual_seed(3);
  ::torch::NoGradGuard no_grad;
  const int threads = at::get_num_threads();
  int kinds = 0;
  for (const char* kind : {"avx2", "avx512"}) {
    if (!cpu_runs(kind)) {
      WARN("SKIPPED: this CPU cannot run the " << kind << " kernels");
      continue;
    }
    ++kinds;
    for (int t : {1, 2, 3}) {
      at::set_num_threads(t);
      for (const auto& [m, n, k] : std::vector<std::array<std::int64_t, 3>>{
               {1, 1, 1}, {1, 17, 33}, {3, 300, 65}, {16, 1000, 896}, {64, 515, 129}, {70, 31, 5}, {0, 8, 8}, {5, 48, 1}}) {
        INFO(kind << " threads " << t << " m " << m << " n " << n << " k " << k);
        const auto x = at::randn({m, k}), w = at::randn({n, k}), b = at::randn({n});
        const auto ref = at::linear(x, w, b);
        const auto got = td::linear_with(kind, x, w, b);
        REQUIRE(got.sizes() == ref.sizes());
        CHECK(rel_err(got, ref) < 1e-5);
        CHECK(rel_err(td::linear_with(kind, x, w), at::linear(x, w)) < 1e-5);
      }
      // strided input (a transposed view), a 3-D input, a non-contiguous weight
      const auto xt = at::randn({40, 6}).t();  // [6, 40], not contiguous
      const auto w = at::randn({50, 40});
      CHECK(rel_err(td::linear_with(kind, xt, w), at::linear(xt, w)) < 1e-5);
      const auto x3 = at::randn({2, 5, 40});
      const auto y3 = td::linear_with(kind, x3, w);
      CHECK(y3.sizes() == at::IntArrayRef({2, 5, 50}));
      CHECK(rel_err(y3, at::linear(x3, w)) < 1e-5);
      const auto wt = at::randn({40, 50}).t();  // [50, 40], not contiguous
      CHECK(rel_err(td::linear_with(kind, x3, wt), at::linear(x3, wt)) < 1e-5);
      CHECK_THROWS_WITH(td::linear_with(kind, at::randn({2, 39}), w), Catch::Contains("input has 39 features, the weight expects 40"));
    }
  }
  at::set_num_threads(threads);
  CHECK_THROWS_AS(td::linear_with("avx2", at::randn({2, 4}, at::kDouble), at::randn({3, 4}, at::kDouble)), InvalidArgument);
  if (kinds == 0) WARN("SKIPPED: no ISA kernel runs on this CPU; only at::linear is in use");
}

TEST_CASE("cpu gemm: the choice / the size threshold / and autograd falling back to at::linear", "[torch][gemm]") {
  ChoiceGuard guard;
  CHECK_THROWS_WITH(ttsearch::torch::set_cpu_gemm("avx1024"), Catch::Contains("unknown CPU GEMM 'avx1024' (expected auto, blas, avx2 or avx512)"));
  ttsearch::torch::set_cpu_gemm("auto");
  const std::string text = ttsearch::torch::cpu_gemm();
  const std::string best = cpu_runs("avx512") ? "avx512" : cpu_runs("avx2") ? "avx2" : "blas";
  INFO(text);
  CHECK(text.starts_with("auto: " + best));
  at::manual_seed(4);
  ::torch::NoGradGuard no_grad;
  // a layer below the threshold runs at::linear bit for bit; one above it the chosen kernel bit for bit
  const auto xs = at::randn({4, 64}), ws = at::randn({326, 64});
  CHECK(at::equal(td::linear(xs, ws), at::linear(xs, ws)));
  const auto x = at::randn({4, 512}), w = at::randn({td::kMinGemmWeights / 512, 512});
  CHECK(at::equal(td::linear(x, w), td::linear_with(best, x, w)));  // up to 8 rows: the ISA kernel
  const auto x16 = at::randn({2, 8, 512});                          // 16 rows: the BLAS when it is fast
  const bool blas_above = text.ends_with("blas above") || best == "blas";
  CHECK(at::equal(td::linear(x16, w), blas_above ? at::linear(x16, w) : td::linear_with(best, x16, w)));
  CHECK_THROWS_WITH(td::linear_with("auto", x, w), Catch::Contains("name a kernel"));
  ttsearch::torch::set_cpu_gemm("blas");
  CHECK(ttsearch::torch::cpu_gemm() == "blas");
  CHECK(at::equal(td::linear(x, w), at::linear(x, w)));
  if (best != "blas") {
    ttsearch::torch::set_cpu_gemm(best);
    CHECK(ttsearch::torch::cpu_gemm() == best);
    CHECK(at::equal(td::linear(x16, w), td::linear_with(best, x16, w)));
  }
}

TEST_CASE("cpu gemm: training keeps autograd (at::linear)", "[torch][gemm]") {
  ChoiceGuard guard;
  ttsearch::torch::set_cpu_gemm("auto");
  const auto x = at::randn({4, 512});
  auto w = at::randn({td::kMinGemmWeights / 512, 512}).set_requires_grad(true);
  const auto y = td::linear(x, w);
  REQUIRE(y.requires_grad());
  y.sum().backward();
  CHECK(w.grad().defined());
}

TEST_CASE("cpu gemm: a model's logits with each kernel", "[torch][gemm]") {
  ChoiceGuard guard;
  const fs::path dir = fs::temp_directory_path() / "ttsearch_test_cpu_gemm_model";
  // hidden 512: q / o / MLP projections and the LM head (600 x 512) are above the threshold (k / v, 128 x 512, below)
  const testing::Qwen2Shape shape{.hidden = 512, .intermediate = 1024, .vocab = 600, .heads = 8, .kv_heads = 2, .layers = 2};
  testing::write_tiny_qwen2(dir.string(), std::string(TTSEARCH_TEST_DATA_DIR) + "/tokenizer/qwen2.tokenizer.json", false, 5, false, shape);
  const std::vector<std::int32_t> ids = {1, 50, 7, 300, 12, 99, 4, 250};
  ttsearch::torch::set_cpu_gemm("blas");
  const auto lm = ttsearch::torch::CausalLM::load(dir.string());
  const auto ref = lm.logits(ids);
  for (const char* kind : {"avx2", "avx512"}) {
    if (!cpu_runs(kind)) {
      WARN("SKIPPED: this CPU cannot run the " << kind << " kernels");
      continue;
    }
    ttsearch::torch::set_cpu_gemm(kind);
    const auto got = lm.logits(ids);
    REQUIRE(got.size() == ref.size());
    double worst = 0, scale = 1;
    for (std::size_t i = 0; i < got.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::fabs(got[i] - ref[i])));
      scale = std::max(scale, static_cast<double>(std::fabs(ref[i])));
    }
    INFO(kind << ": max |diff| " << worst << " at logit scale " << scale);
    CHECK(worst / scale < 1e-4);
    CHECK(got != ref);  // the kernel really ran (a different summation order changes some last bits)
  }
}
