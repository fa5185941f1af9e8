#pragma once
/// The policy's own certainty as a signal (DeepConf, Fu et al., arXiv 2508.15260;
/// ../shared/reference/budget.md section 1).
///
/// Per generated token t (recorded on the Step when SamplingParams::token_confidence is on):
///   token log-prob   l_t = log p(token_t)                       (temperature 1, the model's own distribution)
///   token confidence C_t = -(1/k) sum_{j<=k} log P_t(j)         (the top-k candidates' log-probs; k = 20;
///                                                                high = a peaked distribution)
/// Log-probs below kConfidenceLogprobFloor (e.g. -inf for masked tokens) count as the floor, as vLLM
/// returns -9999 for them, so C stays finite.
///
/// Per trace (a root-to-leaf path; per-token values are concatenated across step boundaries, so
/// every summary is exact whatever the step split):
///   mean          mean of all C_t;
///   group g_i     mean of C over the sliding window of w tokens ending at token i (w = 2048); a trace
///                 shorter than w is one group, the mean of all its tokens;
///   lowest group  min_i g_i (DeepConf's `min_conf`, the online method's signal and vote weight);
///   bottom-10%    mean of the lowest max(1, floor(0.1 * #groups)) groups;
///   tail          mean of the last min(w, T) token confidences;
///   min logprob   min_t l_t (the single least likely token sampled);
///   mean logprob  mean of l_t; sum logprob = the path's summed Step::logprob.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include "ttsearch/core/tree.hpp"

namespace ttsearch {

/// DeepConf's top-k (vLLM `logprobs=20`).
inline constexpr std::int32_t kDeepConfTopK = 20;
/// DeepConf's group (sliding window) size in tokens.
inline constexpr std::int64_t kDeepConfWindow = 2048;
/// Log-probs below this count as this (vLLM returns -9999.0 for -inf).
inline constexpr double kConfidenceLogprobFloor = -9999.0;

/// C = -mean of the top-k log-probs of one token position, from those log-probs (any order).
inline double token_confidence_from_logprobs(std::span<const double> top_logprobs) {
  if (top_logprobs.empty()) return 0.0;
  double s = 0;
  for (double l : top_logprobs) s += std::max(std::isnan(l) ? kConfidenceLogprobFloor : l, kConfidenceLogprobFloor);
  return -s / static_cast<double>(top_logprobs.size());
}

/// Every trace-level summary of one path (see the file comment).
struct TraceConfidence {
  std::int64_t tokens = 0;        ///< tokens with recorded values
  double mean = 0;
  double lowest_group = 0;
  double bottom10 = 0;
  double tail = 0;
  double min_logprob = 0;
  double mean_logprob = 0;
  double sum_logprob = 0;         ///< summed Step::logprob (available without per-token values)
  bool has_tokens = false;        ///< per-token values were recorded on every step with tokens
};

/// The signals a strategy or verifier can read from a trace.
enum class ConfidenceSignal : std::uint8_t {
  kMean,         ///< DeepConf mean token confidence
  kLowestGroup,  ///< DeepConf lowest group confidence (min_conf)
  kBottom10,     ///< DeepConf bottom-10% group confidence
  kTail,         ///< DeepConf tail confidence
  kMinLogprob,   ///< the lowest sampled-token log-prob
  kMeanLogprob,  ///< the mean sampled-token log-prob
  kSumLogprob,   ///< the path's summed log-prob (needs no per-token values)
};

constexpr std::string_view to_string(ConfidenceSignal s) noexcept {
  switch (s) {
    case ConfidenceSignal::kMean: return "mean";
    case ConfidenceSignal::kLowestGroup: return "lowest-group";
    case ConfidenceSignal::kBottom10: return "bottom-10";
    case ConfidenceSignal::kTail: return "tail";
    case ConfidenceSignal::kMinLogprob: return "min-logprob";
    case ConfidenceSignal::kMeanLogprob: return "mean-logprob";
    case ConfidenceSignal::kSumLogprob: return "sum-logprob";
  }
  return "?";
}

inline ConfidenceSignal parse_confidence_signal(std::string_view s) {
  for (auto v : {ConfidenceSignal::kMean, ConfidenceSignal::kLowestGroup, ConfidenceSignal::kBottom10, ConfidenceSignal::kTail,
                 ConfidenceSignal::kMinLogprob, ConfidenceSignal::kMeanLogprob, ConfidenceSignal::kSumLogprob}) {
    if (s == to_string(v)) return v;
  }
  throw InvalidArgument(fmt::format(
      "unknown confidence signal '{}' (expected mean, lowest-group, bottom-10, tail, min-logprob, mean-logprob or sum-logprob)", s));
}

inline void to_json(Json& j, ConfidenceSignal s) { j = std::string(to_string(s)); }
inline void from_json(const Json& j, ConfidenceSignal& s) { s = parse_confidence_signal(j.get<std::string>()); }

/// Scores closer than this (relative, at least absolute) are ties. A model's numbers move by
/// ~1e-5 with the batch's shape (BLAS blocking), and samples share their opening tokens, so a
/// lowest group often ties exactly in exact arithmetic: rules that cut at a threshold treat
/// values within the tolerance as equal, so a choice does not depend on what else was in the batch.
inline constexpr double kConfidenceTieTolerance = 1e-4;

/// x is below `threshold` by more than the tie tolerance.
inline bool clearly_below(double x, double threshold) noexcept {
  return x < threshold - kConfidenceTieTolerance * std::max(1.0, std::fabs(threshold));
}

/// True when the signal needs per-token values (everything but sum-logprob).
constexpr bool needs_token_values(ConfidenceSignal s) noexcept { return s != ConfidenceSignal::kSumLogprob; }

/// Summaries from per-token confidences and log-probs (equal lengths, or `logprobs` empty).
inline TraceConfidence trace_confidence(std::span<const float> conf, std::span<const float> logprobs, std::int64_t window) {
  TTSEARCH_REQUIRE(window >= 1, "confidence window must be >= 1 (got {})", window);
  TraceConfidence t;
  t.tokens = static_cast<std::int64_t>(conf.size());
  t.has_tokens = true;
  if (!logprobs.empty()) {
    double mn = 0, s = 0;
    for (std::size_t i = 0; i < logprobs.size(); ++i) {
      mn = i == 0 ? logprobs[i] : std::min<double>(mn, logprobs[i]);
      s += logprobs[i];
    }
    t.min_logprob = mn;
    t.mean_logprob = s / static_cast<double>(logprobs.size());
  }
  if (conf.empty()) return t;
  const auto n = static_cast<std::int64_t>(conf.size());
  double total = 0;
  for (float c : conf) total += c;
  t.mean = total / static_cast<double>(n);
  const std::int64_t w = std::min(window, n);
  std::vector<double> groups;
  if (n <= window) {
    groups.push_back(t.mean);
  } else {
    groups.reserve(static_cast<std::size_t>(n - w + 1));
    double run = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      run += conf[static_cast<std::size_t>(i)];
      if (i >= w) run -= conf[static_cast<std::size_t>(i - w)];
      if (i >= w - 1) groups.push_back(run / static_cast<double>(w));
    }
  }
  t.lowest_group = *std::min_element(groups.begin(), groups.end());
  const std::size_t bottom = std::max<std::size_t>(1, groups.size() / 10);
  std::partial_sort(groups.begin(), groups.begin() + static_cast<std::ptrdiff_t>(bottom), groups.end());
  double b = 0;
  for (std::size_t i = 0; i < bottom; ++i) b += groups[i];
  t.bottom10 = b / static_cast<double>(bottom);
  double tail = 0;
  for (std::int64_t i = n - w; i < n; ++i) tail += conf[static_cast<std::size_t>(i)];
  t.tail = tail / static_cast<double>(w);
  return t;
}

/// True when the step carries one log-prob and one confidence per token (or has no tokens).
inline bool has_token_values(const Step& s) noexcept {
  const auto n = static_cast<std::size_t>(s.num_tokens);
  return n == 0 || (s.token_confidences.size() == n && s.token_logprobs.size() == n);
}

/// Summaries of a whole path. has_tokens is false when a step with tokens has no per-token values
/// (sampled with token_confidence off); sum_logprob is always set.
inline TraceConfidence trace_confidence(const PathView& path, std::int64_t window = kDeepConfWindow) {
  std::vector<float> conf, lps;
  bool complete = true;
  double sum = 0;
  for (const Step& s : path) {
    sum += s.logprob;
    complete = complete && has_token_values(s);
    conf.insert(conf.end(), s.token_confidences.begin(), s.token_confidences.end());
    lps.insert(lps.end(), s.token_logprobs.begin(), s.token_logprobs.end());
  }
  TraceConfidence t;
  if (complete) t = trace_confidence(conf, lps.size() == conf.size() ? std::span<const float>(lps) : std::span<const float>(), window);
  t.has_tokens = complete;
  t.sum_logprob = sum;
  return t;
}

/// The value of `signal` in `t`.
inline double signal_value(const TraceConfidence& t, ConfidenceSignal signal) {
  switch (signal) {
    case ConfidenceSignal::kMean: return t.mean;
    case ConfidenceSignal::kLowestGroup: return t.lowest_group;
    case ConfidenceSignal::kBottom10: return t.bottom10;
    case ConfidenceSignal::kTail: return t.tail;
    case ConfidenceSignal::kMinLogprob: return t.min_logprob;
    case ConfidenceSignal::kMeanLogprob: return t.mean_logprob;
    case ConfidenceSignal::kSumLogprob: return t.sum_logprob;
  }
  return 0.0;
}

/// The summaries of a path for reading `signal`; throws InvalidArgument when the signal needs
/// per-token values the path's steps do not carry.
inline TraceConfidence checked_trace_confidence(const PathView& path, ConfidenceSignal signal, std::int64_t window) {
  TraceConfidence t = trace_confidence(path, window);
  if (needs_token_values(signal) && !t.has_tokens) {
    throw InvalidArgument(fmt::format("confidence signal '{}' needs per-token values: sample with sampling.token_confidence = true",
                                      to_string(signal)));
  }
  return t;
}

/// `signal` of a path (see checked_trace_confidence).
inline double path_signal(const PathView& path, ConfidenceSignal signal, std::int64_t window) {
  return signal_value(checked_trace_confidence(path, signal, window), signal);
}

/// DeepConf-online's per-sample early stop, one function for every generator: push each token's
/// confidence; `push` returns true once the last `window` confidences (a full window) have a mean
/// below `threshold` by more than the tie tolerance (a trace shorter than the window is never
/// stopped, as in DeepConf's processor).
class ConfidenceWindow {
 public:
  ConfidenceWindow(double threshold, std::int64_t window) : threshold_(threshold), window_(window) {}
  bool push(double c) {
    values_.push_back(c);
    sum_ += c;
    if (static_cast<std::int64_t>(values_.size()) > window_) {
      sum_ -= values_.front();
      values_.pop_front();
    }
    // recompute the sum now and then: a running sum drifts over long traces
    if (++since_exact_ >= 4096) {
      sum_ = 0;
      for (double v : values_) sum_ += v;
      since_exact_ = 0;
    }
    return static_cast<std::int64_t>(values_.size()) == window_ && clearly_below(sum_ / static_cast<double>(window_), threshold_);
  }

 private:
  double threshold_;
  std::int64_t window_;
  std::deque<double> values_;
  double sum_ = 0;
  std::int64_t since_exact_ = 0;
};

}  // namespace ttsearch
