#pragma once
/// Best-of-Majority (Di, Ji, Li, Zhao, Gu; arXiv 2510.03199, ICLR 2026).
///
/// Rule: sample N solutions; group equal final answers; keep the answers whose empirical
/// frequency  pi_hat(a) = |{i : ans(y_i) ~ a}| / N  is at least alpha; return the top-k of those
/// by reward-model score (the group's reward: max (default), mean or sum of the members'
/// aggregated scores). Unlike best-of-N and majority vote it does not degrade as N grows: a rare
/// answer with an inflated reward cannot pass the frequency filter.
/// Fallback when no answer reaches alpha: keep the most frequent answers, ranked by reward.
/// Budget stop: if the verifier call is refused, groups are ranked by count (majority vote).
#include "ttsearch/strategies/majority_vote.hpp"

namespace ttsearch {

struct BestOfMajorityOptions {
  std::int32_t n = 4;  ///< samples
  SamplingParams sampling = detail::whole_solution_sampling();
  Aggregation aggregation = Aggregation::kLast;  ///< per-path score
  double alpha = 0.1;  ///< frequency threshold in (0, 1]: keep answers seen in >= alpha * N samples
  std::int32_t k = 1;  ///< answers returned (Pass@k); SearchResult::answers holds them, best first
  GroupWeight reward = GroupWeight::kMax;  ///< group reward over members' scores: max, mean or sum

  void validate() const {
    TTSEARCH_REQUIRE(n >= 1 && n <= detail::kMaxSamples, "best-of-majority: n must be in [1, {}] (got {})",
                     detail::kMaxSamples, n);
    TTSEARCH_REQUIRE(alpha > 0.0 && alpha <= 1.0, "best-of-majority: alpha must be in (0, 1] (got {})", alpha);
    TTSEARCH_REQUIRE(k >= 1, "best-of-majority: k must be >= 1 (got {})", k);
    TTSEARCH_REQUIRE(reward != GroupWeight::kCount, "best-of-majority: reward must be max, mean or sum");
    sampling.validate();
  }
};

inline void to_json(Json& j, const BestOfMajorityOptions& o) {
  j = Json{{"n", o.n},         {"sampling", o.sampling}, {"aggregation", to_string(o.aggregation)},
           {"alpha", o.alpha}, {"k", o.k},               {"reward", to_string(o.reward)}};
}
inline void from_json(const Json& j, BestOfMajorityOptions& o) {
  constexpr std::string_view what = "best-of-majority options";
  detail::check_option_keys(j, what, {"n", "sampling", "aggregation", "alpha", "k", "reward"});
  o = BestOfMajorityOptions{};
  detail::read_option(j, what, "n", o.n);
  detail::read_option(j, what, "sampling", o.sampling);
  detail::read_option(j, what, "alpha", o.alpha);
  detail::read_option(j, what, "k", o.k);
  std::string agg(to_string(o.aggregation)), w(to_string(o.reward));
  detail::read_option(j, what, "aggregation", agg);
  detail::read_option(j, what, "reward", w);
  o.aggregation = parse_aggregation(agg);
  o.reward = parse_group_weight(w);
}

inline VoteOutcome best_of_majority_outcome(std::span<const Candidate> cands, const BestOfMajorityOptions& opt,
                                            bool scored = true) {
  if (!scored) return select_vote(cands, GroupWeight::kCount);
  return select_best_of_majority(cands, opt.alpha, opt.k, opt.reward);
}

inline SearchTask best_of_majority_search(SearchContext& ctx, BestOfMajorityOptions opt) {
  return detail::sample_and_vote(ctx, opt.n, opt.sampling, opt.aggregation, true, [opt](std::span<const Candidate> c, bool scored) {
    return best_of_majority_outcome(c, opt, scored);
  });
}

inline SearchSpec make_search(const Problem& problem, const BestOfMajorityOptions& opt, const Budget& budget = {},
                              std::uint64_t seed = 0) {
  opt.validate();
  return SearchSpec{&problem, "best-of-majority", Json(opt), budget, seed,
                    [opt](SearchContext& ctx) { return best_of_majority_search(ctx, opt); }};
}

/// Runs Best-of-Majority on one problem.
template <Generator G, Verifier V, class O = NullObserver>
  requires SearchObserver<std::remove_cvref_t<O>>
SearchResult best_of_majority(const Problem& problem, G& generator, V& verifier, const BestOfMajorityOptions& opt = {},
                              const Budget& budget = {}, O&& observer = O{}, std::uint64_t seed = 0) {
  return solve(problem, generator, verifier, opt, budget, observer, seed);
}

}  // namespace ttsearch
