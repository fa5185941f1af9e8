#pragma once
/// Adaptive sampling: each problem stops sampling once its answer is settled, so easy problems
/// cost a few samples and hard ones many (../shared/reference/budget.md section 2). Both
/// strategies sample in rounds (one generate call per round, merged across every problem of a
/// solve_batch by the driver) and stop each problem on its own; every generated token is charged
/// to the search's Budget, and a refused call ends the search with the vote so far.
///
/// Adaptive-Consistency (Aggarwal, Madaan, Yang, Mausam, EMNLP 2023, arXiv 2305.11860): samples
/// one at a time up to max_samples (40) and stops once the Beta criterion
///   P(Bin(a+b+1, 1/2) <= a) >= threshold (0.95)     (a, b: counts of the top two answers)
/// holds (budget/stopping.hpp); returns the majority. Since the rule cannot stop before
/// beta_min_samples(threshold) agreeing samples (4 at 0.95), the first round draws that many at
/// once; later rounds draw `batch` (1: exactly the sequential rule; more: fewer rounds, checked
/// after each round, so up to batch-1 extra samples).
///
/// Early-Stopping Self-Consistency (ESC; Li et al., ICLR 2024, arXiv 2401.10480): samples in
/// windows of w (5) up to max_samples (40); stops at the first window whose w answers are all
/// equivalent and returns that answer; otherwise the majority over every sample.
#include <algorithm>
#include <utility>

#include "ttsearch/budget/stopping.hpp"
#include "ttsearch/strategies/best_of_n.hpp"

namespace ttsearch {

struct AdaptiveConsistencyOptions {
  std::int32_t max_samples = 40;  ///< the cap (paper: 40)
  double threshold = 0.95;        ///< stop when P(leader is the mode) >= threshold (paper: 0.95)
  std::int32_t batch = 1;         ///< samples per round after the first (1 = the sequential rule)
  SamplingParams sampling = detail::whole_solution_sampling();

  void validate() const {
    TTSEARCH_REQUIRE(max_samples >= 1 && max_samples <= detail::kMaxSamples, "adaptive-consistency: max_samples must be in [1, {}] (got {})",
                     detail::kMaxSamples, max_samples);
    TTSEARCH_REQUIRE(threshold > 0.5 && threshold < 1.0, "adaptive-consistency: threshold must be in (0.5, 1) (got {})", threshold);
    TTSEARCH_REQUIRE(batch >= 1, "adaptive-consistency: batch must be >= 1 (got {})", batch);
    sampling.validate();
  }
  /// Samples in round r (0-based) when `drawn` have been drawn so far.
  [[nodiscard]] std::int32_t round_size(std::int32_t drawn) const {
    const auto first = static_cast<std::int32_t>(beta_min_samples(threshold, max_samples));
    return std::min(drawn == 0 ? first : batch, max_samples - drawn);
  }
};
TTSEARCH_OPTIONS_JSON(AdaptiveConsistencyOptions, "adaptive-consistency", max_samples, threshold, batch, sampling)

namespace detail {
/// ESC's sampling: whole solutions at the paper's T = 0.7.
inline SamplingParams esc_sampling() {
  SamplingParams p = whole_solution_sampling();
  p.temperature = 0.7;
  return p;
}
}  // namespace detail

struct EscOptions {
  std::int32_t window = 5;        ///< w (paper: 5)
  std::int32_t max_samples = 40;  ///< L (paper: 40)
  SamplingParams sampling = detail::esc_sampling();  ///< T = 0.7 (paper)

  void validate() const {
    TTSEARCH_REQUIRE(window >= 1 && window <= detail::kMaxSamples, "esc: window must be in [1, {}] (got {})", detail::kMaxSamples, window);
    TTSEARCH_REQUIRE(max_samples >= window && max_samples <= detail::kMaxSamples, "esc: max_samples must be in [window, {}] (got {})",
                     detail::kMaxSamples, max_samples);
    sampling.validate();
  }
};
TTSEARCH_OPTIONS_JSON(EscOptions, "esc", window, max_samples, sampling)

namespace detail {

inline std::vector<std::string> answers_of(std::span<const Candidate> cands) {
  std::vector<std::string> a;
  a.reserve(cands.size());
  for (const auto& c : cands) a.push_back(c.answer);
  return a;
}

}  // namespace detail

/// The number of samples after which Adaptive-Consistency stops on these answers (in sampling
/// order), or answers.size() when it never does.
inline std::size_t adaptive_consistency_stop_point(std::span<const std::string> answers, const AdaptiveConsistencyOptions& opt) {
  opt.validate();  // a round of 0 samples would never end
  std::int32_t drawn = 0;
  while (drawn < static_cast<std::int32_t>(answers.size())) {
    const std::int32_t k = opt.round_size(drawn);
    if (k <= 0) break;  // the cap
    drawn += k;
    drawn = std::min(drawn, static_cast<std::int32_t>(answers.size()));
    if (beta_should_stop(answers.first(static_cast<std::size_t>(drawn)), opt.threshold)) break;
  }
  return static_cast<std::size_t>(drawn);
}

/// ESC's stop point: the end of the first unanimous window, or answers.size().
inline std::size_t esc_stop_point(std::span<const std::string> answers, const EscOptions& opt) {
  opt.validate();  // a window of 0 would never end
  const auto w = static_cast<std::size_t>(opt.window);
  for (std::size_t end = w; end <= answers.size(); end += w) {
    if (esc_window_unanimous(answers, end, w)) return end;
  }
  return answers.size();
}

/// Adaptive-Consistency's answer: the majority of every sample.
inline VoteOutcome adaptive_consistency_outcome(std::span<const Candidate> cands, const AdaptiveConsistencyOptions& opt) {
  const auto answers = detail::answers_of(cands);
  const std::size_t stop = adaptive_consistency_stop_point(answers, opt);
  if (stop < cands.size()) {
    throw InvalidArgument(fmt::format("adaptive-consistency: the rule stops after {} samples but {} were drawn", stop, cands.size()));
  }
  return select_vote(cands, GroupWeight::kCount);
}

/// ESC's answer: the unanimous window's (its first member), else the majority of every sample.
inline VoteOutcome esc_outcome(std::span<const Candidate> cands, const EscOptions& opt) {
  const auto answers = detail::answers_of(cands);
  const std::size_t stop = esc_stop_point(answers, opt);
  if (stop < cands.size()) throw InvalidArgument(fmt::format("esc: the rule stops after {} samples but {} were drawn", stop, cands.size()));
  const auto w = static_cast<std::size_t>(opt.window);
  if (stop % w == 0 && esc_window_unanimous(answers, stop, w)) {  // a window, not the last w of a short last round
    VoteOutcome v;
    v.answers.push_back(cands[stop - w].answer);
    v.chosen = static_cast<std::int64_t>(stop - w);
    return v;
  }
  return select_vote(cands, GroupWeight::kCount);
}

inline SearchTask adaptive_consistency_search(SearchContext& ctx, AdaptiveConsistencyOptions opt) {
  std::vector<NodeId> leaves;
  std::vector<Candidate> cands;
  std::vector<std::string> answers;
  while (static_cast<std::int32_t>(leaves.size()) < opt.max_samples) {
    const Expansion e = co_await ctx.generate(detail::sample_from_root(opt.round_size(static_cast<std::int32_t>(leaves.size())), opt.sampling));
    if (!e.ok()) break;
    for (NodeId leaf : detail::leaves_of(e)) {
      ctx.mark(leaf, kFlagTerminal);
      leaves.push_back(leaf);
      cands.push_back(make_candidate(ctx.tree(), leaf, Aggregation::kLast));
      answers.push_back(cands.back().answer);
    }
    if (beta_should_stop(answers, opt.threshold)) break;
  }
  const VoteOutcome v = select_vote(cands, GroupWeight::kCount);
  co_return detail::voting_result(std::move(cands), v);
}

inline SearchTask esc_search(SearchContext& ctx, EscOptions opt) {
  std::vector<Candidate> cands;
  std::vector<std::string> answers;
  while (static_cast<std::int32_t>(cands.size()) < opt.max_samples) {
    const auto k = std::min(opt.window, opt.max_samples - static_cast<std::int32_t>(cands.size()));
    const Expansion e = co_await ctx.generate(detail::sample_from_root(k, opt.sampling));
    if (!e.ok()) break;
    for (NodeId leaf : detail::leaves_of(e)) {
      ctx.mark(leaf, kFlagTerminal);
      cands.push_back(make_candidate(ctx.tree(), leaf, Aggregation::kLast));
      answers.push_back(cands.back().answer);
    }
    if (k == opt.window && esc_window_unanimous(answers, answers.size(), static_cast<std::size_t>(opt.window))) break;
  }
  VoteOutcome v;
  if (!cands.empty()) v = esc_outcome(cands, opt);
  co_return detail::voting_result(std::move(cands), v);
}

inline SearchSpec make_search(const Problem& problem, const AdaptiveConsistencyOptions& opt, const Budget& budget = {},
                              std::uint64_t seed = 0) {
  opt.validate();
  return SearchSpec{&problem, "adaptive-consistency", Json(opt), budget, seed,
                    [opt](SearchContext& ctx) { return adaptive_consistency_search(ctx, opt); }};
}

inline SearchSpec make_search(const Problem& problem, const EscOptions& opt, const Budget& budget = {}, std::uint64_t seed = 0) {
  opt.validate();
  return SearchSpec{&problem, "esc", Json(opt), budget, seed, [opt](SearchContext& ctx) { return esc_search(ctx, opt); }};
}

}  // namespace ttsearch
