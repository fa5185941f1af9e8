#pragma once
/// Fused scoring ops: the log-probability of given target ids without materialising log-softmax
/// output, the same straight from hidden states and the LM-head weight without materialising the
/// logits, and a PRM's two-row step scores. Each op has a CPU implementation here (header-only,
/// plain C++) and a CUDA one with the same arguments in the `ttsearch::cuda` target (cuda/*.cu,
/// built when CMake finds a CUDA compiler; device pointers, an optional cudaStream_t as void*).
/// This header never includes CUDA headers.
///
/// Numerics: every op accumulates in fp32 with an online log-sum-exp (running max m and sum s;
/// s <- s * exp(m - m') + exp(x - m') when the max grows), the single-pass form of
/// log_softmax(x)[t] = x[t] - m - log(sum_v exp(x_v - m)). -inf logits contribute nothing; a row
/// whose logits are all -inf gives -inf (no NaN). A negative target marks padding: its output is 0.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include <Eigen/Core>

#include "ttsearch/core/error.hpp"

namespace ttsearch::cuda {

enum class ScalarType : std::uint8_t { kFloat32, kBFloat16, kFloat16 };

constexpr std::size_t element_size(ScalarType t) noexcept { return t == ScalarType::kFloat32 ? 4 : 2; }

/// bf16 / fp16 bits to float (round-trip exact).
inline float bf16_to_float(std::uint16_t b) noexcept { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }
inline float f16_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
  if (exp == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (man << 13));  // inf / nan
  if (exp == 0) {                                                                   // zero / subnormal
    if (man == 0) return std::bit_cast<float>(sign);
    const float v = static_cast<float>(man) * 0x1p-24f;
    return sign ? -v : v;
  }
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (man << 13));
}

inline float load_element(const void* base, ScalarType t, std::int64_t i) noexcept {
  switch (t) {
    case ScalarType::kFloat32: return static_cast<const float*>(base)[i];
    case ScalarType::kBFloat16: return bf16_to_float(static_cast<const std::uint16_t*>(base)[i]);
    case ScalarType::kFloat16: return f16_to_float(static_cast<const std::uint16_t*>(base)[i]);
  }
  return 0.0f;
}

/// Running log-sum-exp of a stream of values (the combine rule both implementations use).
struct OnlineLse {
  float max = -std::numeric_limits<float>::infinity();
  float sum = 0.0f;
  void add(float x) noexcept {
    if (x == -std::numeric_limits<float>::infinity()) return;
    if (x > max) {
      sum = sum * std::exp(max - x) + 1.0f;
      max = x;
    } else {
      sum += std::exp(x - max);
    }
  }
  [[nodiscard]] float value() const noexcept {
    return sum == 0.0f ? -std::numeric_limits<float>::infinity() : max + std::log(sum);
  }
};

/// The log-prob of the target `t` given its logit and the row's log-sum-exp (-inf when impossible).
inline float target_logprob(float logit, float lse) noexcept {
  if (logit == -std::numeric_limits<float>::infinity()) return -std::numeric_limits<float>::infinity();
  return logit - lse;
}

/// (1) Fused log-softmax + gather. `logits` is `rows` rows of `vocab` values (`row_stride`
/// elements apart; rows = B x T for [B, T, V]); out[r] = log_softmax(logits[r])[targets[r]], or 0
/// where targets[r] < 0 (padding). Throws InvalidArgument on a target >= vocab.
inline void log_softmax_gather_cpu(const void* logits, ScalarType type, std::int64_t rows, std::int64_t vocab, std::int64_t row_stride,
                                   const std::int32_t* targets, float* out) {
  TTSEARCH_REQUIRE(rows >= 0 && vocab >= 1 && row_stride >= vocab, "log_softmax_gather: bad shape (rows {}, vocab {}, stride {})", rows,
                   vocab, row_stride);
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int32_t t = targets[r];
    TTSEARCH_REQUIRE(t < vocab, "log_softmax_gather: target {} of row {} is outside the vocabulary ({})", t, r, vocab);
    if (t < 0) {
      out[r] = 0.0f;
      continue;
    }
    OnlineLse lse;
    for (std::int64_t v = 0; v < vocab; ++v) lse.add(load_element(logits, type, r * row_stride + v));
    out[r] = target_logprob(load_element(logits, type, r * row_stride + t), lse.value());
  }
}

/// (2) Fused LM-head log-probs: hidden [n, d] and the LM-head weight [vocab, d] (fp32, row-major);
/// out[i] = log_softmax(hidden[i] . weight^T)[targets[i]] (0 where targets[i] < 0), computed over
/// vocabulary tiles of `tile` rows (one [n, tile] block product at a time, Eigen) with an online
/// log-sum-exp per row: O(n x tile) extra memory, never the [n, vocab] logits.
inline void lm_head_logprobs_cpu(const float* hidden, const float* weight, std::int64_t n, std::int64_t d, std::int64_t vocab,
                                 const std::int32_t* targets, float* out, std::int64_t tile = 1024) {
  TTSEARCH_REQUIRE(n >= 0 && d >= 1 && vocab >= 1 && tile >= 1, "lm_head_logprobs: bad shape (n {}, d {}, vocab {}, tile {})", n, d,
                   vocab, tile);
  using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const Matrix> h(hidden, n, d);
  std::vector<OnlineLse> lse(static_cast<std::size_t>(n));
  std::vector<float> target_logit(static_cast<std::size_t>(n), 0.0f);
  for (std::int64_t i = 0; i < n; ++i) {
    TTSEARCH_REQUIRE(targets[i] < vocab, "lm_head_logprobs: target {} of row {} is outside the vocabulary ({})", targets[i], i, vocab);
  }
  Matrix logits;
  for (std::int64_t v0 = 0; v0 < vocab; v0 += tile) {
    const std::int64_t cols = std::min(tile, vocab - v0);
    const Eigen::Map<const Matrix> w(weight + v0 * d, cols, d);
    logits.noalias() = h * w.transpose();  // [n, cols]
    for (std::int64_t i = 0; i < n; ++i) {
      const float* row = logits.data() + i * cols;
      for (std::int64_t c = 0; c < cols; ++c) lse[static_cast<std::size_t>(i)].add(row[c]);
      const std::int64_t t = targets[i];
      if (t >= v0 && t < v0 + cols) target_logit[static_cast<std::size_t>(i)] = row[t - v0];
    }
  }
  for (std::int64_t i = 0; i < n; ++i) {
    out[i] = targets[i] < 0 ? 0.0f : target_logprob(target_logit[static_cast<std::size_t>(i)], lse[static_cast<std::size_t>(i)].value());
  }
}

/// (3) PRM step scores from two rows: for each of `n` selected positions, the hidden state
/// hidden[positions[i]] ([rows, d] fp32) against the rows `good` and `bad` (d values each: two
/// LM-head rows of a "+"/"-" PRM, or the two output rows of a 2-class head applied to its input);
/// out[i] = softmax([h.good + bias_good, h.bad + bias_bad])[0] = sigmoid(difference).
inline void pair_scores_cpu(const float* hidden, std::int64_t rows, std::int64_t d, const std::int64_t* positions, std::int64_t n,
                            const float* good, const float* bad, float bias_good, float bias_bad, float* out) {
  TTSEARCH_REQUIRE(rows >= 0 && d >= 1 && n >= 0, "pair_scores: bad shape (rows {}, d {}, n {})", rows, d, n);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t p = positions[i];
    TTSEARCH_REQUIRE(p >= 0 && p < rows, "pair_scores: position {} is outside the {} hidden rows", p, rows);
    const float* h = hidden + p * d;
    float a = bias_good, b = bias_bad;
    for (std::int64_t k = 0; k < d; ++k) {
      a += h[k] * good[k];
      b += h[k] * bad[k];
    }
    out[i] = 1.0f / (1.0f + std::exp(b - a));
  }
}

#ifdef TTSEARCH_HAVE_CUDA_KERNELS
/// CUDA implementations (device pointers; `stream` is a cudaStream_t or nullptr for the default
/// stream). Same arguments and results as the CPU versions; they throw ttsearch::Error on a CUDA
/// error. Targets must be valid (< vocab) on the device: out-of-range targets give NaN.
void log_softmax_gather_cuda(const void* logits, ScalarType type, std::int64_t rows, std::int64_t vocab, std::int64_t row_stride,
                             const std::int32_t* targets, float* out, void* stream = nullptr);
void lm_head_logprobs_cuda(const float* hidden, const float* weight, std::int64_t n, std::int64_t d, std::int64_t vocab,
                           const std::int32_t* targets, float* out, void* stream = nullptr);
void pair_scores_cuda(const float* hidden, std::int64_t rows, std::int64_t d, const std::int64_t* positions, std::int64_t n,
                      const float* good, const float* bad, float bias_good, float bias_bad, float* out, void* stream = nullptr);
/// True when a CUDA device is usable from this process.
bool device_available() noexcept;
#endif

}  // namespace ttsearch::cuda
