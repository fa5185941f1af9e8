#pragma once
/// Replay: recompute a search's decisions and final choice from its audit trace alone.
///
/// From the file: the strategy name and options (begin line), the tree with every step's text
/// and the verifier's scores (node and score lines), and the candidates' leaves (end line).
/// Replay re-extracts and re-normalises each candidate's answer from the path text, re-aggregates
/// its scores with the recorded aggregation, re-runs the strategy's selection rule, and compares
/// the answers and the chosen leaf with those recorded. Then it re-executes the strategy itself on
/// the recorded backend outputs (detail::reexecute) and requires every decision it makes (each
/// request, keep, prune, allocation, visit count, the candidate set and the choice) to be the
/// recorded one, and the ledger to add up to the trace's events (replay_log).
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

/// Re-executes the recorded search: runs the strategy's own code again, from the recorded options,
/// budget and seed, and answers each of its requests with what the trace recorded (the children
/// of a generate call are the next recorded nodes, which must have grown under the nodes the
/// strategy extends, as many as it asks for; a score call gets the next recorded score lines,
/// which must name the paths it asks to score). Where the recorded run was refused by its budget
/// (a stop line) the re-executed request is refused too, once every recorded event is used.
/// Then every decision must be the recorded one: the keeps, prunes and terminal marks with their
/// reasons and in their order (so REBASE's allocations "n of B children", DVTS's and ToT's
/// rankings, MCTS's duplicates and rollouts), MCTS's visit counts and values, the candidate set,
/// the answers and the chosen leaf. Returns the first difference, or "" when there is none.
inline std::string reexecute(const AuditSearch& s, const StrategyEntry& entry, const Json& options) {
  Problem problem;
  if (s.begin.contains("problem") && s.begin.at("problem").is_object()) problem = s.begin.at("problem").get<Problem>();
  Budget budget;
  if (s.begin.contains("budget")) budget = s.begin.at("budget").get<Budget>();
  const auto seed = json_integer<std::uint64_t>(s.begin, "seed", 0, "begin");
  const SearchSpec spec = entry.make(problem, options, budget, seed);
  const SearchTree& rec = s.tree;
  const Json& end = *s.end;
  SearchContext ctx(problem, seed);
  ctx.set_visit_limit(rec.node(SearchTree::root()).visits);
  SearchTask task = spec.start(ctx);
  NodeId next_node = 1;       // the next recorded node a generate call hands out
  std::size_t next_score = 0;  // the next recorded score line a score call hands out
  std::size_t next_mark = 0;   // the next recorded mark line the strategy must make again
  std::size_t calls = 0;       // generate and score calls served
  std::string diff;
  const bool refused = !s.stops.empty();
  bool refusal_used = false;
  // the recorded stop must be a budget limit the recorded budget sets, and the end line must agree
  const std::string end_reason = end.value("stop_reason", std::string("completed"));
  // the recorded refusal, as the StopReason the driver set (parse_stop_reason names an unknown one)
  const StopReason stop = refused ? parse_stop_reason(s.stops.front()) : StopReason::kCompleted;
  if (refused) {
    const std::string& why = s.stops.front();
    bool set = false;  // the recorded budget sets the limit the stop names
    switch (stop) {
      case StopReason::kGeneratedTokens: set = budget.max_generated_tokens.has_value(); break;
      case StopReason::kVerifierTokens: set = budget.max_verifier_tokens.has_value(); break;
      case StopReason::kCalls: set = budget.max_calls.has_value(); break;
      case StopReason::kDeadline: set = budget.max_wall_time.has_value(); break;
      case StopReason::kCompleted:
      case StopReason::kFailed: break;  // not a refusal
    }
    if (!set) return fmt::format("the trace records a budget stop ({}) that its budget does not set", why);
    if (s.stops.size() > 1) return fmt::format("the trace records {} budget stops for one search (a search is refused once)", s.stops.size());
    if (end_reason != why) return fmt::format("the end line's stop_reason is {}, the trace's stop line {}", end_reason, why);
  } else if (end_reason != "completed" && !(end_reason == "budget:generated_tokens" && budget.max_generated_tokens)) {
    return fmt::format("the end line's stop_reason is {}, but the trace records no budget stop", end_reason);
  }
  auto all_used = [&] { return !rec.contains(next_node) && next_score == s.score_events.size(); };
  // Compares the marks the last resume made with the next recorded ones.
  auto check_marks = [&] {
    for (const auto& m : ctx.take_marks()) {
      if (!diff.empty()) return;
      const std::string flag(flag_name(m.flag));
      const std::string& reason = ctx.tree().node(m.id).reason;
      if (next_mark >= s.marks.size()) {
        diff = fmt::format("re-executed, the strategy marks node {} {} (\"{}\"); the trace records no more marks", m.id, flag, reason);
        return;
      }
      const Json& r = s.marks[next_mark++];
      const NodeId rid = json_integer<NodeId>(r, "id", kNoNode, "mark");
      const std::string rflag = r.value("flag", std::string{}), rreason = r.value("reason", std::string{});
      if (rid != m.id || rflag != flag || rreason != reason) {
        diff = fmt::format("re-executed, the strategy marks node {} {} (\"{}\") where the trace marks node {} {} (\"{}\")", m.id, flag,
                           reason, rid, rflag, rreason);
      }
    }
    (void)ctx.take_touched();
  };
  // Refuses the pending request as the recorded run's budget did; false when the trace has no refusal here.
  auto refuse = [&]() -> bool {
    if (!refused || refusal_used || !all_used()) return false;
    refusal_used = true;
    ctx.set_stopped(stop);
    return true;
  };
  task.resume();
  check_marks();
  const std::size_t max_rounds = rec.size() + s.score_events.size() + 4;  // each round uses a recorded event, or ends
  for (std::size_t round = 0; diff.empty() && !task.done(); ++round) {
    if (round > max_rounds) return "re-executed, the strategy keeps asking after every recorded event was used";
    if (ctx.pending() == SearchContext::Pending::kGenerate) {
      if (!rec.contains(next_node) && refuse()) {
        // the recorded run's budget refused this call
      } else {
        Expansion exp;
        for (const GenerateOp& op : ctx.generate_ops()) {
          auto& kids = exp.children.emplace_back();
          for (std::int32_t k = 0; k < op.num_samples && diff.empty(); ++k) {
            if (!rec.contains(next_node)) {
              diff = fmt::format("re-executed, the strategy extends node {} {} time(s), but the trace ends after node {}", op.parent,
                                 op.num_samples, next_node - 1);
            } else if (rec.node(next_node).parent != op.parent) {
              diff = fmt::format("re-executed, the strategy extends node {} here, but the trace's node {} grew under node {}", op.parent,
                                 next_node, rec.node(next_node).parent);
            } else if (rec.node(next_node).step.num_tokens > op.params.max_tokens) {
              diff = fmt::format("node {} has {} tokens, more than the {} its request allowed", next_node, rec.node(next_node).step.num_tokens,
                                 op.params.max_tokens);
            } else {
              kids.push_back(ctx.tree().add_child(op.parent, rec.node(next_node).step));
              ++next_node;
            }
          }
        }
        if (!diff.empty()) break;
        (void)ctx.next_generate_index();
        ctx.set_expansion(std::move(exp));
        ++calls;
      }
    } else if (ctx.pending() == SearchContext::Pending::kScore) {
      if (next_score == s.score_events.size() && refuse()) {
        // refused
      } else {
        for (NodeId leaf : ctx.score_ops()) {
          if (next_score >= s.score_events.size()) {
            diff = fmt::format("re-executed, the strategy scores node {}, but the trace has no more score lines", leaf);
            break;
          }
          const auto& [id, scores] = s.score_events[next_score++];
          if (id != leaf) {
            diff = fmt::format("re-executed, the strategy scores node {} where the trace scores node {}", leaf, id);
            break;
          }
          Node& n = ctx.tree().node(leaf);
          n.scores = scores;
          n.flags |= kFlagScored;
        }
        if (!diff.empty()) break;
        ++calls;
      }
    } else {
      return "re-executed, the strategy waits without a request";
    }
    task.resume();
    check_marks();
  }
  if (!diff.empty()) return diff;
  if (auto err = task.error()) {
    try {
      std::rethrow_exception(err);
    } catch (const std::exception& e) {
      return fmt::format("re-executed, the strategy throws: {}", e.what());
    }
  }
  SearchResult r = task.take_result();
  if (rec.contains(next_node)) return fmt::format("re-executed, the strategy ends before node {} of the trace was generated", next_node);
  if (next_score != s.score_events.size()) {
    return fmt::format("re-executed, the strategy ends with {} of the trace's {} score lines unused", s.score_events.size() - next_score,
                       s.score_events.size());
  }
  if (next_mark != s.marks.size()) {
    const Json& m = s.marks[next_mark];
    return fmt::format("re-executed, the strategy never marks node {} {} (\"{}\") as the trace does", m.value("id", Json()).dump(),
                       m.value("flag", std::string{}), m.value("reason", std::string{}));
  }
  if (refused && !refusal_used) {
    return fmt::format("the trace records a budget stop ({}) that the re-executed search never reaches", s.stops.front());
  }
  // the recorded work within the recorded budget (what the driver enforces before each call)
  std::int64_t generated = 0;
  for (NodeId id = 1; rec.contains(id); ++id) generated += rec.node(id).step.num_tokens;
  if (budget.max_generated_tokens && generated > *budget.max_generated_tokens) {
    return fmt::format("the trace's nodes hold {} generated tokens, more than the budget's {}", generated, *budget.max_generated_tokens);
  }
  if (budget.max_calls && static_cast<std::int64_t>(calls) > *budget.max_calls) {
    return fmt::format("re-executed, the search makes {} backend calls, more than the budget's {}", calls, *budget.max_calls);
  }
  for (NodeId id = SearchTree::root(); rec.contains(id); ++id) {
    const Node &a = ctx.tree().node(id), &b = rec.node(id);
    if (a.visits != b.visits || std::fabs(a.value_sum - b.value_sum) > 1e-9 * std::max(1.0, std::fabs(b.value_sum))) {
      return fmt::format("node {}: the trace records {} visits and value sum {}, re-executed {} and {}", id, b.visits, b.value_sum, a.visits,
                         a.value_sum);
    }
  }
  std::vector<NodeId> leaves;
  for (const auto& c : end.at("candidates")) leaves.push_back(json_integer<NodeId>(c, "leaf", kNoNode, "candidate"));
  std::vector<NodeId> again;
  for (const Candidate& c : r.candidates) again.push_back(c.leaf);
  if (again != leaves) {
    return fmt::format("re-executed, the candidates are the leaves [{}], the trace records [{}]", fmt::join(again, ", "), fmt::join(leaves, ", "));
  }
  const auto answers = end.value("answers", std::vector<std::string>{});
  const auto chosen = json_integer<NodeId>(end, "chosen", kNoNode, "end");
  if (r.answers != answers || r.chosen != chosen) {
    return fmt::format("re-executed, the strategy answers [{}] at node {}, the trace [{}] at node {}", fmt::join(r.answers, ", "), r.chosen,
                       fmt::join(answers, ", "), chosen);
  }
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
    if (inconsistency.empty()) inconsistency = detail::reexecute(s, it->second, options);
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
