#pragma once
/// Final-answer selection rules over candidates: pure functions, shared by the voting strategies,
/// the tree strategies' final choice, `replay` and the offline `ttsearch vote` command.
///
/// Tie-breaking (deterministic, documented):
///   - best-of-N: highest score; ties go to the lowest candidate index (the first sampled).
///   - majority / weighted: largest count (weight); ties go to the group seen first
///     (search-and-learn's "first class seen").
///   - Best-of-Majority: highest group reward; ties go to the larger group, then the group seen first.
///   - the representative path of a group is its highest-scored member, ties to the first.
/// Candidates with no extracted answer ("") never win a vote unless no candidate has an answer.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ttsearch/answer/extract.hpp"
#include "ttsearch/answer/group.hpp"
#include "ttsearch/answer/normalize.hpp"
#include "ttsearch/core/aggregate.hpp"
#include "ttsearch/core/result.hpp"

namespace ttsearch {

/// How a group's member scores combine into the group's weight.
enum class GroupWeight : std::uint8_t {
  kCount,  ///< number of members (majority vote)
  kSum,    ///< sum of aggregated scores ("weighted best-of-N", search-and-learn)
  kMean,   ///< mean of aggregated scores
  kMax,    ///< best member's score
};

constexpr std::string_view to_string(GroupWeight w) noexcept {
  switch (w) {
    case GroupWeight::kCount: return "count";
    case GroupWeight::kSum: return "sum";
    case GroupWeight::kMean: return "mean";
    case GroupWeight::kMax: return "max";
  }
  return "?";
}

inline GroupWeight parse_group_weight(std::string_view s) {
  if (s == "count") return GroupWeight::kCount;
  if (s == "sum") return GroupWeight::kSum;
  if (s == "mean") return GroupWeight::kMean;
  if (s == "max") return GroupWeight::kMax;
  throw InvalidArgument(fmt::format("unknown group weight '{}' (expected count, sum, mean or max)", s));
}

inline void to_json(Json& j, GroupWeight w) { j = std::string(to_string(w)); }
inline void from_json(const Json& j, GroupWeight& w) { w = parse_group_weight(j.get<std::string>()); }

/// Builds a candidate from a scored (or unscored) path: extracts and normalises its answer,
/// aggregates its scores.
inline Candidate make_candidate(const SearchTree& tree, NodeId leaf, Aggregation agg) {
  Candidate c;
  c.leaf = leaf;
  const PathView path = tree.path(leaf);
  const auto extraction = answer::extract_answer(path.text());
  c.answer = extraction.found() ? answer::normalize_answer(extraction.answer) : std::string{};
  c.step_scores = tree.node(leaf).scores;
  c.score = c.step_scores.empty() ? 0.0 : aggregate(c.step_scores, agg);
  c.tokens = path.num_tokens();
  return c;
}

/// Index of the best-scored candidate (ties: lowest index); -1 when there are none.
inline std::int64_t select_best_of_n(std::span<const Candidate> cands) {
  std::int64_t best = -1;
  for (std::size_t i = 0; i < cands.size(); ++i) {
    if (best < 0 || cands[i].score > cands[static_cast<std::size_t>(best)].score) best = static_cast<std::int64_t>(i);
  }
  return best;
}

/// One answer group with its statistics.
struct GroupStat {
  std::int32_t group = 0;
  std::string answer;
  std::int64_t count = 0;
  double weight = 0.0;        ///< by the GroupWeight asked for
  std::int64_t best = -1;     ///< index of the group's highest-scored member
  std::int32_t first = 0;     ///< index of the group's first member
};

/// Groups candidates by equivalent answer and weighs each group. Groups come in first-seen order.
inline std::vector<GroupStat> answer_groups(std::span<const Candidate> cands, GroupWeight weight,
                                            const answer::EquivalenceOptions& eq = {}) {
  std::vector<std::string> answers;
  answers.reserve(cands.size());
  for (const auto& c : cands) answers.push_back(c.answer);
  const auto groups = answer::group_normalized(answers, eq);
  std::vector<GroupStat> stats(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    GroupStat& st = stats[g];
    st.group = static_cast<std::int32_t>(g);
    st.answer = groups.representative[g];
    st.first = groups.members[g].front();
    st.count = static_cast<std::int64_t>(groups.members[g].size());
    double sum = 0.0, mx = -INFINITY;
    for (std::int32_t i : groups.members[g]) {
      const double s = cands[static_cast<std::size_t>(i)].score;
      sum += s;
      if (s > mx) {
        mx = s;
        st.best = i;
      }
    }
    switch (weight) {
      case GroupWeight::kCount: st.weight = static_cast<double>(st.count); break;
      case GroupWeight::kSum: st.weight = sum; break;
      case GroupWeight::kMean: st.weight = sum / static_cast<double>(st.count); break;
      case GroupWeight::kMax: st.weight = mx; break;
    }
  }
  return stats;
}

/// The groups that may win a vote: those with an answer, or all when no candidate has one.
inline std::vector<const GroupStat*> votable(const std::vector<GroupStat>& stats) {
  std::vector<const GroupStat*> out;
  for (const auto& g : stats) if (!g.answer.empty()) out.push_back(&g);
  if (out.empty()) for (const auto& g : stats) out.push_back(&g);
  return out;
}

/// The outcome of a vote: ranked answers and the representative candidate of the winner.
struct VoteOutcome {
  std::vector<std::string> answers;  ///< ranked, best first
  std::int64_t chosen = -1;          ///< candidate index of the winner's representative
};

/// Majority (kCount) or weighted (kSum / kMean / kMax) vote.
inline VoteOutcome select_vote(std::span<const Candidate> cands, GroupWeight weight,
                               const answer::EquivalenceOptions& eq = {}) {
  VoteOutcome out;
  if (cands.empty()) return out;
  const auto stats = answer_groups(cands, weight, eq);
  auto ranked = votable(stats);
  std::stable_sort(ranked.begin(), ranked.end(), [](const GroupStat* a, const GroupStat* b) {
    return a->weight > b->weight;  // stable: ties keep first-seen order
  });
  for (const auto* g : ranked) out.answers.push_back(g->answer);
  out.chosen = ranked.front()->best;
  return out;
}

/// Best-of-Majority (Di et al., arXiv 2510.03199): keep the answer groups whose frequency
/// count/N >= alpha, rank them by reward (`reward` over the members' scores), return the top k.
/// Fallback when no group reaches alpha: keep the groups of the highest frequency (the modal
/// answers) and rank those by reward, so a rare high-reward outlier still cannot win.
inline VoteOutcome select_best_of_majority(std::span<const Candidate> cands, double alpha, std::int32_t k,
                                           GroupWeight reward, const answer::EquivalenceOptions& eq = {}) {
  VoteOutcome out;
  if (cands.empty()) return out;
  const auto stats = answer_groups(cands, reward, eq);
  auto pool = votable(stats);
  const double n = static_cast<double>(cands.size());
  std::vector<const GroupStat*> kept;
  for (const auto* g : pool) {
    if (static_cast<double>(g->count) / n >= alpha) kept.push_back(g);
  }
  if (kept.empty()) {
    std::int64_t top = 0;
    for (const auto* g : pool) top = std::max(top, g->count);
    for (const auto* g : pool) if (g->count == top) kept.push_back(g);
  }
  std::stable_sort(kept.begin(), kept.end(), [](const GroupStat* a, const GroupStat* b) {
    if (a->weight != b->weight) return a->weight > b->weight;
    return a->count > b->count;
  });
  for (std::size_t i = 0; i < kept.size() && i < static_cast<std::size_t>(k); ++i) out.answers.push_back(kept[i]->answer);
  out.chosen = kept.front()->best;
  return out;
}

}  // namespace ttsearch
