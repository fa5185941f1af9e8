#pragma once
/// Replay: recompute a search's final choice from its audit trace alone.
///
/// From the file: the strategy name and options (begin line), the tree with every step's text
/// and the verifier's scores (node and score lines), and the candidates' leaves (end line).
/// Replay re-extracts and re-normalises each candidate's answer from the path text, re-aggregates
/// its scores with the recorded aggregation, re-runs the strategy's selection rule, and compares
/// the answers and the chosen leaf with those recorded.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ttsearch/strategies/best_of_majority.hpp"
#include "ttsearch/trace/jsonl.hpp"

namespace ttsearch {

struct ReplayOutcome {
  std::size_t search = 0;
  std::string strategy;
  std::vector<std::string> recorded;  ///< answers in the trace
  std::vector<std::string> replayed;  ///< answers recomputed from the trace
  NodeId recorded_chosen = kNoNode;
  NodeId replayed_chosen = kNoNode;
  bool match = false;
  std::string detail;  ///< why it does not match, or why it could not be replayed
};

/// Recomputes a strategy's choice: (options, tree, candidate leaves, stop reason) -> outcome.
using ReplayRule = std::function<VoteOutcome(const Json& options, const SearchTree& tree, const std::vector<NodeId>& leaves,
                                             StopReason stop, std::vector<Candidate>& cands)>;

namespace detail {

template <class Options, class Select>
ReplayRule voting_rule(Aggregation (*agg)(const Options&), Select select) {
  return [agg, select](const Json& j, const SearchTree& tree, const std::vector<NodeId>& leaves, StopReason,
                       std::vector<Candidate>& cands) {
    const Options opt = j.get<Options>();
    bool scored = !leaves.empty();
    for (NodeId leaf : leaves) {
      cands.push_back(make_candidate(tree, leaf, agg(opt)));
      scored = scored && !tree.node(leaf).scores.empty();
    }
    return select(cands, opt, scored);
  };
}

}  // namespace detail

/// The replay rules of every strategy, by name. Later strategies register theirs here.
inline std::map<std::string, ReplayRule>& replay_rules() {
  static std::map<std::string, ReplayRule> rules = [] {
    std::map<std::string, ReplayRule> r;
    r["best-of-n"] = detail::voting_rule<BestOfNOptions>(
        [](const BestOfNOptions& o) { return o.aggregation; },
        [](const std::vector<Candidate>& c, const BestOfNOptions& o, bool) { return best_of_n_outcome(c, o); });
    r["majority"] = detail::voting_rule<MajorityVoteOptions>(
        [](const MajorityVoteOptions&) { return Aggregation::kLast; },
        [](const std::vector<Candidate>& c, const MajorityVoteOptions& o, bool) { return majority_outcome(c, o); });
    r["weighted-majority"] = detail::voting_rule<WeightedMajorityOptions>(
        [](const WeightedMajorityOptions& o) { return o.aggregation; },
        [](const std::vector<Candidate>& c, const WeightedMajorityOptions& o, bool scored) {
          return weighted_majority_outcome(c, o, scored);
        });
    r["best-of-majority"] = detail::voting_rule<BestOfMajorityOptions>(
        [](const BestOfMajorityOptions& o) { return o.aggregation; },
        [](const std::vector<Candidate>& c, const BestOfMajorityOptions& o, bool scored) {
          return best_of_majority_outcome(c, o, scored);
        });
    return r;
  }();
  return rules;
}

/// Replays one search of an audit log.
inline ReplayOutcome replay(const AuditSearch& s) {
  ReplayOutcome out;
  out.search = s.search;
  out.strategy = s.strategy();
  if (!s.end) {
    out.detail = s.errors.empty() ? "the search has no end line (the trace was cut short)"
                                  : fmt::format("the search failed: {}", s.errors.front());
    return out;
  }
  const auto& rules = replay_rules();
  const auto it = rules.find(out.strategy);
  if (it == rules.end()) {
    out.detail = fmt::format("no replay rule for strategy '{}'", out.strategy);
    return out;
  }
  const Json& end = *s.end;
  std::vector<NodeId> leaves;
  std::vector<Candidate> cands;
  VoteOutcome v;
  try {
    out.recorded = end.value("answers", std::vector<std::string>{});
    out.recorded_chosen = end.value("chosen", kNoNode);
    for (const auto& c : end.at("candidates")) {
      const auto leaf = c.at("leaf").get<NodeId>();
      if (!s.tree.contains(leaf)) {
        out.detail = fmt::format("candidate leaf {} is not in the recorded tree", leaf);
        return out;
      }
      leaves.push_back(leaf);
    }
    v = it->second(s.begin.value("options", Json::object()), s.tree, leaves,
                   parse_stop_reason(end.value("stop_reason", std::string("completed"))), cands);
  } catch (const Json::exception& e) {
    out.detail = fmt::format("malformed begin or end line: {}", e.what());
    return out;
  } catch (const Error& e) {
    out.detail = fmt::format("cannot replay: {}", e.what());
    return out;
  }
  out.replayed = v.answers;
  out.replayed_chosen = v.chosen >= 0 ? cands[static_cast<std::size_t>(v.chosen)].leaf : kNoNode;
  out.match = out.replayed == out.recorded && out.replayed_chosen == out.recorded_chosen;
  if (!out.match) {
    out.detail = fmt::format("recorded [{}] at node {}, replayed [{}] at node {}", fmt::join(out.recorded, ", "),
                             out.recorded_chosen, fmt::join(out.replayed, ", "), out.replayed_chosen);
  }
  return out;
}

/// Replays every search of an audit file.
inline std::vector<ReplayOutcome> replay_file(const std::string& path) {
  const AuditLog log = read_audit_file(path);
  std::vector<ReplayOutcome> out;
  for (const auto& [_, s] : log.searches) out.push_back(replay(s));
  return out;
}

}  // namespace ttsearch
