#pragma once
/// Helpers shared by the tree strategies (beam, DVTS, REBASE, MCTS, tree of thoughts).
///
/// GCC 12 note: co_await expressions here are always bound to a variable first and never take a
/// braced list (GCC 12 miscompiles both inside coroutines).
#include <algorithm>
#include <string>
#include <vector>

#include "ttsearch/strategies/best_of_n.hpp"

namespace ttsearch {

/// How a tree strategy picks its final answer among its complete candidates.
enum class FinalChoice : std::uint8_t {
  kBest,      ///< highest aggregated score (best-of-N over the candidates)
  kMajority,  ///< most frequent answer
  kWeighted,  ///< answer with the largest sum of aggregated scores
};

constexpr std::string_view to_string(FinalChoice c) noexcept {
  switch (c) {
    case FinalChoice::kBest: return "best";
    case FinalChoice::kMajority: return "majority";
    case FinalChoice::kWeighted: return "weighted";
  }
  return "?";
}

inline FinalChoice parse_final_choice(std::string_view s) {
  if (s == "best") return FinalChoice::kBest;
  if (s == "majority") return FinalChoice::kMajority;
  if (s == "weighted") return FinalChoice::kWeighted;
  throw InvalidArgument(fmt::format("unknown final choice '{}' (expected best, majority or weighted)", s));
}

inline void to_json(Json& j, FinalChoice c) { j = std::string(to_string(c)); }
inline void from_json(const Json& j, FinalChoice& c) { c = parse_final_choice(j.get<std::string>()); }

/// Applies a FinalChoice to candidates.
inline VoteOutcome final_choice_outcome(std::span<const Candidate> cands, FinalChoice how) {
  switch (how) {
    case FinalChoice::kMajority: return select_vote(cands, GroupWeight::kCount);
    case FinalChoice::kWeighted: return select_vote(cands, GroupWeight::kSum);
    case FinalChoice::kBest: break;
  }
  VoteOutcome v;
  v.chosen = select_best_of_n(cands);
  if (v.chosen >= 0) v.answers.push_back(cands[static_cast<std::size_t>(v.chosen)].answer);
  return v;
}

namespace detail {

/// True when the node's step ends the solution (EOS, truncation, or an empty step).
inline bool is_final_node(const SearchTree& t, NodeId id) {
  const Step& s = t.node(id).step;
  return s.is_final() || s.text.empty();
}

/// One op per parent, `samples[i]` continuations of parents[i] (ops with 0 samples are skipped).
inline std::vector<GenerateOp> expand_ops(const std::vector<NodeId>& parents, const std::vector<std::int32_t>& samples,
                                          const SamplingParams& params) {
  std::vector<GenerateOp> ops;
  for (std::size_t i = 0; i < parents.size(); ++i) {
    if (samples[i] <= 0) continue;
    GenerateOp op;
    op.parent = parents[i];
    op.num_samples = samples[i];
    op.params = params;
    ops.push_back(std::move(op));
  }
  return ops;
}

/// The params of a step: `base` with the step stop string, or without any stop (run to EOS)
/// when `last` is set.
inline SamplingParams step_params(const SamplingParams& base, bool last) {
  SamplingParams p = base;
  if (last) p.stop.clear();
  return p;
}

/// Builds the result of a tree search from its candidate leaves.
inline SearchResult tree_result(const SearchTree& tree, const std::vector<NodeId>& leaves, Aggregation agg, FinalChoice how) {
  std::vector<Candidate> cands;
  cands.reserve(leaves.size());
  for (NodeId leaf : leaves) cands.push_back(make_candidate(tree, leaf, agg));
  const VoteOutcome v = final_choice_outcome(cands, how);
  return voting_result(std::move(cands), v);
}

/// Indices of `ids` sorted by aggregated score, best first (stable: ties keep their order).
inline std::vector<std::size_t> rank_by_score(const SearchTree& t, const std::vector<NodeId>& ids, Aggregation agg) {
  std::vector<double> score(ids.size(), -INFINITY);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto& s = t.node(ids[i]).scores;
    if (!s.empty()) score[i] = aggregate(s, agg);
  }
  std::vector<std::size_t> order(ids.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return score[a] > score[b]; });
  return order;
}

}  // namespace detail
}  // namespace ttsearch
