// The batched sampler's CPU version (include/ttsearch/cuda/sampling.hpp) against an independent
// reference written the way Hugging Face's warpers read (softmax in double, sort, top-k with ties,
// cumulative top-p, min-p), token by token for given draws, plus empirical frequencies and every
// invalid-row case. The CUDA version is checked against this one in test_scoring_cuda.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include <ttsearch/core/rng.hpp>
#include <ttsearch/cuda/sampling.hpp>

using namespace ttsearch::cuda;

namespace {

/// The probabilities after temperature / top-k / top-p / min-p, in double, by sorting.
std::vector<double> reference_probs(const std::vector<float>& x, const SampleRow& p) {
  const std::size_t n = x.size();
  const double m = *std::max_element(x.begin(), x.end());
  std::vector<double> w(n);
  for (std::size_t i = 0; i < n; ++i) w[i] = std::exp((static_cast<double>(x[i]) - m) / p.temperature);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] > x[b]; });
  std::vector<bool> keep(n, true);
  if (p.top_k > 0 && static_cast<std::size_t>(p.top_k) < n) {
    const float kth = x[order[static_cast<std::size_t>(p.top_k - 1)]];
    for (std::size_t i = 0; i < n; ++i) keep[i] = x[i] >= kth;
  }
  if (p.top_p < 1.0f) {
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) total += keep[i] ? w[i] : 0;
    double cum = 0;
    float cut = -INFINITY;
    for (std::size_t j = 0; j < n; ++j) {
      if (!keep[order[j]]) continue;
      cum += w[order[j]];
      const bool group_ends = j + 1 == n || x[order[j + 1]] != x[order[j]];
      if (group_ends && cum >= p.top_p * total) {
        cut = x[order[j]];
        break;
      }
    }
    for (std::size_t i = 0; i < n; ++i) keep[i] = keep[i] && x[i] >= cut;
  }
  for (std::size_t i = 0; i < n; ++i) keep[i] = keep[i] && w[i] >= p.min_p;
  double z = 0;
  for (std::size_t i = 0; i < n; ++i) z += keep[i] ? w[i] : 0;
  std::vector<double> prob(n);
  for (std::size_t i = 0; i < n; ++i) prob[i] = keep[i] ? w[i] / z : 0;
  return prob;
}

std::int32_t sample_one(const std::vector<float>& x, const SampleRow& p, float* logprob = nullptr) {
  std::int32_t tok = -2;
  float lp = 0;
  sample_rows_cpu(x.data(), ScalarType::kFloat32, 1, static_cast<std::int64_t>(x.size()), static_cast<std::int64_t>(x.size()), &p, &tok, &lp);
  if (logprob) *logprob = lp;
  return tok;
}

std::vector<float> random_logits(std::size_t n, std::uint32_t seed, float scale = 3.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> x(n);
  for (auto& v : x) v = normal(rng);
  return x;
}

}  // namespace

TEST_CASE("sample_rows: the token for a draw is the reference inverse CDF in id order", "[sampling]") {
  const std::vector<SampleRow> settings = {
      {.temperature = 1.0f}, {.temperature = 0.6f}, {.temperature = 1.0f, .top_k = 5}, {.temperature = 0.8f, .top_p = 0.9f},
      {.temperature = 1.0f, .min_p = 0.05f}, {.temperature = 0.7f, .top_p = 0.95f, .min_p = 0.01f, .top_k = 40},
  };
  int checked = 0;
  for (std::uint32_t seed = 0; seed < 6; ++seed) {
    auto x = random_logits(seed % 2 ? 997 : 64, seed);
    x[3] = x[7] = x[11];  // ties
    x[5] = -INFINITY;
    for (const SampleRow& base : settings) {
      const auto prob = reference_probs(x, base);
      for (double u = 0.0005; u < 1.0; u += 0.0173) {
        // the reference token: the first id whose running probability exceeds u
        double cum = 0;
        std::size_t want = 0;
        bool near_boundary = false;
        for (std::size_t i = 0; i < prob.size(); ++i) {
          if (prob[i] == 0) continue;
          cum += prob[i];
          near_boundary |= std::abs(cum - u) < 1e-6;
          want = i;
          if (cum > u) break;
        }
        if (near_boundary) continue;
        SampleRow p = base;
        p.uniform = u;
        INFO("seed " << seed << " T " << p.temperature << " k " << p.top_k << " p " << p.top_p << " min_p " << p.min_p << " u " << u);
        CHECK(sample_one(x, p) == static_cast<std::int32_t>(want));
        ++checked;
      }
    }
  }
  CHECK(checked > 1500);
}

TEST_CASE("sample_rows: empirical frequencies match the filtered distribution", "[sampling]") {
  const std::vector<float> x = {0.0f, std::log(2.0f), std::log(3.0f), -1e9f, std::log(3.0f)};  // 1, 2, 3, 0, 3 over 9
  ttsearch::Rng rng(7);
  auto freq = [&](SampleRow p) {
    std::vector<double> f(x.size(), 0);
    const int n = 40000;
    for (int i = 0; i < n; ++i) {
      p.uniform = rng.uniform();
      f[static_cast<std::size_t>(sample_one(x, p))] += 1.0 / n;
    }
    return f;
  };
  auto f = freq({.temperature = 1.0f});
  CHECK(f[0] == Approx(1.0 / 9).margin(0.01));
  CHECK(f[1] == Approx(2.0 / 9).margin(0.01));
  CHECK(f[2] == Approx(3.0 / 9).margin(0.01));
  CHECK(f[3] == 0);
  f = freq({.temperature = 0.5f});  // squares: 1, 4, 9, 0, 9 over 23
  CHECK(f[2] == Approx(9.0 / 23).margin(0.01));
  CHECK(f[0] == Approx(1.0 / 23).margin(0.01));
  f = freq({.temperature = 1.0f, .top_k = 1});  // the two tied top logits are both kept
  CHECK(f[0] + f[1] + f[3] == 0);
  CHECK(f[2] == Approx(0.5).margin(0.01));
  f = freq({.temperature = 1.0f, .top_p = 0.5f});  // the tied pair (6/9) is the smallest nucleus reaching 0.5
  CHECK(f[1] == 0);
  CHECK(f[4] == Approx(0.5).margin(0.01));
  f = freq({.temperature = 1.0f, .top_p = 0.7f});  // 6/9 < 0.7: the next group (2/9) joins
  CHECK(f[0] == 0);
  CHECK(f[1] == Approx(0.25).margin(0.01));
  f = freq({.temperature = 1.0f, .min_p = 0.5f});  // w >= 0.5 x the top: 2 and 3 (w 2/3, 1), not 1 (w 1/3)
  CHECK(f[0] == 0);
  CHECK(f[1] == Approx(0.25).margin(0.01));
}

TEST_CASE("sample_rows: greedy / logprob / dtypes / row stride / rows are independent", "[sampling]") {
  const std::vector<float> x = {1.0f, 4.0f, -2.0f, 4.0f, 0.5f};
  float lp = 0;
  CHECK(sample_one(x, {.temperature = 0.0f}, &lp) == 1);  // ties: the lowest id
  double z = 0;
  for (float v : x) z += std::exp(static_cast<double>(v));
  CHECK(lp == Approx(4.0 - std::log(z)).margin(1e-5));
  CHECK(sample_one(x, {.temperature = -1.0f}) == 1);
  CHECK(sample_one({2.5f}, {.uniform = 0.99, .temperature = 1.0f}) == 0);
  // three rows of 997 logits, 1003 apart, in fp32 / bf16 / fp16: each row as if it were alone
  const std::int64_t V = 997, stride = 1003, rows = 3;
  std::vector<float> all(static_cast<std::size_t>(rows * stride), 1e9f);  // the gaps would win if read
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto row = random_logits(static_cast<std::size_t>(V), 100 + static_cast<std::uint32_t>(r));
    std::copy(row.begin(), row.end(), all.begin() + r * stride);
  }
  const std::vector<SampleRow> params = {{.uniform = 0.3, .temperature = 1.0f}, {.uniform = 0.9, .temperature = 0.5f, .top_k = 10},
                                         {.uniform = 0.1, .temperature = 0.0f}};
  std::vector<std::int32_t> tok(3);
  std::vector<float> lps(3);
  sample_rows_cpu(all.data(), ScalarType::kFloat32, rows, V, stride, params.data(), tok.data(), lps.data());
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::vector<float> row(all.begin() + r * stride, all.begin() + r * stride + V);
    float alone_lp = 0;
    CHECK(tok[static_cast<std::size_t>(r)] == sample_one(row, params[static_cast<std::size_t>(r)], &alone_lp));
    CHECK(lps[static_cast<std::size_t>(r)] == alone_lp);
  }
  // bf16 / fp16 rows give the tokens of their fp32 values
  std::vector<std::uint16_t> bf(all.size()), hf(all.size());
  std::vector<float> bf_back(all.size()), hf_back(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    bf[i] = static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(all[i]) >> 16);
    bf_back[i] = bf16_to_float(bf[i]);
    const float small = std::clamp(all[i], -60000.0f, 60000.0f);  // fp16 range
    hf[i] = 0;
    // fp16 by truncation of an fp32 in range (normal numbers only here)
    const std::uint32_t b = std::bit_cast<std::uint32_t>(small);
    const std::int32_t e = static_cast<std::int32_t>((b >> 23) & 0xFF) - 127 + 15;
    hf[i] = e <= 0 ? static_cast<std::uint16_t>((b >> 16) & 0x8000u)
                   : static_cast<std::uint16_t>(((b >> 16) & 0x8000u) | (static_cast<std::uint32_t>(e) << 10) | ((b >> 13) & 0x3FFu));
    hf_back[i] = f16_to_float(hf[i]);
  }
  std::vector<std::int32_t> want(3), got(3);
  sample_rows_cpu(bf_back.data(), ScalarType::kFloat32, rows, V, stride, params.data(), want.data(), nullptr);
  sample_rows_cpu(bf.data(), ScalarType::kBFloat16, rows, V, stride, params.data(), got.data(), nullptr);
  CHECK(got == want);
  sample_rows_cpu(hf_back.data(), ScalarType::kFloat32, rows, V, stride, params.data(), want.data(), nullptr);
  sample_rows_cpu(hf.data(), ScalarType::kFloat16, rows, V, stride, params.data(), got.data(), nullptr);
  CHECK(got == want);
}

TEST_CASE("sample_rows: rows without a distribution give -1 / -inf logits are never drawn / bad shapes throw", "[sampling]") {
  const float nan = std::nanf("");
  for (const auto& x : std::vector<std::vector<float>>{{1.0f, nan, 2.0f}, {1.0f, INFINITY}, {-INFINITY, -INFINITY}}) {
    float lp = 0;
    CHECK(sample_one(x, {.uniform = 0.5, .temperature = 1.0f}, &lp) == -1);
    CHECK(std::isnan(lp));
    CHECK(sample_one(x, {.temperature = 0.0f}) == -1);
  }
  const std::vector<float> x = {-INFINITY, 0.0f, -INFINITY, 0.0f, -INFINITY};
  for (double u : {0.0, 0.25, 0.5, 0.75, 0.999999}) {
    const auto t = sample_one(x, {.uniform = u, .temperature = 2.0f});
    CHECK((t == 1 || t == 3));
  }
  std::int32_t tok = 0;
  SampleRow p;
  CHECK_THROWS_WITH(sample_rows_cpu(x.data(), ScalarType::kFloat32, 1, 5, 4, &p, &tok, nullptr), Catch::Contains("bad shape"));
  CHECK_THROWS_WITH(sample_rows_cpu(x.data(), ScalarType::kFloat32, 1, 0, 5, &p, &tok, nullptr), Catch::Contains("bad shape"));
}
