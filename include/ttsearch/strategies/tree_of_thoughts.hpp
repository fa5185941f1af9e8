#pragma once
/// Tree of Thoughts (Yao et al., arXiv 2305.10601; algorithms.md section 4.5), with the PRM as the
/// state evaluator (value = the PRM score of the state's last step).
///
/// BFS: from the root, every level samples k thoughts (next steps) per kept state, scores them,
///   sets finished paths aside, and keeps the best b unfinished states; max_depth levels (the last
///   runs to the end). Answer: the best finished path by agg(scores) (or a vote).
/// DFS: expand the most promising state first: sample k thoughts of the state on top of the
///   stack, score them, prune those whose value is below `value_threshold`, push the rest (best on
///   top), and backtrack when a state has no surviving child. Stops at the first finished path whose
///   value reaches the threshold (`stop_at_first`), when `max_states` thoughts were generated, or
///   when the stack is empty. Answer: the best finished path (or a vote); if none finished, the
///   best unfinished state; if every thought fell below the threshold, no answer ("").
#include "ttsearch/strategies/tree_common.hpp"

namespace ttsearch {

struct TotBfsOptions {
  std::int32_t breadth = 5;            ///< b: states kept per level (Game of 24: 5)
  std::int32_t samples_per_state = 3;  ///< k: thoughts sampled per state
  std::int32_t max_depth = 10;         ///< levels; the last runs to the end
  Aggregation aggregation = Aggregation::kLast;
  SamplingParams sampling = SamplingParams::step(0.8, 2048);
  FinalChoice final_choice = FinalChoice::kBest;

  void validate() const {
    TTSEARCH_REQUIRE(breadth >= 1, "tot-bfs: breadth must be >= 1 (got {})", breadth);
    TTSEARCH_REQUIRE(samples_per_state >= 1 && samples_per_state <= detail::kMaxSamples,
                     "tot-bfs: samples_per_state must be >= 1 (got {})", samples_per_state);
    TTSEARCH_REQUIRE(max_depth >= 1, "tot-bfs: max_depth must be >= 1 (got {})", max_depth);
    sampling.validate();
    TTSEARCH_REQUIRE(!sampling.stop.empty(), "tot-bfs: sampling.stop must name the step separator (e.g. \"\\n\\n\")");
  }
};
TTSEARCH_OPTIONS_JSON(TotBfsOptions, "tot-bfs", breadth, samples_per_state, max_depth, aggregation, sampling, final_choice)

struct TotDfsOptions {
  std::int32_t samples_per_state = 3;  ///< k thoughts per expanded state (llm-reasoners max_per_state 3)
  double value_threshold = 0.5;        ///< prune states whose value is below this
  std::int32_t max_depth = 10;         ///< the step at this depth runs to the end
  std::int32_t max_states = 100;       ///< thoughts generated at most (llm-reasoners total_states 100)
  bool stop_at_first = true;           ///< stop at the first finished path reaching the threshold
  Aggregation aggregation = Aggregation::kLast;
  SamplingParams sampling = SamplingParams::step(0.8, 2048);
  FinalChoice final_choice = FinalChoice::kBest;

  void validate() const {
    TTSEARCH_REQUIRE(samples_per_state >= 1 && samples_per_state <= detail::kMaxSamples,
                     "tot-dfs: samples_per_state must be >= 1 (got {})", samples_per_state);
    TTSEARCH_REQUIRE(std::isfinite(value_threshold), "tot-dfs: value_threshold must be finite");
    TTSEARCH_REQUIRE(max_depth >= 1, "tot-dfs: max_depth must be >= 1 (got {})", max_depth);
    TTSEARCH_REQUIRE(max_states >= 1, "tot-dfs: max_states must be >= 1 (got {})", max_states);
    sampling.validate();
    TTSEARCH_REQUIRE(!sampling.stop.empty(), "tot-dfs: sampling.stop must name the step separator (e.g. \"\\n\\n\")");
  }
};
TTSEARCH_OPTIONS_JSON(TotDfsOptions, "tot-dfs", samples_per_state, value_threshold, max_depth, max_states, stop_at_first,
                      aggregation, sampling, final_choice)

inline SearchTask tot_bfs_search(SearchContext& ctx, TotBfsOptions o) {
  SearchTree& tree = ctx.tree();
  std::vector<NodeId> level{SearchTree::root()};
  std::vector<NodeId> finished;
  for (std::int32_t depth = 0; depth < o.max_depth && !level.empty(); ++depth) {
    const bool last = depth + 1 == o.max_depth;
    const std::vector<GenerateOp> ops = detail::expand_ops(
        level, std::vector<std::int32_t>(level.size(), o.samples_per_state), detail::step_params(o.sampling, last));
    const Expansion expansion = co_await ctx.generate(ops);
    if (!expansion.ok()) break;
    std::vector<NodeId> kids;
    for (const auto& c : expansion.children) kids.insert(kids.end(), c.begin(), c.end());
    const ScoreOutcome scored = co_await ctx.score(kids);
    if (!scored.ok()) {
      level = kids;
      break;
    }
    std::vector<NodeId> open;
    for (NodeId c : kids) {
      if (detail::is_final_node(tree, c)) {
        finished.push_back(c);
        ctx.mark(c, kFlagTerminal, "finished");
      } else {
        open.push_back(c);
      }
    }
    const std::vector<NodeId> last_scores(open);  // the ToT value: the PRM score of the last step
    const auto order = detail::rank_by_score(tree, last_scores, Aggregation::kLast);
    level.clear();
    for (std::size_t r = 0; r < order.size(); ++r) {
      const NodeId c = open[order[r]];
      if (static_cast<std::int32_t>(r) < o.breadth) {
        level.push_back(c);
        ctx.mark(c, kFlagKept, fmt::format("value rank {} of {} (breadth {})", r + 1, order.size(), o.breadth));
      } else {
        ctx.mark(c, kFlagPruned, fmt::format("value rank {} of {} (breadth {})", r + 1, order.size(), o.breadth));
      }
    }
  }
  co_return detail::tree_result(tree, finished.empty() ? level : finished, o.aggregation, o.final_choice);
}

inline SearchTask tot_dfs_search(SearchContext& ctx, TotDfsOptions o) {
  SearchTree& tree = ctx.tree();
  std::vector<NodeId> stack{SearchTree::root()};
  std::vector<NodeId> finished;
  NodeId best_open = kNoNode;  // the best unfinished state seen, for a budget stop
  std::int32_t generated = 0;
  bool done = false;
  while (!stack.empty() && !done && generated < o.max_states) {
    const NodeId node = stack.back();
    stack.pop_back();
    const bool last = tree.node(node).depth + 1 >= o.max_depth;
    const std::int32_t k = std::min(o.samples_per_state, o.max_states - generated);
    const std::vector<NodeId> parents(1, node);
    const std::vector<std::int32_t> counts(1, k);
    const std::vector<GenerateOp> ops = detail::expand_ops(parents, counts, detail::step_params(o.sampling, last));
    const Expansion expansion = co_await ctx.generate(ops);
    if (!expansion.ok()) break;
    generated += k;
    const std::vector<NodeId> kids = expansion.children[0];
    const ScoreOutcome scored = co_await ctx.score(kids);
    if (!scored.ok()) break;
    const auto order = detail::rank_by_score(tree, kids, Aggregation::kLast);
    std::vector<NodeId> push;
    for (std::size_t r = 0; r < order.size(); ++r) {
      const NodeId c = kids[order[r]];
      const double value = tree.node(c).scores.back();
      if (detail::is_final_node(tree, c)) {
        finished.push_back(c);
        ctx.mark(c, kFlagTerminal, fmt::format("finished, value {:.4f}", value));
        if (o.stop_at_first && value >= o.value_threshold) done = true;
      } else if (value < o.value_threshold) {
        ctx.mark(c, kFlagPruned, fmt::format("value {:.4f} below threshold {}", value, o.value_threshold));
      } else {
        push.push_back(c);
        ctx.mark(c, kFlagKept, fmt::format("value {:.4f}", value));
        if (best_open == kNoNode || value > tree.node(best_open).scores.back()) best_open = c;
      }
    }
    for (auto it = push.rbegin(); it != push.rend(); ++it) stack.push_back(*it);  // best on top
  }
  std::vector<NodeId> cands = finished;
  if (cands.empty() && best_open != kNoNode) cands.push_back(best_open);
  co_return detail::tree_result(tree, cands, o.aggregation, o.final_choice);
}

inline SearchSpec make_search(const Problem& problem, const TotBfsOptions& opt, const Budget& budget = {}, std::uint64_t seed = 0) {
  opt.validate();
  return SearchSpec{&problem, "tot-bfs", Json(opt), budget, seed, [opt](SearchContext& ctx) { return tot_bfs_search(ctx, opt); }};
}

inline SearchSpec make_search(const Problem& problem, const TotDfsOptions& opt, const Budget& budget = {}, std::uint64_t seed = 0) {
  opt.validate();
  return SearchSpec{&problem, "tot-dfs", Json(opt), budget, seed, [opt](SearchContext& ctx) { return tot_dfs_search(ctx, opt); }};
}

}  // namespace ttsearch
