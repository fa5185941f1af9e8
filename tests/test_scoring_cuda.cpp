// The CUDA scoring kernels against their CPU versions (themselves checked against libtorch in
// test_scoring.cpp). Built when nvcc is found; every case skips when no GPU is present.
#include <catch2/catch.hpp>
#include <cuda_runtime.h>

#include <cmath>
#include <random>
#include <vector>

#include <ttsearch/cuda/sampling.hpp>
#include <ttsearch/cuda/scoring.hpp>

using namespace ttsearch::cuda;

namespace {

template <class T>
struct Device {
  T* p = nullptr;
  explicit Device(const std::vector<T>& host) {
    REQUIRE(cudaMalloc(&p, std::max<std::size_t>(1, host.size()) * sizeof(T)) == cudaSuccess);
    if (!host.empty()) REQUIRE(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  std::vector<T> get(std::size_t n) const {
    std::vector<T> out(n);
    if (n) REQUIRE(cudaMemcpy(out.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
    return out;
  }
  ~Device() { cudaFree(p); }
};

bool skip() {
  if (device_available()) return false;
  WARN("SKIPPED: no CUDA device");
  return true;
}

std::uint16_t to_bf16(float f) { return static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(f) >> 16); }

}  // namespace

TEST_CASE("cuda: fused log-softmax + gather matches the CPU version (fp32 / bf16 - odd V / T = 1 / padding / -inf)", "[cuda][scoring]") {
  if (skip()) return;
  std::mt19937 rng(0);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  for (const auto& [rows, V] : std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {3, 7}, {5, 1001}, {64, 151936}}) {
    INFO("rows " << rows << " V " << V);
    std::vector<float> x(static_cast<std::size_t>(rows * V));
    for (auto& v : x) v = normal(rng);
    for (std::int64_t r = 0; r < rows; ++r) x[static_cast<std::size_t>(r * V)] = -INFINITY;
    std::vector<std::int32_t> t(static_cast<std::size_t>(rows));
    for (std::int64_t r = 0; r < rows; ++r) t[static_cast<std::size_t>(r)] = static_cast<std::int32_t>((r * 7919) % V);
    if (rows > 1) t[1] = -1;
    std::vector<float> want(t.size());
    log_softmax_gather_cpu(x.data(), ScalarType::kFloat32, rows, V, V, t.data(), want.data());
    Device<float> dx(x), dout(std::vector<float>(t.size()));
    Device<std::int32_t> dt(t);
    log_softmax_gather_cuda(dx.p, ScalarType::kFloat32, rows, V, V, dt.p, dout.p);
    auto got = dout.get(t.size());
    for (std::size_t i = 0; i < t.size(); ++i) CHECK(got[i] == Approx(want[i]).margin(1e-4));
    std::vector<std::uint16_t> xb(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) xb[i] = to_bf16(x[i]);
    log_softmax_gather_cpu(xb.data(), ScalarType::kBFloat16, rows, V, V, t.data(), want.data());
    Device<std::uint16_t> dxb(xb);
    log_softmax_gather_cuda(dxb.p, ScalarType::kBFloat16, rows, V, V, dt.p, dout.p);
    got = dout.get(t.size());
    for (std::size_t i = 0; i < t.size(); ++i) CHECK(got[i] == Approx(want[i]).margin(1e-4));
  }
}

TEST_CASE("cuda: fused LM-head log-probs and PRM pair scores match the CPU versions", "[cuda][scoring]") {
  if (skip()) return;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const auto& [n, d, V] : std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>>{{1, 1, 1}, {17, 40, 1001}, {64, 128, 32000}}) {
    INFO("n " << n << " d " << d << " V " << V);
    std::vector<float> h(static_cast<std::size_t>(n * d)), w(static_cast<std::size_t>(V * d));
    for (auto& v : h) v = normal(rng);
    for (auto& v : w) v = 0.3f * normal(rng);
    std::vector<std::int32_t> t(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) t[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 104729) % V);
    if (n > 2) t[2] = -1;
    std::vector<float> want(t.size());
    lm_head_logprobs_cpu(h.data(), w.data(), n, d, V, t.data(), want.data());
    Device<float> dh(h), dw(w), dout(std::vector<float>(t.size()));
    Device<std::int32_t> dt(t);
    lm_head_logprobs_cuda(dh.p, dw.p, n, d, V, dt.p, dout.p);
    const auto got = dout.get(t.size());
    for (std::size_t i = 0; i < t.size(); ++i) CHECK(got[i] == Approx(want[i]).margin(1e-3));
    // pair scores at a few positions, with the first two weight rows as the pair
    std::vector<std::int64_t> pos;
    for (std::int64_t i = 0; i < n; i += 3) pos.push_back(i);
    std::vector<float> ps(pos.size());
    pair_scores_cpu(h.data(), n, d, pos.data(), static_cast<std::int64_t>(pos.size()), w.data(), w.data() + (V > 1 ? d : 0), 0.1f, -0.2f, ps.data());
    Device<std::int64_t> dp(pos);
    Device<float> dps(std::vector<float>(pos.size()));
    pair_scores_cuda(dh.p, n, d, dp.p, static_cast<std::int64_t>(pos.size()), dw.p, dw.p + (V > 1 ? d : 0), 0.1f, -0.2f, dps.p);
    const auto got_ps = dps.get(pos.size());
    for (std::size_t i = 0; i < pos.size(); ++i) CHECK(got_ps[i] == Approx(ps[i]).margin(1e-5));
  }
}

TEST_CASE("cuda: batched sampling picks the CPU version's tokens (fp32 / bf16 - top-k / top-p / min-p / greedy / invalid rows)", "[cuda][sampling]") {
  if (skip()) return;
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  const std::vector<SampleRow> settings = {{.temperature = 1.0f}, {.temperature = 0.0f}, {.temperature = 0.7f, .top_k = 20},
                                           {.temperature = 1.0f, .top_p = 0.9f}, {.temperature = 0.8f, .top_p = 0.95f, .min_p = 0.02f, .top_k = 50},
                                           {.temperature = 1.3f, .min_p = 0.1f}, {.temperature = 1.0f, .top_k = 1}};
  for (const auto& [rows, V] : std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {7, 13}, {64, 1001}, {64, 151936}}) {
    INFO("rows " << rows << " V " << V);
    std::vector<float> x(static_cast<std::size_t>(rows * V));
    for (auto& v : x) v = normal(rng);
    for (std::int64_t r = 0; r + 1 < rows; r += 5) x[static_cast<std::size_t>(r * V + (r % V))] = -INFINITY;
    if (rows > 3) x[static_cast<std::size_t>(3 * V)] = std::nanf("");  // row 3 has no distribution
    std::vector<SampleRow> params(static_cast<std::size_t>(rows));
    for (std::size_t r = 0; r < params.size(); ++r) {
      params[r] = settings[r % settings.size()];
      params[r].uniform = unif(rng);
    }
    for (const bool bf16 : {false, true}) {
      std::vector<std::uint16_t> xb(x.size());
      for (std::size_t i = 0; i < x.size(); ++i) xb[i] = to_bf16(x[i]);
      const void* host = bf16 ? static_cast<const void*>(xb.data()) : static_cast<const void*>(x.data());
      const auto type = bf16 ? ScalarType::kBFloat16 : ScalarType::kFloat32;
      std::vector<std::int32_t> want(params.size());
      std::vector<float> want_lp(params.size());
      sample_rows_cpu(host, type, rows, V, V, params.data(), want.data(), want_lp.data());
      Device<float> dx(x);
      Device<std::uint16_t> dxb(xb);
      Device<SampleRow> dp(params);
      Device<std::int32_t> dt(std::vector<std::int32_t>(params.size()));
      Device<float> dl(std::vector<float>(params.size()));
      sample_rows_cuda(bf16 ? static_cast<const void*>(dxb.p) : static_cast<const void*>(dx.p), type, rows, V, V, dp.p, dt.p, dl.p);
      const auto got = dt.get(params.size());
      const auto got_lp = dl.get(params.size());
      int same = 0;
      for (std::size_t r = 0; r < params.size(); ++r) {
        same += got[r] == want[r];
        if (want[r] < 0) {
          CHECK(got[r] == -1);
          CHECK(std::isnan(got_lp[r]));
        } else if (got[r] == want[r]) {
          CHECK(got_lp[r] == Approx(want_lp[r]).margin(1e-4));
        }
      }
      // sums run in another order: a draw within rounding of a boundary may pick the neighbour
      CHECK(same >= static_cast<int>(params.size()) - 1);
    }
  }
}
