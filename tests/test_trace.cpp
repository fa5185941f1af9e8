#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <sstream>

#include <ttsearch/strategies/replay.hpp>
#include <ttsearch/testing/simulated.hpp>

using namespace ttsearch;

namespace {
template <class Options>
std::string run_traced(const Options& opt, int problems = 12) {
  const auto ps = testing::make_simulated_problems({.num_problems = problems, .seed = 9});
  testing::SimulatedGenerator gen;
  testing::SimulatedPrm prm(testing::SimulatedPrmOptions{.noise = 1.5});
  std::stringstream out;
  {
    JsonlAuditWriter w(out);
    solve_batch(std::span<const Problem>(ps), gen, prm, opt, Budget{}, w, 4);
  }
  return out.str();
}

std::string replace_once(std::string s, const std::string& a, const std::string& b) {
  const auto p = s.find(a);
  REQUIRE(p != std::string::npos);
  return s.replace(p, a.size(), b);
}
}  // namespace

TEST_CASE("the audit trace holds the options / seed / every path / scores and the choice", "[trace]") {
  const std::string text = run_traced(BestOfNOptions{.n = 4, .aggregation = Aggregation::kMin}, 3);
  std::stringstream in(text);
  const AuditLog log = read_audit(in);
  REQUIRE(log.searches.size() == 3);
  REQUIRE(log.calls.size() == 2);  // one batched generate, one batched verify
  for (const auto& [i, s] : log.searches) {
    REQUIRE(s.strategy() == "best-of-n");
    REQUIRE(s.begin.at("options").at("aggregation") == "min");
    REQUIRE(s.begin.at("seed").get<std::uint64_t>() == batch_seed(4, i));
    REQUIRE(s.begin.at("problem").at("id") == fmt::format("sim-{}", i));
    REQUIRE(s.tree.size() == 5);
    for (NodeId id = 1; id < 5; ++id) {
      REQUIRE_FALSE(s.tree.node(id).step.text.empty());
      REQUIRE(s.tree.node(id).step.num_tokens > 0);
      REQUIRE(s.tree.node(id).has(kFlagScored));
    }
    REQUIRE(s.end);
    REQUIRE(s.end->at("candidates").size() == 4);
    REQUIRE(s.end->at("ledger").at("generated_tokens").get<std::int64_t>() > 0);
    REQUIRE(s.marks.size() == 4);
  }
}

TEST_CASE("replay recomputes every strategy's choice from the file alone", "[trace][replay]") {
  std::vector<std::string> traces = {
      run_traced(BestOfNOptions{.n = 8, .aggregation = Aggregation::kProd}),
      run_traced(MajorityVoteOptions{.n = 8}),
      run_traced(WeightedMajorityOptions{.n = 8, .weight = GroupWeight::kMean}),
      run_traced(BestOfMajorityOptions{.n = 8, .alpha = 0.2, .k = 2}),
  };
  for (const auto& t : traces) {
    std::stringstream in(t);
    const AuditLog log = read_audit(in);
    REQUIRE(log.searches.size() == 12);
    for (const auto& [i, s] : log.searches) {
      const auto r = replay(s);
      INFO(r.strategy << " search " << i << ": " << r.detail);
      REQUIRE(r.match);
      REQUIRE_FALSE(r.replayed.empty());
    }
  }
}

TEST_CASE("replay detects a trace whose scores were altered", "[trace][replay]") {
  // Best-of-n over 2 samples: raise the losing candidate's scores to 1 and the choice must flip.
  const std::string text = run_traced(BestOfNOptions{.n = 2}, 1);
  std::stringstream in(text);
  const AuditLog log = read_audit(in);
  const auto& s = log.searches.at(0);
  const NodeId chosen = s.end->at("chosen").get<NodeId>();
  const NodeId other = chosen == 1 ? 2 : 1;
  std::string line = Json{{"event", "score"}, {"search", 0}, {"id", other}, {"scores", s.tree.node(other).scores}}.dump();
  std::vector<double> ones(s.tree.node(other).scores.size(), 1.0);
  std::string forged = Json{{"event", "score"}, {"search", 0}, {"id", other}, {"scores", ones}}.dump();
  // the writer emits keys in the same (sorted) order, so the line is found verbatim
  std::stringstream tampered(replace_once(text, line, forged));
  const auto r = replay(read_audit(tampered).searches.at(0));
  REQUIRE_FALSE(r.match);
  REQUIRE(r.replayed_chosen == other);
  REQUIRE(r.detail.find("recorded") != std::string::npos);
}

TEST_CASE("malformed audit traces give errors naming the line", "[trace]") {
  auto parse = [](const std::string& s) {
    std::stringstream in(s);
    return read_audit(in, "t.jsonl");
  };
  const std::string header = R"({"event":"audit","format":"ttsearch-audit","version":1})"
                             "\n";
  const std::string begin = R"({"event":"begin","search":0,"strategy":"majority","options":{}})"
                            "\n";
  REQUIRE_THROWS_WITH(parse(""), Catch::Contains("t.jsonl: empty file"));
  REQUIRE_THROWS_WITH(parse("{\"event\":\"begin\",\"search\":0}\n"), Catch::Contains("t.jsonl:1: the first line must be"));
  REQUIRE_THROWS_WITH(parse(header + "{oops\n"), Catch::Contains("t.jsonl:2: not valid JSON"));
  REQUIRE_THROWS_WITH(parse(header + "[1]\n"), Catch::Contains("t.jsonl:2: missing string field \"event\""));
  REQUIRE_THROWS_WITH(parse(header + begin + R"({"event":"node","search":0,"id":1,"parent":0,"depth":1,"text":"x","tokens":1,"finish":"maybe"})"),
                      Catch::Contains("t.jsonl:3: unknown finish reason \"maybe\""));
  REQUIRE_THROWS_WITH(parse(header + begin + R"({"event":"node","search":0,"id":1,"parent":0})"),
                      Catch::Contains("t.jsonl:3: bad \"node\" event"));
  REQUIRE_THROWS_WITH(parse(header + begin + R"({"event":"score","search":0,"id":3,"scores":[1]})"),
                      Catch::Contains("t.jsonl:3: score for unknown node 3"));
  REQUIRE_THROWS_WITH(parse(header + begin + R"({"event":"teleport","search":0})"), Catch::Contains("unknown event \"teleport\""));
  REQUIRE_THROWS_WITH(parse(R"({"event":"audit","format":"ttsearch-audit","version":99})"),
                      Catch::Contains("unsupported audit version 99"));
  // found by fuzz_trace: a float where an integer belongs was converted with undefined behaviour,
  // and an end line without a begin line crashed replay
  REQUIRE_THROWS_WITH(parse(R"({"event":"audit","format":"ttsearch-audit","version":1.8e83})"),
                      Catch::Contains("unsupported audit version 1.8e+83"));
  REQUIRE_THROWS_WITH(parse(header + R"({"event":"end","search":0,"strategy":"majority","candidates":[]})"),
                      Catch::Contains("t.jsonl:2: search 0: a \"end\" event before its begin line"));
  REQUIRE_THROWS_WITH(parse(header + begin + begin), Catch::Contains("t.jsonl:3: search 0 has a second begin line"));
  REQUIRE_THROWS_WITH(parse(header + begin + R"({"event":"node","search":0,"id":1,"parent":0,"text":"x","tokens":1,"finish":"eos","token_ids":[1e30]})"),
                      Catch::Contains("t.jsonl:3: event.token_ids[] must be an integer"));
  REQUIRE_THROWS_WITH(parse(header + begin + R"({"event":"node","search":0,"id":1,"parent":0,"text":"x","tokens":1,"finish":"eos"})" "\n" +
                            R"({"event":"stats","search":0,"id":1,"visits":4294967296,"value_sum":0})"),
                      Catch::Contains("t.jsonl:4: event.visits is out of range"));
  REQUIRE_THROWS_WITH(parse(header + begin + R"({"event":"end","search":0,"candidates":[],"ledger":{"generated_tokens":1.5}})" "\n" +
                            R"({"event":"stop","search":0,"reason":"budget:calls"})"),
                      Catch::Contains("t.jsonl:4: search 0: a \"stop\" event after its end line"));
  // a recorded ledger or chosen leaf that is not an integer is a reason, not a crash
  const auto log = parse(header + begin + R"({"event":"end","search":0,"chosen":1e300,"candidates":[{"leaf":0.5}],"answers":[]})");
  const auto out = replay(log.searches.at(0));
  CHECK_FALSE(out.match);
  CHECK_THAT(out.detail, Catch::Contains("must be an integer"));
  ComputeLedger l;
  CHECK_THROWS_WITH(from_json(Json{{"generated_tokens", 1e30}}, l), Catch::Contains("ledger.generated_tokens must be an integer"));
}

TEST_CASE("randomly corrupted traces never crash the reader", "[trace][fuzz]") {
  const std::string text = run_traced(WeightedMajorityOptions{.n = 3}, 2);
  Rng rng(123);
  int parsed = 0, rejected = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::string t = text;
    const int edits = 1 + static_cast<int>(rng.below(4));
    for (int e = 0; e < edits; ++e) {
      const auto pos = rng.below(t.size());
      switch (rng.below(3)) {
        case 0: t[pos] = static_cast<char>(rng.below(256)); break;
        case 1: t.erase(pos, 1 + rng.below(20)); break;
        default: t.insert(pos, 1, "{}[]\",:0\n"[rng.below(9)]); break;
      }
    }
    std::stringstream in(t);
    try {
      const auto log = read_audit(in);
      for (const auto& [_, s] : log.searches) (void)replay(s);  // must not crash either
      ++parsed;
    } catch (const ttsearch::Error&) {
      ++rejected;
    }
  }
  REQUIRE(parsed + rejected == 400);
  REQUIRE(rejected > 0);
}

namespace {

/// Rewrites each line of a trace with `f` (JSON in, JSON out; a null result drops the line).
std::string edit_lines(const std::string& text, const std::function<Json(Json)>& f) {
  std::stringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    Json j = f(Json::parse(line));
    if (!j.is_null()) out += j.dump() + "\n";
  }
  return out;
}

std::vector<ReplayOutcome> replay_text(const std::string& text) {
  std::stringstream in(text);
  return replay_log(read_audit(in));
}

}  // namespace

TEST_CASE("replay re-derives keeps and prunes and the ledger sums / and names the first mismatch", "[trace][replay]") {
  BeamSearchOptions beam;
  beam.n = 8;
  beam.beam_width = 2;
  const std::string text = run_traced(beam, 3);
  for (const auto& o : replay_text(text)) REQUIRE(o.match);
  // search-and-learn's mode scores the step itself even with a lookahead: its traces replay too
  BeamSearchOptions compat = beam;
  compat.search_and_learn_compat = true;
  compat.lookahead = 1;
  for (const auto& o : replay_text(run_traced(compat, 3))) {
    INFO(o.detail);
    REQUIRE(o.match);
  }
  // every kept / pruned "rank" mark flipped
  const std::string flipped = edit_lines(text, [](Json j) {
    if (j["event"] == "mark" && j["reason"].get<std::string>().starts_with("rank ")) j["flag"] = j["flag"] == "kept" ? "pruned" : "kept";
    return j;
  });
  for (const auto& o : replay_text(flipped)) {
    CHECK_FALSE(o.match);
    CHECK_THAT(o.detail, Catch::Contains("pruned, yet its child") || Catch::Contains("ranked"));
  }
  // one kept and one pruned of the same round swapped (the tree still grows under the kept one)
  std::stringstream in(text);
  const AuditLog log = read_audit(in);
  NodeId kept = kNoNode, pruned = kNoNode;
  for (const Json& m : log.searches.at(0).marks) {
    if (!m["reason"].get<std::string>().starts_with("rank ")) continue;
    const NodeId id = m["id"].get<NodeId>();
    if (log.searches.at(0).tree.node(id).depth != 1) continue;
    if (m["flag"] == "kept" && kept == kNoNode) kept = id;
    if (m["flag"] == "pruned" && pruned == kNoNode) pruned = id;
  }
  REQUIRE(kept != kNoNode);
  REQUIRE(pruned != kNoNode);
  const std::string swapped = edit_lines(text, [&](Json j) {
    if (j["event"] == "mark" && j["search"] == 0 && (j["id"] == kept || j["id"] == pruned)) j["flag"] = j["id"] == kept ? "pruned" : "kept";
    return j;
  });
  const auto sw = replay_text(swapped);
  CHECK_FALSE(sw[0].match);
  CHECK(sw[1].match);
  // more nodes kept than there are beams
  const std::string all_kept = edit_lines(text, [&](Json j) {
    if (j["event"] == "mark" && j["search"] == 1 && j["flag"] == "pruned" && j["reason"].get<std::string>().starts_with("rank ")) j["flag"] = "kept";
    return j;
  });
  CHECK_FALSE(replay_text(all_kept)[1].match);
  CHECK_THAT(replay_text(all_kept)[1].detail, Catch::Contains("more than the 4 beams"));
  // a node marked both kept and pruned (two mark lines before search 1's end line)
  std::string both;
  {
    std::stringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      const Json j = Json::parse(line);
      if (j["event"] == "end" && j["search"] == 1) {
        for (const char* flag : {"kept", "pruned"}) both += Json{{"event", "mark"}, {"search", 1}, {"id", 1}, {"flag", flag}, {"reason", "x"}}.dump() + "\n";
      }
      both += line + "\n";
    }
  }
  CHECK_FALSE(replay_text(both)[1].match);
  CHECK_THAT(replay_text(both)[1].detail, Catch::Contains("node 1 is marked both kept and pruned"));
  // the ledger: 10^12 generated tokens, a call deleted, a step count off by one
  const std::string rich = edit_lines(text, [](Json j) {
    if (j["event"] == "end" && j["search"] == 2) j["ledger"]["generated_tokens"] = 1'000'000'000'000LL;
    return j;
  });
  const auto r = replay_text(rich);
  CHECK(r[0].match);
  CHECK_FALSE(r[2].match);
  CHECK_THAT(r[2].detail, Catch::Contains("the ledger's generated_tokens is 1000000000000"));
  bool dropped = false;
  const std::string fewer_calls = edit_lines(text, [&](Json j) {
    if (j["event"] == "call" && !dropped) {
      dropped = true;
      return Json();
    }
    return j;
  });
  for (const auto& o : replay_text(fewer_calls)) {
    CHECK_FALSE(o.match);
    CHECK_THAT(o.detail, Catch::Contains("generator_calls"));
  }
}

namespace {
template <class Options>
std::string run_traced_budget(const Options& opt, const Budget& budget, int problems = 6) {
  const auto ps = testing::make_simulated_problems({.num_problems = problems, .seed = 11});
  testing::SimulatedGenerator gen;
  testing::SimulatedPrm prm(testing::SimulatedPrmOptions{.noise = 1.5});
  std::stringstream out;
  {
    JsonlAuditWriter w(out);
    solve_batch(std::span<const Problem>(ps), gen, prm, opt, budget, w, 5);
  }
  return out.str();
}

template <class Options>
void require_all_match(const Options& opt, const char* what) {
  for (const Budget& b : {Budget{}, Budget{.max_generated_tokens = 150}, Budget{.max_calls = 5}, Budget{.max_verifier_tokens = 400}}) {
    const auto outcomes = replay_text(run_traced_budget(opt, b));
    REQUIRE(outcomes.size() == 6);
    for (const auto& o : outcomes) {
      INFO(what << " search " << o.search << ": " << o.detail);
      REQUIRE(o.match);
    }
  }
}

// The first search's node that is marked `flag` with a reason starting with `prefix` and has children.
NodeId marked_parent(const std::string& text, const char* flag, const std::string& prefix) {
  std::stringstream in(text);
  const AuditLog log = read_audit(in);
  const auto& s = log.searches.at(0);
  for (const Json& m : s.marks) {
    const NodeId id = m["id"].get<NodeId>();
    if (m["flag"] == flag && m["reason"].get<std::string>().starts_with(prefix) && s.tree.node(id).first_child != kNoNode) return id;
  }
  return kNoNode;
}
}  // namespace

TEST_CASE("replay re-executes every strategy on the recorded outputs / under budgets too", "[trace][replay]") {
  require_all_match(BeamSearchOptions{.n = 8, .beam_width = 2, .lookahead = 1}, "beam");
  require_all_match(DvtsOptions{.n = 8, .beam_width = 4, .lookahead = 1}, "dvts");
  require_all_match(RebaseOptions{.width = 8}, "rebase");
  require_all_match(RebaseOptions{.width = 8, .truncate_ratio = 0.5}, "rebase truncated");
  require_all_match(TotBfsOptions{.breadth = 2, .samples_per_state = 3}, "tot-bfs");
  require_all_match(TotDfsOptions{.samples_per_state = 3, .value_threshold = 0.4, .max_states = 30}, "tot-dfs");
  require_all_match(MctsOptions{.num_simulations = 8, .expansion_width = 3}, "mcts puct");
  require_all_match(MctsOptions{.num_simulations = 8, .expansion_width = 3, .selection = MctsSelection::kUct,
                                .uct_decay = UctDecay::kLinear, .rollout = true, .final_choice = MctsFinal::kMaxVisits},
                    "mcts uct rollout");
  require_all_match(BestOfNOptions{.n = 8}, "best-of-n");
  require_all_match(MajorityVoteOptions{.n = 8}, "majority");
  require_all_match(AdaptiveConsistencyOptions{}, "adaptive-consistency");
  require_all_match(EscOptions{}, "esc");
}

TEST_CASE("replay re-derives REBASE allocations / DVTS and ToT rankings / MCTS visits / and the candidate set", "[trace][replay]") {
  SECTION("rebase: a kept node's score raised changes the split of the width") {
    const std::string text = run_traced(RebaseOptions{.width = 8}, 2);
    for (const auto& o : replay_text(text)) REQUIRE(o.match);
    const NodeId kept = marked_parent(text, "kept", "R=");
    REQUIRE(kept != kNoNode);
    // the kept node's reward becomes the lowest: the re-executed split gives it fewer children
    const std::string forged = edit_lines(text, [&](Json j) {
      if (j["event"] == "score" && j["search"] == 0 && j["id"] == kept) j["scores"].back() = -5.0;
      return j;
    });
    const auto r = replay_text(forged);
    CHECK_FALSE(r[0].match);
    CHECK_THAT(r[0].detail, Catch::Contains("re-executed"));
    CHECK(r[1].match);
    // the allocation recorded in a mark ("n of B children") changed alone
    const std::string realloc = edit_lines(text, [&](Json j) {
      if (j["event"] == "mark" && j["search"] == 1 && j["flag"] == "kept") {
        std::string reason = j["reason"];
        const auto p = reason.find(": ");
        REQUIRE(p != std::string::npos);
        j["reason"] = reason.substr(0, p + 2) + "99" + reason.substr(reason.find(" of "));
      }
      return j;
    });
    CHECK_FALSE(replay_text(realloc)[1].match);
    CHECK_THAT(replay_text(realloc)[1].detail, Catch::Contains("where the trace marks node"));
  }
  SECTION("dvts: the subtree's tip swapped with a losing sibling") {
    const std::string text = run_traced(DvtsOptions{.n = 8, .beam_width = 4}, 2);
    for (const auto& o : replay_text(text)) REQUIRE(o.match);
    const NodeId tip = marked_parent(text, "kept", "subtree ");
    REQUIRE(tip != kNoNode);
    const std::string forged = edit_lines(text, [&](Json j) {
      if (j["event"] == "score" && j["search"] == 0 && j["id"] == tip) {
        for (auto& v : j["scores"]) v = 0.0;
      }
      return j;
    });
    CHECK_FALSE(replay_text(forged)[0].match);
    CHECK_THAT(replay_text(forged)[0].detail, Catch::Contains("re-executed"));
  }
  SECTION("tot-dfs: a threshold changed in the recorded options prunes differently") {
    const std::string text = run_traced(TotDfsOptions{.samples_per_state = 3, .value_threshold = 0.5, .max_states = 30}, 2);
    for (const auto& o : replay_text(text)) REQUIRE(o.match);
    const std::string forged = edit_lines(text, [&](Json j) {
      if (j["event"] == "begin") j["options"]["value_threshold"] = 0.45;
      return j;
    });
    for (const auto& o : replay_text(forged)) {
      CHECK_FALSE(o.match);
      CHECK_THAT(o.detail, Catch::Contains("re-executed") || Catch::Contains("marks node"));
    }
  }
  SECTION("tot-bfs: a pruned state re-marked kept") {
    const std::string text = run_traced(TotBfsOptions{.breadth = 2, .samples_per_state = 3}, 2);
    const std::string forged = edit_lines(text, [&](Json j) {
      if (j["event"] == "mark" && j["search"] == 1 && j["flag"] == "pruned") j["flag"] = "kept";
      return j;
    });
    CHECK(replay_text(forged)[0].match);
    CHECK_FALSE(replay_text(forged)[1].match);
  }
  SECTION("mcts: visit counts and values") {
    const std::string text = run_traced(MctsOptions{.num_simulations = 8, .expansion_width = 3}, 2);
    for (const auto& o : replay_text(text)) REQUIRE(o.match);
    bool seen = false;  // every stats line of node 1 (the last one holds its final count)
    const std::string forged = edit_lines(text, [&](Json j) {
      if (j["event"] == "stats" && j["search"] == 0 && j["id"] == 1) {
        seen = true;
        j["visits"] = j["visits"].get<int>() + 1;
      }
      return j;
    });
    REQUIRE(seen);
    CHECK_FALSE(replay_text(forged)[0].match);
    CHECK_THAT(replay_text(forged)[0].detail, Catch::Contains("visits"));
    // a recorded run claiming far more simulations than the root's visits is refused before re-execution
    const std::string more = edit_lines(text, [&](Json j) {
      if (j["event"] == "begin") j["options"]["num_simulations"] = 2'000'000'000;
      return j;
    });
    CHECK_FALSE(replay_text(more)[0].match);
    CHECK_THAT(replay_text(more)[0].detail, Catch::Contains("the root has 8 visits, but 2000000000 simulations were run"));
  }
  SECTION("the candidate set cut to the chosen one") {
    const std::string text = run_traced(RebaseOptions{.width = 8}, 2);
    const std::string forged = edit_lines(text, [&](Json j) {
      if (j["event"] == "end" && j["search"] == 0) {
        Json keep = Json::array();
        for (const auto& c : j["candidates"]) if (c["leaf"] == j["chosen"]) keep.push_back(c);
        REQUIRE(keep.size() < j["candidates"].size());
        j["candidates"] = keep;
      }
      return j;
    });
    CHECK_FALSE(replay_text(forged)[0].match);
  }
  SECTION("a budget stop deleted / or added") {
    const std::string text = run_traced_budget(RebaseOptions{.width = 8}, Budget{.max_calls = 5});
    std::stringstream in(text);
    const AuditLog log = read_audit(in);
    std::size_t victim = log.searches.size();
    for (const auto& [i, s] : log.searches) {
      if (!s.stops.empty() && victim == log.searches.size()) victim = i;
    }
    REQUIRE(victim < log.searches.size());
    const std::string no_stop = edit_lines(text, [&](Json j) {
      if (j["event"] == "stop" && j["search"] == victim) return Json();
      return j;
    });
    CHECK_FALSE(replay_text(no_stop)[victim].match);
    CHECK_THAT(replay_text(no_stop)[victim].detail, Catch::Contains("the trace ends after node") || Catch::Contains("no more score lines") ||
                                                Catch::Contains("records no budget stop"));
    const std::string full = run_traced(RebaseOptions{.width = 8}, 1);
    std::string extra;
    {
      std::stringstream lines(full);
      std::string line;
      while (std::getline(lines, line)) {
        if (Json::parse(line)["event"] == "end") extra += Json{{"event", "stop"}, {"search", 0}, {"reason", "budget:calls"}}.dump() + "\n";
        extra += line + "\n";
      }
    }
    CHECK_FALSE(replay_text(extra)[0].match);
    CHECK_THAT(replay_text(extra)[0].detail, Catch::Contains("that its budget does not set"));
  }
  SECTION("nodes generated under a different parent") {
    const std::string text = run_traced(TotBfsOptions{.breadth = 2, .samples_per_state = 3}, 1);
    std::stringstream in(text);
    const AuditLog log = read_audit(in);
    // the last node, moved under the root (the reader accepts it; the strategy never asked for it)
    const NodeId last = static_cast<NodeId>(log.searches.at(0).tree.size() - 1);
    REQUIRE(log.searches.at(0).tree.node(last).parent != SearchTree::root());
    const std::string forged = edit_lines(text, [&](Json j) {
      if (j["event"] == "node" && j["id"] == last) {
        j["parent"] = 0;
        j["depth"] = 1;
      }
      return j;
    });
    CHECK_FALSE(replay_text(forged)[0].match);
  }
}

TEST_CASE("replay checks recorded stops and sums against the recorded budget / and bounds forged MCTS work", "[trace][replay]") {
  const std::string text = run_traced_budget(RebaseOptions{.width = 8}, Budget{.max_calls = 5});
  for (const auto& o : replay_text(text)) REQUIRE(o.match);
  // the budget removed from the begin lines: the recorded stops are no longer explained
  const std::string nobudget = edit_lines(text, [](Json j) {
    if (j["event"] == "begin") j["budget"] = Json::object();
    return j;
  });
  bool some = false;
  for (const auto& o : replay_text(nobudget)) {
    if (o.detail.find("that its budget does not set") != std::string::npos) some = true;
  }
  CHECK(some);
  // the end line's stop_reason changed
  const std::string reason = edit_lines(run_traced(RebaseOptions{.width = 8}, 2), [](Json j) {
    if (j["event"] == "end" && j["search"] == 1) j["stop_reason"] = "budget:calls";
    return j;
  });
  CHECK(replay_text(reason)[0].match);
  CHECK_FALSE(replay_text(reason)[1].match);
  CHECK_THAT(replay_text(reason)[1].detail, Catch::Contains("but the trace records no budget stop"));
  // more generated tokens than the budget allows
  const std::string tight = run_traced_budget(RebaseOptions{.width = 8}, Budget{.max_generated_tokens = 120});
  const std::string fat = edit_lines(tight, [](Json j) {
    if (j["event"] == "node" && j["search"] == 0) j["tokens"] = 256;
    return j;
  });
  CHECK_FALSE(replay_text(fat)[0].match);
  // an empty score list is malformed (the driver never writes one)
  const std::string empty = edit_lines(run_traced(MctsOptions{.num_simulations = 4, .expansion_width = 2}, 1), [](Json j) {
    if (j["event"] == "score") j["scores"] = Json::array();
    return j;
  });
  std::stringstream in(empty);
  CHECK_THROWS_WITH(read_audit(in), Catch::Contains("holds no score"));
  // MCTS: a huge num_simulations with a budget stop re-executes only the recorded simulations, fast
  // (the trace stays consistent: the budget, not the simulation count, ended those searches); with
  // the root's visits lowered, the re-executed backups pass them and it is a mismatch
  const std::string mcts = run_traced_budget(MctsOptions{.num_simulations = 8, .expansion_width = 3}, Budget{.max_calls = 40});
  const std::string many = edit_lines(mcts, [](Json j) {
    if (j["event"] == "begin") j["options"]["num_simulations"] = 2'000'000'000;
    return j;
  });
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& o : replay_text(many)) {  // searches that ran all 8 simulations now contradict the count
    INFO(o.detail);
    CHECK((o.match || o.detail.find("simulations were run") != std::string::npos));
  }
  const std::string fewer = edit_lines(many, [](Json j) {
    if (j["event"] == "stats" && j["id"] == 0) j["visits"] = 0;
    return j;
  });
  int caught = 0;  // searches stopped before their first backup have 0 visits anyway
  for (const auto& o : replay_text(fewer)) caught += !o.match && o.detail.find("visits") != std::string::npos ? 1 : 0;
  CHECK(caught > 0);
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 5.0);
}
