#pragma once
/// ConfidenceVerifier: the policy's own certainty as a process verifier, with no model to run.
///
/// Rule: the score of step i of a path is a confidence signal (core/confidence.hpp) of the path's
/// prefix ending at step i, so best-of-N, the votes, beam search, DVTS, REBASE and MCTS can all be
/// guided by it like a PRM (aggregation "last" reads the whole path's signal):
///   mean-logprob  exp(mean token log-prob): the geometric-mean token probability, in (0, 1] (default)
///   min-logprob   exp(min token log-prob): the least likely token's probability, in (0, 1]
///   sum-logprob   the summed log-prob itself (<= 0; needs no per-token values)
///   mean, lowest-group, bottom-10, tail   DeepConf's confidences C (>= 0; higher = more confident)
/// In the arithmetic domain errors come from sampling unlikely tokens at T = 1; the prototype
/// measured the policy's summed log-prob ranking a correct above an incorrect sample of the same
/// problem in 0.88 of pairs (../shared/reference/arith.md), against 0.54 for the learned PRM.
/// Every signal but sum-logprob needs the generator to have sampled with
/// SamplingParams::token_confidence (the verifier throws InvalidArgument saying so otherwise).
/// Costs no verifier tokens: Scoring::tokens is 0 for every path.
#include <cmath>
#include <span>
#include <vector>

#include "ttsearch/core/concepts.hpp"
#include "ttsearch/core/confidence.hpp"

namespace ttsearch {

struct ConfidenceVerifierOptions {
  ConfidenceSignal signal = ConfidenceSignal::kMeanLogprob;
  std::int64_t window = kDeepConfWindow;  ///< group size of the DeepConf group signals

  void validate() const { TTSEARCH_REQUIRE(window >= 1, "confidence verifier: window must be >= 1 (got {})", window); }
};

/// The score a ConfidenceVerifier gives a trace summary (see the table above).
inline double confidence_score(const TraceConfidence& t, ConfidenceSignal signal) {
  switch (signal) {
    case ConfidenceSignal::kMeanLogprob: return std::exp(t.mean_logprob);
    case ConfidenceSignal::kMinLogprob: return std::exp(t.min_logprob);
    default: return signal_value(t, signal);
  }
}

class ConfidenceVerifier {
 public:
  explicit ConfidenceVerifier(ConfidenceVerifierOptions o = {}) : o_(o) { o_.validate(); }

  Scoring score(std::span<const ScoreRequest> requests) const {
    Scoring out;
    out.scores.reserve(requests.size());
    out.tokens.assign(requests.size(), 0);
    std::vector<float> conf, lps;
    for (std::size_t r = 0; r < requests.size(); ++r) {
      const PathView& path = requests[r].path;
      conf.clear();
      lps.clear();
      double sum = 0;
      std::vector<double> scores;
      for (std::size_t i = 0; i < path.size(); ++i) {
        const Step& s = path[i];
        if (needs_token_values(o_.signal) && !has_token_values(s)) {
          throw InvalidArgument(fmt::format(
              "confidence verifier: step {} of path {} has no per-token values for signal '{}' (sample with sampling.token_confidence = true)",
              i, r, to_string(o_.signal)));
        }
        sum += s.logprob;
        conf.insert(conf.end(), s.token_confidences.begin(), s.token_confidences.end());
        lps.insert(lps.end(), s.token_logprobs.begin(), s.token_logprobs.end());
        TraceConfidence t = needs_token_values(o_.signal) ? trace_confidence(conf, lps, o_.window) : TraceConfidence{};
        t.sum_logprob = sum;
        scores.push_back(confidence_score(t, o_.signal));
      }
      if (scores.empty()) scores.push_back(confidence_score(TraceConfidence{}, o_.signal));  // the empty path
      out.scores.push_back(std::move(scores));
    }
    return out;
  }

  /// {"kind": "confidence", "signal", "window"}: the audit trace records it and replay recomputes
  /// every score from the trace's token values.
  [[nodiscard]] Json describe() const {
    return Json{{"kind", "confidence"}, {"signal", to_string(o_.signal)}, {"window", o_.window}};
  }

  /// It reads no model: a call costs no verifier tokens (so a verifier-token budget never stops it).
  std::int64_t estimate_tokens(std::span<const ScoreRequest>) const noexcept { return 0; }

  [[nodiscard]] const ConfidenceVerifierOptions& options() const noexcept { return o_; }

 private:
  ConfidenceVerifierOptions o_;
};

static_assert(VerifierWithCost<ConfidenceVerifier> && DescribedVerifier<ConfidenceVerifier>);

}  // namespace ttsearch
