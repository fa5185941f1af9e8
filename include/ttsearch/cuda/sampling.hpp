#pragma once
/// (4) Batched token sampling: temperature, top-k, top-p (nucleus), min-p and greedy for many rows
/// of logits at once, with one uniform draw per row supplied by the caller, so the random stream
/// stays on the host (ttsearch::Rng, one per request) and the CPU and CUDA versions map the same
/// draw to the same token. A header-only CPU implementation here; the CUDA one with the same
/// arguments in `ttsearch::cuda` (cuda/scoring_kernels.cu). This header never includes CUDA headers.
///
/// The rule, per row of logits x_0..x_{V-1} (Hugging Face's warper order: temperature, top-k,
/// top-p, min-p):
///   temperature <= 0: argmax (ties: the lowest id);
///   w_i = exp((x_i - max x) / temperature);
///   top-k (k > 0): keep x_i >= the k-th largest logit (ties at the boundary are all kept, as in
///     HF's TopKLogitsWarper);
///   top-p (p < 1): among those, keep x_i >= t, where t is the largest logit such that the kept
///     tokens with x >= t hold at least p of the kept mass (the smallest nucleus, ties kept);
///   min-p (m > 0): keep w_i >= m (w of the top token is 1);
///   then the inverse CDF in id order: the first kept id whose running mass exceeds u x (kept mass).
/// Sampling in id order (not probability order) is what lets a GPU pick the token with one prefix
/// sum instead of a sort; the distribution is the same.
/// logprob = log_softmax(x)[token] at temperature 1 over the row's `vocab` columns.
/// A row whose logits contain NaN or +inf, or are all -inf, has no distribution: token -1, logprob NaN.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "ttsearch/cuda/scoring.hpp"

namespace ttsearch::cuda {

/// One row's sampling parameters and its random draw (plain data: copied to the GPU as is).
struct SampleRow {
  double uniform = 0.0;      ///< in [0, 1): the row's draw for the inverse CDF
  float temperature = 1.0f;  ///< <= 0: greedy
  float top_p = 1.0f;        ///< (0, 1]; 1 = off
  float min_p = 0.0f;        ///< [0, 1); 0 = off
  std::int32_t top_k = 0;    ///< 0 = off
};

/// Samples one token per row: `logits` holds `rows` rows of `vocab` values, `row_stride` elements
/// apart; tokens[r] and (when not null) logprobs[r] receive the result (see the rule above).
inline void sample_rows_cpu(const void* logits, ScalarType type, std::int64_t rows, std::int64_t vocab, std::int64_t row_stride,
                            const SampleRow* params, std::int32_t* tokens, float* logprobs) {
  TTSEARCH_REQUIRE(rows >= 0 && vocab >= 1 && row_stride >= vocab, "sample_rows: bad shape (rows {}, vocab {}, stride {})", rows, vocab,
                   row_stride);
  constexpr float kInf = std::numeric_limits<float>::infinity();
  std::vector<float> x(static_cast<std::size_t>(vocab)), w(x.size()), sorted;
  for (std::int64_t r = 0; r < rows; ++r) {
    const SampleRow& p = params[r];
    float m = -kInf;
    std::int64_t arg = -1;
    bool bad = false;
    for (std::int64_t v = 0; v < vocab; ++v) {
      const float xv = load_element(logits, type, r * row_stride + v);
      x[static_cast<std::size_t>(v)] = xv;
      bad |= std::isnan(xv) || xv == kInf;
      if (xv > m) {
        m = xv;
        arg = v;
      }
    }
    if (bad || arg < 0) {
      tokens[r] = -1;
      if (logprobs) logprobs[r] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    std::int64_t token = arg;
    if (p.temperature > 0.0f) {
      for (std::size_t v = 0; v < x.size(); ++v) w[v] = std::exp((x[v] - m) / p.temperature);
      float threshold = -kInf;  // kept: x >= threshold (and w >= min_p)
      if (p.top_k > 0 && p.top_k < vocab) {
        sorted = x;
        std::nth_element(sorted.begin(), sorted.begin() + (p.top_k - 1), sorted.end(), std::greater<>());
        threshold = sorted[static_cast<std::size_t>(p.top_k - 1)];
      }
      if (p.top_p < 1.0f) {
        sorted.clear();
        double total = 0;
        for (std::size_t v = 0; v < x.size(); ++v) {
          if (x[v] >= threshold) {
            sorted.push_back(x[v]);
            total += w[v];
          }
        }
        // walk the largest logits in order until the mass reaches top_p; only the first `head`
        // are put in order (doubling until the nucleus fits: a nucleus is usually small)
        const double target = static_cast<double>(p.top_p) * total;
        for (std::size_t head = std::min<std::size_t>(256, sorted.size());; head = std::min(2 * head, sorted.size())) {
          const auto mid = sorted.begin() + static_cast<std::ptrdiff_t>(head);
          if (head < sorted.size()) std::nth_element(sorted.begin(), mid - 1, sorted.end(), std::greater<>());
          std::sort(sorted.begin(), mid, std::greater<>());
          double cum = 0;
          bool found = false;
          for (std::size_t i = 0; i < head && !found; ++i) {
            cum += std::exp((sorted[i] - m) / p.temperature);
            // a group of equal logits must be whole: at the last ordered element, only when nothing follows
            const bool group_ends = i + 1 < head ? sorted[i + 1] != sorted[i] : head == sorted.size();
            if (group_ends && cum >= target) {
              threshold = sorted[i];
              found = true;
            }
          }
          if (found || head == sorted.size()) break;
        }
      }
      auto kept = [&](std::size_t v) { return x[v] >= threshold && w[v] >= p.min_p; };
      double mass = 0;
      for (std::size_t v = 0; v < x.size(); ++v) mass += kept(v) ? w[v] : 0.0;
      const double target = p.uniform * mass;
      double cum = 0;
      std::int64_t last = arg;
      token = -1;
      for (std::size_t v = 0; v < x.size() && token < 0; ++v) {
        if (!kept(v) || w[v] == 0.0f) continue;
        cum += w[v];
        last = static_cast<std::int64_t>(v);
        if (cum > target) token = last;
      }
      if (token < 0) token = last;  // rounding: the last kept token
    }
    tokens[r] = static_cast<std::int32_t>(token);
    if (logprobs) {  // in double: a log-prob near 0 is a small difference of large numbers
      double z = 0;
      for (const float xv : x) z += std::exp(static_cast<double>(xv) - m);
      logprobs[r] = static_cast<float>(static_cast<double>(x[static_cast<std::size_t>(token)]) - m - std::log(z));
    }
  }
}

/// DeepConf token confidence per row (core/confidence.hpp): C = -(1/k') sum of the k' = min(k, vocab)
/// largest log_softmax values at temperature 1 over the row's first `vocab` columns, each log-prob
/// floored at -9999 (vLLM's value for -inf). A row with no distribution (NaN, +inf, all -inf) gives NaN.
inline void token_confidence_cpu(const void* logits, ScalarType type, std::int64_t rows, std::int64_t vocab, std::int64_t row_stride,
                                 std::int32_t k, float* out) {
  TTSEARCH_REQUIRE(rows >= 0 && vocab >= 1 && row_stride >= vocab && k >= 1, "token_confidence: bad shape (rows {}, vocab {}, stride {}, k {})",
                   rows, vocab, row_stride, k);
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const auto kk = static_cast<std::size_t>(std::min<std::int64_t>(k, vocab));
  std::vector<float> x(static_cast<std::size_t>(vocab));
  for (std::int64_t r = 0; r < rows; ++r) {
    float m = -kInf;
    bool bad = false;
    for (std::int64_t v = 0; v < vocab; ++v) {
      const float xv = load_element(logits, type, r * row_stride + v);
      x[static_cast<std::size_t>(v)] = xv;
      bad |= std::isnan(xv) || xv == kInf;
      m = std::max(m, xv);
    }
    if (bad || m == -kInf) {
      out[r] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    double z = 0;
    for (const float xv : x) z += std::exp(static_cast<double>(xv) - m);
    const double lse = static_cast<double>(m) + std::log(z);
    std::nth_element(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(kk - 1), x.end(), std::greater<>());
    double sum = 0;
    for (std::size_t i = 0; i < kk; ++i) sum += std::max(static_cast<double>(x[i]) - lse, -9999.0);
    out[r] = static_cast<float>(-sum / static_cast<double>(kk));
  }
}

#ifdef TTSEARCH_HAVE_CUDA_KERNELS
/// CUDA version (device pointers for logits, params, tokens, logprobs; `stream` a cudaStream_t or
/// nullptr). One block per row. Sums run in a different order than on the CPU, so a draw that
/// lands within rounding of a boundary can pick the neighbouring token.
void sample_rows_cuda(const void* logits, ScalarType type, std::int64_t rows, std::int64_t vocab, std::int64_t row_stride,
                      const SampleRow* params, std::int32_t* tokens, float* logprobs, void* stream = nullptr);
#endif

}  // namespace ttsearch::cuda
