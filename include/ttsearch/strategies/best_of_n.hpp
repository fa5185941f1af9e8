#pragma once
/// Best-of-N.
///
/// Rule: sample N complete solutions, score each with the verifier, return the one with the
/// highest aggregated score:  y* = argmax_i agg(r(y_i)),  agg in {last, min, prod, mean}.
/// Ties go to the first sampled. One generator call (N samples), one verifier call (N paths).
/// As in search-and-learn (`best_of_n.py`); unlike it, the chosen aggregation is honoured.
/// Budget stop: if the verifier call is refused, candidates are unscored (score 0) and the first
/// sample is returned; if the generator call is refused, the answer is empty.
#include <utility>

#include "ttsearch/strategies/driver.hpp"
#include "ttsearch/strategies/options.hpp"
#include "ttsearch/strategies/selection.hpp"

namespace ttsearch {

struct BestOfNOptions {
  std::int32_t n = 4;  ///< samples (search-and-learn default 4)
  SamplingParams sampling = detail::whole_solution_sampling();  ///< T=0.8, no stop string
  Aggregation aggregation = Aggregation::kLast;  ///< how step scores combine (search-and-learn: last)

  void validate() const {
    TTSEARCH_REQUIRE(n >= 1 && n <= detail::kMaxSamples, "best-of-n: n must be in [1, {}] (got {})", detail::kMaxSamples, n);
    sampling.validate();
  }
};

inline void to_json(Json& j, const BestOfNOptions& o) {
  j = Json{{"n", o.n}, {"sampling", o.sampling}, {"aggregation", to_string(o.aggregation)}};
}
inline void from_json(const Json& j, BestOfNOptions& o) {
  detail::check_option_keys(j, "best-of-n options", {"n", "sampling", "aggregation"});
  o = BestOfNOptions{};
  detail::read_option(j, "best-of-n options", "n", o.n);
  detail::read_option(j, "best-of-n options", "sampling", o.sampling);
  std::string agg(to_string(o.aggregation));
  detail::read_option(j, "best-of-n options", "aggregation", agg);
  o.aggregation = parse_aggregation(agg);
}

namespace detail {

/// One op: `n` samples from the root. (A named helper: GCC 12 miscompiles braced lists inside
/// co_await expressions, "array used as initializer".)
inline std::vector<GenerateOp> sample_from_root(std::int32_t n, const SamplingParams& params) {
  std::vector<GenerateOp> ops(1);
  ops[0].num_samples = n;
  ops[0].params = params;
  return ops;
}

/// Samples `n` whole solutions from the root; returns their leaves (empty on a budget stop).
inline std::vector<NodeId> leaves_of(const Expansion& e) {
  return e.ok() && !e.children.empty() ? e.children.front() : std::vector<NodeId>{};
}

/// A result from ranked answers and the chosen candidate.
inline SearchResult voting_result(std::vector<Candidate> cands, const VoteOutcome& v) {
  SearchResult r;
  r.answers = v.answers;
  if (!r.answers.empty()) r.answer = r.answers.front();
  if (v.chosen >= 0) r.chosen = cands[static_cast<std::size_t>(v.chosen)].leaf;
  r.candidates = std::move(cands);
  return r;
}

/// The shape shared by the voting strategies: sample n whole solutions from the root, score them
/// (when `use_verifier`), build candidates, and let `select(candidates, scored)` choose.
template <class Select>
SearchTask sample_and_vote(SearchContext& ctx, std::int32_t n, SamplingParams sampling, Aggregation aggregation,
                           bool use_verifier, Select select) {
  auto expansion = co_await ctx.generate(sample_from_root(n, sampling));
  const auto leaves = leaves_of(expansion);
  for (NodeId leaf : leaves) ctx.mark(leaf, kFlagTerminal);
  bool scored = false;
  if (use_verifier && !leaves.empty()) {
    const ScoreOutcome scoring = co_await ctx.score(leaves);  // (GCC 12: no member call on a co_await)
    scored = scoring.ok();
  }
  std::vector<Candidate> cands;
  for (NodeId leaf : leaves) cands.push_back(make_candidate(ctx.tree(), leaf, aggregation));
  const VoteOutcome outcome = select(std::span<const Candidate>(cands), scored);
  co_return voting_result(std::move(cands), outcome);
}

}  // namespace detail

/// Best-of-N's selection over candidates (also used by replay).
inline VoteOutcome best_of_n_outcome(std::span<const Candidate> cands, const BestOfNOptions&) {
  VoteOutcome v;
  v.chosen = select_best_of_n(cands);
  if (v.chosen >= 0) v.answers.push_back(cands[static_cast<std::size_t>(v.chosen)].answer);
  return v;
}

/// The strategy as a resumable search.
inline SearchTask best_of_n_search(SearchContext& ctx, BestOfNOptions opt) {
  return detail::sample_and_vote(ctx, opt.n, opt.sampling, opt.aggregation, true,
                                 [opt](std::span<const Candidate> c, bool) { return best_of_n_outcome(c, opt); });
}

/// A SearchSpec for the driver (validates the options).
inline SearchSpec make_search(const Problem& problem, const BestOfNOptions& opt, const Budget& budget = {},
                              std::uint64_t seed = 0) {
  opt.validate();
  return SearchSpec{&problem, "best-of-n", Json(opt), budget, seed,
                    [opt](SearchContext& ctx) { return best_of_n_search(ctx, opt); }};
}

/// Runs best-of-N on one problem.
template <Generator G, Verifier V, class O = NullObserver>
  requires SearchObserver<std::remove_cvref_t<O>>
SearchResult best_of_n(const Problem& problem, G& generator, V& verifier, const BestOfNOptions& opt = {},
                       const Budget& budget = {}, O&& observer = O{}, std::uint64_t seed = 0) {
  return solve(problem, generator, verifier, opt, budget, observer, seed);
}

}  // namespace ttsearch
