#pragma once
/// Replay: recompute a search's final choice from its audit trace alone.
///
/// From the file: the strategy name and options (begin line), the tree with every step's text
/// and the verifier's scores (node and score lines), and the candidates' leaves (end line).
/// Replay re-extracts and re-normalises each candidate's answer from the path text, re-aggregates
/// its scores with the recorded aggregation, re-runs the strategy's selection rule, and compares
/// the answers and the chosen leaf with those recorded.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ttsearch/strategies/registry.hpp"
#include "ttsearch/trace/jsonl.hpp"
#include "ttsearch/verifiers/confidence.hpp"

namespace ttsearch {

struct ReplayOutcome {
  std::size_t search = 0;
  std::string strategy;
  std::vector<std::string> recorded;  ///< answers in the trace
  std::vector<std::string> replayed;  ///< answers recomputed from the trace
  NodeId recorded_chosen = kNoNode;
  NodeId replayed_chosen = kNoNode;
  bool match = false;
  bool failed = false;  ///< the search failed when it ran (its error is recorded): nothing to replay
  std::string detail;  ///< why it does not match, why it could not be replayed, or why it failed
};

namespace detail {

/// Rules every strategy's marks obey: no node both kept and pruned; nothing grows under a pruned
/// node except more pruned nodes (a lookahead chain); in the strategies that expand only what
/// they keep (beam, REBASE, tree of thoughts), a node with an unpruned child was kept.
inline std::string check_marks(const SearchTree& tree, const std::string& strategy) {
  const bool expand_kept_only = strategy == "beam" || strategy == "rebase" || strategy == "tot-bfs" || strategy == "tot-dfs";
  for (NodeId id = 1; tree.contains(id); ++id) {
    const Node& n = tree.node(id);
    if (n.has(kFlagKept) && n.has(kFlagPruned)) return fmt::format("node {} is marked both kept and pruned", id);
    for (NodeId c = n.first_child; c != kNoNode; c = tree.node(c).next_sibling) {
      if (tree.node(c).has(kFlagPruned)) continue;
      if (n.has(kFlagPruned)) return fmt::format("node {} is pruned, yet its child {} was generated and not pruned", id, c);
      if (expand_kept_only && !n.has(kFlagKept)) return fmt::format("node {} was expanded (child {}) but never kept", id, c);
    }
  }
  return {};
}

/// The recorded ledger of search `s` against the trace: generated tokens and steps are the nodes',
/// scored paths the score lines', calls the call lines naming the search.
inline std::string check_ledger(const AuditLog& log, const AuditSearch& s) {
  if (!s.end || !s.end->contains("ledger")) return {};
  ComputeLedger l;
  from_json(s.end->at("ledger"), l);
  std::int64_t tokens = 0, steps = 0;
  for (NodeId id = 1; s.tree.contains(id); ++id) {
    tokens += s.tree.node(id).step.num_tokens;
    ++steps;
  }
  std::int64_t gen_calls = 0, ver_calls = 0;
  for (const Json& c : log.calls) {
    const auto& who = c.at("searches");
    if (std::find(who.begin(), who.end(), Json(s.search)) == who.end()) continue;
    (c.at("kind") == "generate" ? gen_calls : ver_calls) += 1;
  }
  auto differ = [](const char* what, std::int64_t recorded, std::int64_t traced) {
    return fmt::format("the ledger's {} is {}, the trace holds {}", what, recorded, traced);
  };
  if (l.generated_tokens != tokens) return differ("generated_tokens", l.generated_tokens, tokens);
  if (l.generated_steps != steps) return differ("generated_steps", l.generated_steps, steps);
  if (l.scored_paths != s.score_lines) return differ("scored_paths", l.scored_paths, s.score_lines);
  if (l.generator_calls != gen_calls) return differ("generator_calls", l.generator_calls, gen_calls);
  if (l.verifier_calls != ver_calls) return differ("verifier_calls", l.verifier_calls, ver_calls);
  return {};
}

}  // namespace detail

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
  if (s.end->value("stop_reason", std::string{}) == "failed") {
    // a failed search has no choice to recompute; its end line and error line must agree
    const std::string err = s.end->value("error", std::string{});
    if (err.empty() || std::find(s.errors.begin(), s.errors.end(), err) == s.errors.end()) {
      out.detail = "the end line says the search failed, but no error line records that error";
      return out;
    }
    out.failed = true;
    out.detail = fmt::format("the search failed: {}", err);
    return out;
  }
  const auto& registry = strategy_registry();
  const auto it = registry.find(out.strategy);
  if (it == registry.end()) {
    out.detail = fmt::format("no replay rule for strategy '{}'", out.strategy);
    return out;
  }
  const Json& end = *s.end;
  std::vector<NodeId> leaves;
  std::vector<Candidate> cands;
  VoteOutcome v;
  std::string inconsistency;  // a recorded decision the recomputation contradicts
  try {
    out.recorded = end.value("answers", std::vector<std::string>{});
    out.recorded_chosen = detail::json_integer<NodeId>(end, "chosen", kNoNode, "end");
    const Json options = s.begin.value("options", Json::object());
    if (it->second.validate) it->second.validate(options);  // recorded options a strategy would refuse cannot be replayed
    for (const auto& c : end.at("candidates")) {
      if (!c.is_object() || !c.contains("leaf")) throw InvalidArgument("a candidate has no \"leaf\"");
      const auto leaf = detail::json_integer<NodeId>(c, "leaf", kNoNode, "candidate");
      if (!s.tree.contains(leaf)) {
        out.detail = fmt::format("candidate leaf {} is not in the recorded tree", leaf);
        return out;
      }
      leaves.push_back(leaf);
    }
    if (it->second.samples_are_candidates) {  // every sampled trace is a candidate, in sampling order
      std::vector<NodeId> sampled;
      for (NodeId id = s.tree.node(SearchTree::root()).first_child; id != kNoNode; id = s.tree.node(id).next_sibling) sampled.push_back(id);
      if (sampled != leaves) {
        out.detail = fmt::format("the candidates ({} leaves) are not the {} sampled traces", leaves.size(), sampled.size());
        return out;
      }
    }
    v = it->second.replay(options, s.tree, leaves, cands);
    // the recorded per-candidate answers and scores must be the recomputed ones
    const Json& recorded = end.at("candidates");
    for (std::size_t i = 0; i < cands.size() && i < recorded.size() && inconsistency.empty(); ++i) {
      const std::string ans = recorded[i].value("answer", std::string{});
      const double score = recorded[i].value("score", 0.0);
      if (ans != cands[i].answer) {
        inconsistency = fmt::format("candidate {} (node {}): recorded answer \"{}\", recomputed \"{}\"", i, cands[i].leaf, ans, cands[i].answer);
      } else if (std::fabs(score - cands[i].score) > 1e-9 * std::max(1.0, std::fabs(score))) {
        inconsistency = fmt::format("candidate {} (node {}): recorded score {}, recomputed {}", i, cands[i].leaf, score, cands[i].score);
      }
    }
    // a verifier that needs no model (recorded in the begin line) is re-run on the recorded tree
    const Json verifier = s.begin.value("verifier", Json());
    if (inconsistency.empty() && verifier.is_object() && verifier.value("kind", std::string{}) == "confidence") {
      ConfidenceVerifierOptions vo;
      vo.signal = parse_confidence_signal(verifier.at("signal").get<std::string>());
      vo.window = detail::json_integer<std::int64_t>(verifier, "window", vo.window, "verifier");
      const ConfidenceVerifier cv(vo);
      for (NodeId id = 1; s.tree.contains(id) && inconsistency.empty(); ++id) {
        const Node& n = s.tree.node(id);
        if (!n.has(kFlagScored)) continue;
        const std::vector<ScoreRequest> req = {{nullptr, s.tree.path(id)}};
        const auto again = cv.score(req).scores.front();
        bool same = again.size() == n.scores.size();
        for (std::size_t k = 0; same && k < again.size(); ++k) same = std::fabs(again[k] - n.scores[k]) <= 1e-9 * std::max(1.0, std::fabs(again[k]));
        if (!same) inconsistency = fmt::format("node {}: recorded confidence scores differ from the recomputed ones", id);
      }
    }
    if (inconsistency.empty()) inconsistency = detail::check_marks(s.tree, out.strategy);
    if (inconsistency.empty() && it->second.audit) {
      try {
        it->second.audit(options, s.tree, cands, end.value("stop_reason", std::string("completed")) != "completed");
      } catch (const Error& e) {
        inconsistency = e.what();
      }
    }
  } catch (const Json::exception& e) {
    out.detail = fmt::format("malformed begin or end line: {}", e.what());
    return out;
  } catch (const Error& e) {
    out.detail = fmt::format("cannot replay: {}", e.what());
    return out;
  }
  out.replayed = v.answers;
  out.replayed_chosen = v.chosen >= 0 ? cands[static_cast<std::size_t>(v.chosen)].leaf : kNoNode;
  out.match = out.replayed == out.recorded && out.replayed_chosen == out.recorded_chosen && inconsistency.empty();
  if (out.replayed != out.recorded || out.replayed_chosen != out.recorded_chosen) {
    out.detail = fmt::format("recorded [{}] at node {}, replayed [{}] at node {}", fmt::join(out.recorded, ", "),
                             out.recorded_chosen, fmt::join(out.replayed, ", "), out.replayed_chosen);
  }
  if (!inconsistency.empty()) out.detail += (out.detail.empty() ? "" : "; ") + inconsistency;
  return out;
}

/// Replays every search of an audit log, and checks each ledger against the trace's nodes, score
/// lines and calls (a ledger that says otherwise is a mismatch).
inline std::vector<ReplayOutcome> replay_log(const AuditLog& log) {
  std::vector<ReplayOutcome> out;
  for (const auto& [_, s] : log.searches) {
    ReplayOutcome o = replay(s);
    if (o.match) {
      try {
        if (const std::string why = detail::check_ledger(log, s); !why.empty()) {
          o.match = false;
          o.detail = why;
        }
      } catch (const std::exception& e) {  // a malformed call line or ledger
        o.match = false;
        o.detail = fmt::format("cannot check the ledger: {}", e.what());
      }
    }
    out.push_back(std::move(o));
  }
  return out;
}

/// Replays every search of an audit file.
inline std::vector<ReplayOutcome> replay_file(const std::string& path) {
  const AuditLog log = read_audit_file(path);
  return replay_log(log);
}

}  // namespace ttsearch
