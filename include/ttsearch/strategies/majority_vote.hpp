#pragma once
/// Majority vote (self-consistency, Wang et al., arXiv 2203.11171) and weighted majority.
///
/// Majority: sample N complete solutions, group them by equivalent final answer
/// (answer/group.hpp), return the largest group:  y* = argmax_a |{i : ans(y_i) ~ a}|.
/// No verifier is called. Ties go to the answer seen first.
///
/// Weighted majority ("weighted best-of-N" in search-and-learn, "prm_*_vote" in OpenR): the same
/// groups, weighted by the members' aggregated verifier scores:
///   y* = argmax_a  W({agg(r(y_i)) : ans(y_i) ~ a}),  W in {sum (default, search-and-learn), mean, max}.
/// Budget stop: when the verifier call is refused the weighted vote has no scores and falls back
/// to a vote by count (plain majority).
#include "ttsearch/strategies/best_of_n.hpp"

namespace ttsearch {

struct MajorityVoteOptions {
  std::int32_t n = 4;  ///< samples
  SamplingParams sampling = detail::whole_solution_sampling();

  void validate() const {
    TTSEARCH_REQUIRE(n >= 1 && n <= detail::kMaxSamples, "majority: n must be in [1, {}] (got {})", detail::kMaxSamples, n);
    sampling.validate();
  }
};

inline void to_json(Json& j, const MajorityVoteOptions& o) { j = Json{{"n", o.n}, {"sampling", o.sampling}}; }
inline void from_json(const Json& j, MajorityVoteOptions& o) {
  detail::check_option_keys(j, "majority options", {"n", "sampling"});
  o = MajorityVoteOptions{};
  detail::read_option(j, "majority options", "n", o.n);
  detail::read_option(j, "majority options", "sampling", o.sampling);
}

struct WeightedMajorityOptions {
  std::int32_t n = 4;  ///< samples
  SamplingParams sampling = detail::whole_solution_sampling();
  Aggregation aggregation = Aggregation::kLast;  ///< per-path score
  GroupWeight weight = GroupWeight::kSum;        ///< per-group weight (search-and-learn: sum)

  void validate() const {
    TTSEARCH_REQUIRE(n >= 1 && n <= detail::kMaxSamples, "weighted-majority: n must be in [1, {}] (got {})",
                     detail::kMaxSamples, n);
    TTSEARCH_REQUIRE(weight != GroupWeight::kCount, "weighted-majority: weight must be sum, mean or max (count is plain majority)");
    sampling.validate();
  }
};

inline void to_json(Json& j, const WeightedMajorityOptions& o) {
  j = Json{{"n", o.n}, {"sampling", o.sampling}, {"aggregation", to_string(o.aggregation)}, {"weight", to_string(o.weight)}};
}
inline void from_json(const Json& j, WeightedMajorityOptions& o) {
  constexpr std::string_view what = "weighted-majority options";
  detail::check_option_keys(j, what, {"n", "sampling", "aggregation", "weight"});
  o = WeightedMajorityOptions{};
  detail::read_option(j, what, "n", o.n);
  detail::read_option(j, what, "sampling", o.sampling);
  std::string agg(to_string(o.aggregation)), w(to_string(o.weight));
  detail::read_option(j, what, "aggregation", agg);
  detail::read_option(j, what, "weight", w);
  o.aggregation = parse_aggregation(agg);
  o.weight = parse_group_weight(w);
}

inline VoteOutcome majority_outcome(std::span<const Candidate> cands, const MajorityVoteOptions&) {
  return select_vote(cands, GroupWeight::kCount);
}

inline VoteOutcome weighted_majority_outcome(std::span<const Candidate> cands, const WeightedMajorityOptions& opt,
                                             bool scored = true) {
  return select_vote(cands, scored ? opt.weight : GroupWeight::kCount);
}

inline SearchTask majority_vote_search(SearchContext& ctx, MajorityVoteOptions opt) {
  return detail::sample_and_vote(ctx, opt.n, opt.sampling, Aggregation::kLast, false,
                                 [opt](std::span<const Candidate> c, bool) { return majority_outcome(c, opt); });
}

inline SearchTask weighted_majority_search(SearchContext& ctx, WeightedMajorityOptions opt) {
  return detail::sample_and_vote(ctx, opt.n, opt.sampling, opt.aggregation, true, [opt](std::span<const Candidate> c, bool scored) {
    return weighted_majority_outcome(c, opt, scored);
  });
}

inline SearchSpec make_search(const Problem& problem, const MajorityVoteOptions& opt, const Budget& budget = {},
                              std::uint64_t seed = 0) {
  opt.validate();
  return SearchSpec{&problem, "majority", Json(opt), budget, seed,
                    [opt](SearchContext& ctx) { return majority_vote_search(ctx, opt); }};
}

inline SearchSpec make_search(const Problem& problem, const WeightedMajorityOptions& opt, const Budget& budget = {},
                              std::uint64_t seed = 0) {
  opt.validate();
  return SearchSpec{&problem, "weighted-majority", Json(opt), budget, seed,
                    [opt](SearchContext& ctx) { return weighted_majority_search(ctx, opt); }};
}

/// Runs majority vote on one problem (no verifier).
template <Generator G, class O = NullObserver>
  requires SearchObserver<std::remove_cvref_t<O>>
SearchResult majority_vote(const Problem& problem, G& generator, const MajorityVoteOptions& opt = {},
                           const Budget& budget = {}, O&& observer = O{}, std::uint64_t seed = 0) {
  NoVerifier none;
  return solve(problem, generator, none, opt, budget, observer, seed);
}

/// Runs weighted majority vote on one problem.
template <Generator G, Verifier V, class O = NullObserver>
  requires SearchObserver<std::remove_cvref_t<O>>
SearchResult weighted_majority(const Problem& problem, G& generator, V& verifier, const WeightedMajorityOptions& opt = {},
                               const Budget& budget = {}, O&& observer = O{}, std::uint64_t seed = 0) {
  return solve(problem, generator, verifier, opt, budget, observer, seed);
}

}  // namespace ttsearch
