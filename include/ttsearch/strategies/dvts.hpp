#pragma once
/// Diverse Verifier Tree Search (search-and-learn `diverse_verifier_tree_search.py`,
/// algorithms.md section 1.5).
///
/// Rule, with N = n and M = beam_width: split the budget into N/M independent subtrees. Every
/// round each live subtree samples M candidate next steps from its current node, the PRM scores
/// them (step + optional lookahead, as in beam search), and the subtree greedily moves to the
/// PRM-best candidate. A subtree ends when its chosen step is final (EOS, length, empty) or
/// contains "boxed{"; the last round runs to the end. Each subtree contributes the M candidates of
/// its last round, N in all; the answer is the best of them by agg(scores) (or a vote).
/// Unlike search-and-learn the whole tree is kept (its issue #51), token counts are recorded, and
/// a subtree's last-round candidates that did not finish are dropped from the final choice when
/// any candidate finished (search-and-learn ranks half-written solutions too).
#include "ttsearch/strategies/beam_search.hpp"

namespace ttsearch {

struct DvtsOptions {
  std::int32_t n = 4;               ///< N: completions returned (N/M subtrees x M candidates)
  std::int32_t beam_width = 4;      ///< M: candidates per subtree per round
  std::int32_t num_iterations = 40; ///< rounds; the last runs to the end
  std::int32_t lookahead = 0;       ///< k greedy steps scored with each candidate
  Aggregation aggregation = Aggregation::kLast;
  SamplingParams sampling = SamplingParams::step(0.8, 2048);
  FinalChoice final_choice = FinalChoice::kBest;

  void validate() const {
    TTSEARCH_REQUIRE(n >= 1 && n <= detail::kMaxSamples, "dvts: n must be in [1, {}] (got {})", detail::kMaxSamples, n);
    TTSEARCH_REQUIRE(beam_width >= 1, "dvts: beam_width must be >= 1 (got {})", beam_width);
    TTSEARCH_REQUIRE(n % beam_width == 0, "dvts: n ({}) must be divisible by beam_width ({})", n, beam_width);
    TTSEARCH_REQUIRE(num_iterations >= 1, "dvts: num_iterations must be >= 1 (got {})", num_iterations);
    TTSEARCH_REQUIRE(lookahead >= 0, "dvts: lookahead must be >= 0 (got {})", lookahead);
    sampling.validate();
    TTSEARCH_REQUIRE(!sampling.stop.empty(), "dvts: sampling.stop must name the step separator (e.g. \"\\n\\n\")");
  }
};
TTSEARCH_OPTIONS_JSON(DvtsOptions, "dvts", n, beam_width, num_iterations, lookahead, aggregation, sampling, final_choice)

inline SearchTask dvts_search(SearchContext& ctx, DvtsOptions o) {
  SearchTree& tree = ctx.tree();
  const std::size_t subtrees = static_cast<std::size_t>(o.n / o.beam_width);
  std::vector<NodeId> tip(subtrees, SearchTree::root());
  std::vector<bool> live(subtrees, true);
  std::vector<std::vector<NodeId>> last_round(subtrees);
  for (std::int32_t it = 0; it < o.num_iterations; ++it) {
    const bool last = it + 1 == o.num_iterations;
    std::vector<NodeId> parents;
    std::vector<std::size_t> which;
    for (std::size_t s = 0; s < subtrees; ++s) {
      if (!live[s]) continue;
      parents.push_back(tip[s]);
      which.push_back(s);
    }
    if (parents.empty()) break;
    const std::vector<GenerateOp> ops =
        detail::expand_ops(parents, std::vector<std::int32_t>(parents.size(), o.beam_width), detail::step_params(o.sampling, last));
    const Expansion expansion = co_await ctx.generate(ops);
    if (!expansion.ok()) break;
    std::vector<NodeId> cands;
    for (const auto& c : expansion.children) cands.insert(cands.end(), c.begin(), c.end());
    detail::Lookahead look{cands, {}};
    for (std::int32_t k = 0; k < o.lookahead && !last; ++k) {
      const std::vector<GenerateOp> lops = look.next_ops(tree, o.sampling);
      if (lops.empty()) break;
      const Expansion lexp = co_await ctx.generate(lops);
      if (!lexp.ok()) break;
      look.advance(ctx, lexp);
    }
    for (std::size_t j = 0; j < which.size(); ++j) last_round[which[j]] = expansion.children[j];
    if (ctx.stopped()) break;
    const ScoreOutcome scored = co_await ctx.score(look.leaf);
    if (!scored.ok()) break;
    for (std::size_t j = 0; j < which.size(); ++j) {
      const std::size_t s = which[j];
      const auto& kids = expansion.children[j];
      std::vector<NodeId> score_leaves(look.leaf.begin() + static_cast<std::ptrdiff_t>(j * kids.size()),
                                       look.leaf.begin() + static_cast<std::ptrdiff_t>((j + 1) * kids.size()));
      const auto order = detail::rank_by_score(tree, score_leaves, o.aggregation);
      const NodeId best = kids[order.front()];
      for (std::size_t r = 1; r < order.size(); ++r) {
        ctx.mark(kids[order[r]], kFlagPruned, fmt::format("subtree {}: rank {} of {}", s, r + 1, kids.size()));
      }
      tip[s] = best;
      const bool done = detail::is_final_node(tree, best) || tree.node(best).step.text.find("boxed{") != std::string::npos;
      if (done) {
        live[s] = false;
        ctx.mark(best, kFlagTerminal, fmt::format("subtree {} finished", s));
      } else {
        ctx.mark(best, kFlagKept, fmt::format("subtree {}: PRM-best of {}", s, kids.size()));
      }
    }
  }
  // Each subtree's last-round candidates. Finished ones were scored on their own path (the
  // lookahead never extends a final step).
  std::vector<NodeId> all, finished;
  for (const auto& round : last_round) {
    for (NodeId c : round) {
      all.push_back(c);
      if (detail::is_final_node(tree, c) || tree.path(c).text().find("boxed{") != std::string::npos) finished.push_back(c);
    }
  }
  co_return detail::tree_result(tree, finished.empty() ? all : finished, o.aggregation, o.final_choice);
}

inline SearchSpec make_search(const Problem& problem, const DvtsOptions& opt, const Budget& budget = {}, std::uint64_t seed = 0) {
  opt.validate();
  return SearchSpec{&problem, "dvts", Json(opt), budget, seed, [opt](SearchContext& ctx) { return dvts_search(ctx, opt); }};
}

}  // namespace ttsearch
