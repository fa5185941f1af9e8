#pragma once
/// REBASE: REward BAlanced SEarch (Wu et al., "Inference Scaling Laws", arXiv 2408.00724;
/// thu-wyz/inference_scaling `rebase.py`, algorithms.md section 2).
///
/// Rule: the root is expanded into B = width first steps. Depth by depth, every node is scored by
/// the PRM; a finished node (final step, or its text holds "\boxed") is a solution and uses one
/// unit of B; the other nodes split the remaining B by a softmax of their reward
/// R_j = the PRM score of their last step:
///     w_j = exp(R_j / T_b);  going down the nodes sorted by R (best first),
///     n_j = ceil(B_rem * w_j / sum_{k not yet served} w_k),  B_rem -= n_j
/// (the paper's W_j = Round(B * softmax(R/T_b)); ordered ceil rounding makes sum n_j = B exactly and
/// favours high-R nodes; low-R nodes can get 0). Each node gets n_j sampled children. The search
/// stops when B <= 0, no node is left, or at max_depth (whose round runs to the end).
/// `truncate_ratio` (the softmax_with_truncate variant) keeps only the top ceil(ratio * |nodes|)
/// before the softmax. The answer: a weighted vote over the solutions (REBASE's best setting),
/// or best / majority (`final_choice`).
#include <cmath>

#include "ttsearch/strategies/tree_common.hpp"

namespace ttsearch {

struct RebaseOptions {
  std::int32_t width = 16;            ///< B: solutions to find (rebase.yaml)
  double softmax_temperature = 0.2;   ///< T_b
  double truncate_ratio = 0.0;        ///< 0 = plain softmax; in (0, 1]: softmax_with_truncate
  std::int32_t max_depth = 25;        ///< depth cap; the last round runs to the end
  Aggregation aggregation = Aggregation::kLast;  ///< per-solution score for the final choice
  SamplingParams sampling = SamplingParams::step(1.0, 256);  ///< rebase.yaml: T = 1.0, 256 tokens per step
  FinalChoice final_choice = FinalChoice::kWeighted;

  void validate() const {
    TTSEARCH_REQUIRE(width >= 1 && width <= detail::kMaxSamples, "rebase: width must be in [1, {}] (got {})",
                     detail::kMaxSamples, width);
    TTSEARCH_REQUIRE(softmax_temperature > 0.0 && std::isfinite(softmax_temperature),
                     "rebase: softmax_temperature must be > 0 (got {})", softmax_temperature);
    TTSEARCH_REQUIRE(truncate_ratio >= 0.0 && truncate_ratio <= 1.0, "rebase: truncate_ratio must be in [0, 1] (got {})",
                     truncate_ratio);
    TTSEARCH_REQUIRE(max_depth >= 1, "rebase: max_depth must be >= 1 (got {})", max_depth);
    sampling.validate();
    TTSEARCH_REQUIRE(!sampling.stop.empty(), "rebase: sampling.stop must name the step separator (e.g. \"\\n\\n\")");
  }
};
TTSEARCH_OPTIONS_JSON(RebaseOptions, "rebase", width, softmax_temperature, truncate_ratio, max_depth, aggregation,
                      sampling, final_choice)

/// REBASE's allocation: splits `budget` children over nodes with rewards `rewards` (see the file
/// comment). Returns the count of each node, in input order; the counts sum to `budget` exactly
/// (when there is at least one node and budget >= 0).
inline std::vector<std::int32_t> rebase_allocate(std::span<const double> rewards, std::int32_t budget, double temperature,
                                                 double truncate_ratio = 0.0) {
  TTSEARCH_REQUIRE(temperature > 0.0, "rebase_allocate: temperature must be > 0 (got {})", temperature);
  std::vector<std::int32_t> counts(rewards.size(), 0);
  if (rewards.empty() || budget <= 0) return counts;
  std::vector<std::size_t> order(rewards.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return rewards[a] > rewards[b]; });
  std::size_t kept = order.size();
  if (truncate_ratio > 0.0) {
    kept = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(truncate_ratio * static_cast<double>(order.size()))));
  }
  const double top = rewards[order.front()];
  std::vector<double> w(kept);
  double total = 0.0;
  for (std::size_t r = 0; r < kept; ++r) {
    w[r] = std::exp((rewards[order[r]] - top) / temperature);  // shifted by the max: same ratios, no overflow
    total += w[r];
  }
  std::int32_t remaining = budget;
  for (std::size_t r = 0; r < kept && remaining > 0; ++r) {
    std::int32_t n = r + 1 == kept ? remaining
                                   : static_cast<std::int32_t>(std::ceil(static_cast<double>(remaining) * w[r] / total - 1e-12));
    n = std::clamp<std::int32_t>(n, 0, remaining);
    counts[order[r]] = n;
    remaining -= n;
    total -= w[r];
  }
  return counts;
}

inline SearchTask rebase_search(SearchContext& ctx, RebaseOptions o) {
  SearchTree& tree = ctx.tree();
  std::int32_t budget = o.width;
  std::vector<NodeId> solutions;
  std::vector<NodeId> frontier{SearchTree::root()};
  std::vector<std::int32_t> counts{o.width};
  for (std::int32_t depth = 0; depth < o.max_depth; ++depth) {
    const bool last = depth + 1 == o.max_depth;
    const std::vector<GenerateOp> ops = detail::expand_ops(frontier, counts, detail::step_params(o.sampling, last));
    const Expansion expansion = co_await ctx.generate(ops);
    if (!expansion.ok()) break;
    std::vector<NodeId> nodes;
    for (const auto& c : expansion.children) nodes.insert(nodes.end(), c.begin(), c.end());
    frontier = nodes;  // the best so far if scoring is refused
    const ScoreOutcome scored = co_await ctx.score(nodes);
    if (!scored.ok()) break;
    std::vector<NodeId> cands;
    std::vector<double> rewards;
    for (NodeId id : nodes) {
      if (detail::is_final_node(tree, id) || tree.node(id).step.text.find("\\boxed") != std::string::npos) {
        solutions.push_back(id);
        ctx.mark(id, kFlagTerminal, "solution: uses one unit of the width");
        --budget;
      } else {
        cands.push_back(id);
        rewards.push_back(tree.node(id).scores.back());
      }
    }
    frontier.clear();
    counts.clear();
    if (budget <= 0 || cands.empty()) break;
    const auto alloc = rebase_allocate(rewards, budget, o.softmax_temperature, o.truncate_ratio);
    for (std::size_t i = 0; i < cands.size(); ++i) {
      if (alloc[i] > 0) {
        frontier.push_back(cands[i]);
        counts.push_back(alloc[i]);
        ctx.mark(cands[i], kFlagKept, fmt::format("R={:.4f}: {} of {} children", rewards[i], alloc[i], budget));
      } else {
        ctx.mark(cands[i], kFlagPruned, fmt::format("R={:.4f}: 0 of {} children", rewards[i], budget));
      }
    }
  }
  co_return detail::tree_result(tree, solutions.empty() ? frontier : solutions, o.aggregation, o.final_choice);
}

inline SearchSpec make_search(const Problem& problem, const RebaseOptions& opt, const Budget& budget = {}, std::uint64_t seed = 0) {
  opt.validate();
  return SearchSpec{&problem, "rebase", Json(opt), budget, seed, [opt](SearchContext& ctx) { return rebase_search(ctx, opt); }};
}

}  // namespace ttsearch
