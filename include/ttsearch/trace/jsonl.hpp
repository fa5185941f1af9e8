#pragma once
/// The JSONL audit trace: one JSON object per line.
///
/// Lines ("event" field), each with "search" (the search's index in its driver run):
///   audit   first line: {"event":"audit","format":"ttsearch-audit","version":1}
///   begin   strategy, options, seed, problem, budget
///   node    id, parent, depth, text, tokens, logprob, finish   (every generated step; with
///           token_logprobs and token_confidences when sampled with token confidence)
///   score   id, scores                                          (the verifier's scores of the path)
///   mark    id, flag (pruned/kept/terminal/chosen), reason
///   stats   id, visits, value_sum                               (tree-search statistics changed)
///   call    kind (generate/verify), searches, requests, samples, tokens, max_tokens_cap, seconds
///   stop    reason (a budget limit was reached)
///   end     answer, answers, chosen, candidates [{leaf, answer, score, tokens}], stop_reason, ledger
///   error   message (a backend or the strategy threw; the lines before it are complete)
/// The writer flushes after every call, end and error line, so a search that dies leaves a
/// complete, parseable file up to the failure. `read_audit` rebuilds each search's tree.
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "ttsearch/trace/observer.hpp"

namespace ttsearch {

inline constexpr int kAuditVersion = 1;

class JsonlAuditWriter final : public Observer {
 public:
  /// Writes to `path` (truncated). Throws InvalidArgument when it cannot be opened.
  explicit JsonlAuditWriter(const std::string& path) : file_(std::make_unique<std::ofstream>(path)), out_(file_.get()) {
    if (!*file_) throw InvalidArgument(fmt::format("cannot open audit trace '{}' for writing", path));
    header();
  }
  /// Writes to a stream the caller keeps alive.
  explicit JsonlAuditWriter(std::ostream& out) : out_(&out) { header(); }
  ~JsonlAuditWriter() override {
    if (out_) out_->flush();
  }
  JsonlAuditWriter(const JsonlAuditWriter&) = delete;
  JsonlAuditWriter& operator=(const JsonlAuditWriter&) = delete;

  /// Also write each step's token ids (larger files).
  void set_write_token_ids(bool on) noexcept { token_ids_ = on; }

  void on_search_begin(const SearchInfo& i) override {
    Json j{{"event", "begin"}, {"search", i.search}, {"strategy", i.strategy}, {"options", i.options},
           {"seed", i.seed}, {"budget", i.budget}};
    if (i.problem) j["problem"] = *i.problem;
    if (!i.verifier.is_null()) j["verifier"] = i.verifier;
    write(j);
  }
  void on_nodes_added(std::size_t s, const SearchTree& t, std::span<const NodeId> ids) override {
    for (NodeId id : ids) {
      const Node& n = t.node(id);
      Json j{{"event", "node"},       {"search", s},           {"id", n.id},
             {"parent", n.parent},    {"depth", n.depth},      {"text", n.step.text},
             {"tokens", n.step.num_tokens}, {"logprob", n.step.logprob}, {"finish", to_string(n.step.finish)}};
      if (token_ids_) j["token_ids"] = n.step.token_ids;
      if (!n.step.token_confidences.empty() || !n.step.token_logprobs.empty()) {
        j["token_logprobs"] = n.step.token_logprobs;  // replay recomputes confidence-based choices from these
        j["token_confidences"] = n.step.token_confidences;
      }
      write(j);
    }
  }
  void on_nodes_scored(std::size_t s, const SearchTree& t, std::span<const NodeId> ids) override {
    for (NodeId id : ids) write(Json{{"event", "score"}, {"search", s}, {"id", id}, {"scores", t.node(id).scores}});
  }
  void on_node_marked(std::size_t s, const SearchTree&, NodeId id, NodeFlag f, std::string_view reason) override {
    write(Json{{"event", "mark"}, {"search", s}, {"id", id}, {"flag", flag_name(f)}, {"reason", reason}});
  }
  void on_nodes_updated(std::size_t s, const SearchTree& t, std::span<const NodeId> ids) override {
    for (NodeId id : ids) {
      const Node& n = t.node(id);
      write(Json{{"event", "stats"}, {"search", s}, {"id", id}, {"visits", n.visits}, {"value_sum", n.value_sum}});
    }
  }
  void on_call(const CallRecord& c) override {
    write(Json{{"event", "call"},         {"kind", to_string(c.kind)}, {"searches", c.searches},
               {"requests", c.requests},  {"samples", c.samples},      {"tokens", c.tokens},
               {"max_tokens_cap", c.max_tokens_cap}, {"seconds", c.seconds}});
    out_->flush();
  }
  void on_budget_stop(std::size_t s, StopReason r) override {
    write(Json{{"event", "stop"}, {"search", s}, {"reason", to_string(r)}});
  }
  void on_search_end(std::size_t s, const SearchResult& r) override {
    Json cands = Json::array();
    for (const Candidate& c : r.candidates) {
      cands.push_back(Json{{"leaf", c.leaf}, {"answer", c.answer}, {"score", c.score}, {"tokens", c.tokens}});
    }
    Json end{{"event", "end"},       {"search", s},          {"strategy", r.strategy},
             {"answer", r.answer},   {"answers", r.answers}, {"chosen", r.chosen},
             {"candidates", cands},  {"stop_reason", to_string(r.stop_reason)}, {"ledger", r.ledger}};
    if (r.failed()) end["error"] = r.error;  // the same message as the search's error line
    write(end);
    out_->flush();
  }
  void on_error(std::size_t s, std::string_view msg) override {
    write(Json{{"event", "error"}, {"search", s}, {"message", msg}});
    out_->flush();
  }

 private:
  void header() { write(Json{{"event", "audit"}, {"format", "ttsearch-audit"}, {"version", kAuditVersion}}); }
  void write(const Json& j) {
    // Invalid UTF-8 in model output must not abort the trace: replace it.
    *out_ << j.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
  }
  std::unique_ptr<std::ofstream> file_;
  std::ostream* out_ = nullptr;
  bool token_ids_ = false;
};

/// One search as read back from an audit file.
struct AuditSearch {
  std::size_t search = 0;
  Json begin;                 ///< the begin line (strategy, options, seed, problem, budget)
  SearchTree tree;
  std::optional<Json> end;    ///< the end line; absent when the search died
  std::vector<std::string> errors;
  std::vector<std::string> stops;
  std::int64_t score_lines = 0;  ///< score events (one per scored path)
  /// The score events in trace order (node, scores): what the verifier returned, call by call.
  std::vector<std::pair<NodeId, std::vector<double>>> score_events;
  std::vector<Json> marks;
  [[nodiscard]] std::string strategy() const { return begin.value("strategy", std::string{}); }
};

struct AuditLog {
  std::map<std::size_t, AuditSearch> searches;
  std::vector<Json> calls;
};

namespace detail {

/// An integer field of an audit line, in range, never a float or a wrapped value.
template <class T>
T audit_integer(const Json& j, const char* key, const std::string& name, std::size_t lineno) {
  if (!j.contains(key)) throw ParseError(fmt::format("{}:{}: missing field \"{}\"", name, lineno, key));
  try {
    return json_integer<T>(j, key, T{}, "event");
  } catch (const InvalidArgument& e) {
    throw ParseError(fmt::format("{}:{}: {}", name, lineno, e.what()));
  }
}

}  // namespace detail

/// Parses an audit trace. Throws ParseError naming the line and the problem on malformed input.
inline AuditLog read_audit(std::istream& in, const std::string& name = "<audit>") {
  AuditLog log;
  std::string line;
  std::size_t lineno = 0;
  auto fail = [&](const std::string& what) -> void {
    throw ParseError(fmt::format("{}:{}: {}", name, lineno, what));
  };
  bool header_seen = false;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    Json j;
    try {
      j = Json::parse(line);
    } catch (const Json::exception& e) {  // parse_error, or out_of_range on number overflow
      fail(fmt::format("not valid JSON ({})", e.what()));
    }
    if (!j.is_object() || !j.contains("event") || !j["event"].is_string()) fail("missing string field \"event\"");
    const std::string ev = j["event"];
    try {
      if (ev == "audit") {
        if (j.value("format", std::string{}) != "ttsearch-audit") fail("not a ttsearch audit trace");
        if (!j.contains("version") || !j["version"].is_number_integer() || j["version"] != kAuditVersion) {
          fail(fmt::format("unsupported audit version {} (this build reads {})", j.value("version", Json()).dump(), kAuditVersion));
        }
        header_seen = true;
        continue;
      }
      if (!header_seen) fail("the first line must be the {\"event\":\"audit\"} header");
      if (ev == "call") {
        log.calls.push_back(std::move(j));
        continue;
      }
      const auto s = detail::audit_integer<std::size_t>(j, "search", name, lineno);
      AuditSearch& as = log.searches[s];
      as.search = s;
      if (ev == "begin") {
        if (!as.begin.is_null()) fail(fmt::format("search {} has a second begin line", s));
        as.begin = std::move(j);
        continue;
      }
      if (as.begin.is_null()) fail(fmt::format("search {}: a \"{}\" event before its begin line", s, ev));
      if (as.end) fail(fmt::format("search {}: a \"{}\" event after its end line", s, ev));
      if (ev == "node") {
        Step step;
        step.text = j.at("text").get<std::string>();
        step.num_tokens = detail::audit_integer<std::int64_t>(j, "tokens", name, lineno);
        if (step.num_tokens < 0) fail(fmt::format("node {}: tokens must be >= 0 (got {})", j.at("id").dump(), step.num_tokens));
        step.logprob = j.value("logprob", 0.0);
        const auto finish = j.at("finish").get<std::string>();
        if (finish != "stop" && finish != "eos" && finish != "length" && finish != "confidence") {
          fail(fmt::format("unknown finish reason \"{}\"", finish));
        }
        step.finish = parse_finish_reason(finish);
        if (j.contains("token_ids")) {
          const Json& ids = j["token_ids"];
          if (!ids.is_array()) fail("token_ids must be an array");
          for (std::size_t k = 0; k < ids.size(); ++k) {  // each a 32-bit integer, never a float cast (UB) or a wrap
            step.token_ids.push_back(detail::audit_integer<std::int32_t>(Json{{"token_ids[]", ids[k]}}, "token_ids[]", name, lineno));
          }
        }
        if (j.contains("token_logprobs")) step.token_logprobs = j["token_logprobs"].get<std::vector<float>>();
        if (j.contains("token_confidences")) step.token_confidences = j["token_confidences"].get<std::vector<float>>();
        if ((!step.token_logprobs.empty() || !step.token_confidences.empty()) &&
            (step.token_logprobs.size() != static_cast<std::size_t>(step.num_tokens) ||
             step.token_confidences.size() != static_cast<std::size_t>(step.num_tokens))) {
          fail(fmt::format("node {}: {} tokens but {} token log-probs and {} token confidences", j.at("id").dump(), step.num_tokens,
                           step.token_logprobs.size(), step.token_confidences.size()));
        }
        const auto parent = detail::audit_integer<NodeId>(j, "parent", name, lineno);
        if (!as.tree.contains(parent)) fail(fmt::format("node {} names unknown parent {}", j.at("id").dump(), parent));
        const NodeId id = as.tree.add_child(parent, std::move(step));
        if (id != detail::audit_integer<NodeId>(j, "id", name, lineno)) {
          fail(fmt::format("node id {} out of order (expected {})", j.at("id").dump(), id));
        }
      } else if (ev == "score") {
        const auto id = detail::audit_integer<NodeId>(j, "id", name, lineno);
        if (!as.tree.contains(id)) fail(fmt::format("score for unknown node {}", id));
        Node& n = as.tree.node(id);
        n.scores.clear();
        for (const auto& v : j.at("scores")) {
          if (!v.is_number()) fail(fmt::format("score of node {} is not a number", id));
          n.scores.push_back(v.get<double>());
        }
        if (n.scores.empty()) fail(fmt::format("score line of node {} holds no score (a verifier returns at least one per path)", id));
        n.flags |= kFlagScored;
        ++as.score_lines;
        as.score_events.emplace_back(id, n.scores);
      } else if (ev == "mark") {
        const auto id = detail::audit_integer<NodeId>(j, "id", name, lineno);
        if (!as.tree.contains(id)) fail(fmt::format("mark for unknown node {}", id));
        const std::string flag = j.at("flag").get<std::string>();
        bool known = false;
        for (NodeFlag f : {kFlagScored, kFlagPruned, kFlagKept, kFlagTerminal, kFlagChosen}) {
          if (flag == flag_name(f)) {
            as.tree.node(id).flags |= f;
            known = true;
          }
        }
        if (!known) fail(fmt::format("unknown flag \"{}\"", flag));
        as.tree.node(id).reason = j.value("reason", std::string{});
        as.marks.push_back(std::move(j));
      } else if (ev == "stats") {
        const auto id = detail::audit_integer<NodeId>(j, "id", name, lineno);
        if (!as.tree.contains(id)) fail(fmt::format("stats for unknown node {}", id));
        as.tree.node(id).visits = detail::audit_integer<std::int32_t>(j, "visits", name, lineno);
        as.tree.node(id).value_sum = j.at("value_sum").get<double>();
      } else if (ev == "stop") {
        as.stops.push_back(j.at("reason").get<std::string>());
      } else if (ev == "end") {
        as.end = std::move(j);
      } else if (ev == "error") {
        as.errors.push_back(j.at("message").get<std::string>());
      } else {
        fail(fmt::format("unknown event \"{}\"", ev));
      }
    } catch (const Json::exception& e) {
      fail(fmt::format("bad \"{}\" event: {}", ev, e.what()));
    }
  }
  if (!header_seen) {
    throw ParseError(fmt::format("{}: empty file, or not a ttsearch audit trace", name));
  }
  return log;
}

inline AuditLog read_audit_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InvalidArgument(fmt::format("cannot open audit trace '{}'", path));
  return read_audit(in, path);
}

}  // namespace ttsearch
