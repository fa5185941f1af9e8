// The CUDA scoring kernels against their CPU versions (themselves checked against libtorch in
// test_scoring.cpp). Built when nvcc is found; every case skips when no GPU is present.
#include <catch2/catch.hpp>
#include <cuda_runtime.h>

#include <cmath>
#include <random>
#include <vector>

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
