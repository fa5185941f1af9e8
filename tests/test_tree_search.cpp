// Tree strategies on the simulated domain: selection formulas, option validation, accuracy
// against best-of-N at matched generated tokens, budgets, batching, traces.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <sstream>

#include <ttsearch/strategies/replay.hpp>
#include <ttsearch/testing/simulated.hpp>

using namespace ttsearch;

namespace {

std::vector<Problem> problems(int n, std::uint64_t seed = 21) {
  testing::SimulatedTaskOptions to;
  to.num_problems = n;
  to.min_step_accuracy = 0.55;
  to.max_step_accuracy = 0.95;
  to.min_steps = 4;
  to.max_steps = 8;
  to.seed = seed;
  return testing::make_simulated_problems(to);
}

testing::SimulatedPrm informative_prm() { return testing::SimulatedPrm({.noise = 1.5, .good = 0.75, .bad = 0.25}); }

struct Measured {
  double accuracy = 0, tokens = 0;
};

template <class Options, class V>
Measured measure(const std::vector<Problem>& ps, const Options& opt, V& verifier, const Budget& budget = {}) {
  testing::SimulatedGenerator gen;
  const auto rs = solve_batch(std::span<const Problem>(ps), gen, verifier, opt, budget, 7);
  Measured m;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    m.accuracy += answer::equivalent_normalized(rs[i].answer, *ps[i].reference) ? 1 : 0;
    m.tokens += static_cast<double>(rs[i].ledger.generated_tokens);
  }
  m.accuracy /= static_cast<double>(ps.size());
  m.tokens /= static_cast<double>(ps.size());
  return m;
}

bool correct_terminal_in_tree(const SearchResult& r, const Problem& p) {
  for (const Node& n : r.tree.nodes()) {
    if (n.id == 0 || !n.step.is_final()) continue;
    const auto e = answer::extract_answer(r.tree.path(n.id).text());
    if (e.found() && answer::equivalent_normalized(answer::normalize_answer(e.answer), *p.reference)) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("selection formulas against hand-computed values", "[tree][formulas]") {
  // PUCT: Q + P (ln((N_p + c_base + 1)/c_base) + c_init) sqrt(N_p) / (N_c + 1)
  CHECK(puct_score(0.5, 0.25, 10, 2, 19652, 1.25) == Approx(0.8295513859685424).epsilon(1e-12));
  CHECK(puct_score(0.3, 0.6, 0, 0, 19652, 1.25) == Approx(0.3));  // an unvisited parent explores nothing
  // UCT: Q + c sqrt(ln N_p / N_c)
  CHECK(uct_score(0.6, 20, 5, 2.0) == Approx(2.14809102408198).epsilon(1e-12));
  CHECK(decayed_c(2.0, UctDecay::kExponential, 5, 10) == Approx(0.6324555320336759));
  CHECK(decayed_c(2.0, UctDecay::kLinear, 5, 10) == Approx(1.1));
  CHECK(decayed_c(2.0, UctDecay::kNone, 5, 10) == 2.0);
  // REBASE ordered-ceil softmax, worked by hand in the test's comments:
  // R = {0.9, 0.5, 0.7}, B = 8, T = 0.2: w = {1, e^-2, e^-1} (by rank 1, e^-1, e^-2),
  // n(0.9) = ceil(8 / 1.5032) = 6, n(0.7) = ceil(2 * 0.3679 / 0.5032) = 2, n(0.5) = 0.
  CHECK(rebase_allocate(std::vector<double>{0.9, 0.5, 0.7}, 8, 0.2) == std::vector<std::int32_t>{6, 0, 2});
  // R = {0.1, 0.2, 0.3, 0.4}, B = 10, T = 1: 3, 3, 3, then the last gets the remaining 1.
  CHECK(rebase_allocate(std::vector<double>{0.1, 0.2, 0.3, 0.4}, 10, 1.0) == std::vector<std::int32_t>{1, 3, 3, 3});
  // truncate 0.5 keeps the top 2: n(0.4) = ceil(10 / 1.9048) = 6, n(0.3) = 4.
  CHECK(rebase_allocate(std::vector<double>{0.1, 0.2, 0.3, 0.4}, 10, 1.0, 0.5) == std::vector<std::int32_t>{0, 0, 4, 6});
  CHECK(rebase_allocate(std::vector<double>{}, 5, 0.2).empty());
  CHECK(rebase_allocate(std::vector<double>{0.3, 0.1}, 0, 0.2) == std::vector<std::int32_t>{0, 0});
  CHECK(rebase_allocate(std::vector<double>{0.5, 0.5, 0.5}, 3, 0.2) == std::vector<std::int32_t>{1, 1, 1});  // ties: in order
}

TEST_CASE("REBASE allocations always sum to the width", "[tree][rebase]") {
  Rng rng(5);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<double> r(1 + rng.below(40));
    for (auto& x : r) x = rng.uniform();
    const auto budget = static_cast<std::int32_t>(rng.below(300));
    const double t = 0.01 + rng.uniform() * 2;
    const double trunc = trial % 3 == 0 ? rng.uniform() : 0.0;
    const auto a = rebase_allocate(r, budget, t, trunc);
    std::int64_t sum = 0;
    for (auto x : a) {
      REQUIRE(x >= 0);
      sum += x;
    }
    REQUIRE(sum == budget);
  }
}

TEST_CASE("tree strategies reject bad options / naming the option", "[tree][options]") {
  Problem p{.id = "p", .question = "q", .reference = {}};
  CHECK_THROWS_WITH(make_search(p, BeamSearchOptions{.n = 6, .beam_width = 4}), Catch::Contains("beam: n (6) must be divisible by beam_width (4)"));
  CHECK_THROWS_WITH(make_search(p, BeamSearchOptions{.beam_width = 0}), Catch::Contains("beam: beam_width must be >= 1"));
  BeamSearchOptions no_stop;
  no_stop.sampling.stop.clear();
  CHECK_THROWS_WITH(make_search(p, no_stop), Catch::Contains("beam: sampling.stop must name the step separator"));
  CHECK_THROWS_WITH(make_search(p, DvtsOptions{.n = 4, .beam_width = 3}), Catch::Contains("dvts: n (4) must be divisible by beam_width (3)"));
  CHECK_THROWS_WITH(make_search(p, DvtsOptions{.lookahead = -1}), Catch::Contains("dvts: lookahead must be >= 0"));
  CHECK_THROWS_WITH(make_search(p, RebaseOptions{.width = 0}), Catch::Contains("rebase: width must be in"));
  CHECK_THROWS_WITH(make_search(p, RebaseOptions{.softmax_temperature = 0}), Catch::Contains("rebase: softmax_temperature must be > 0"));
  CHECK_THROWS_WITH(make_search(p, RebaseOptions{.truncate_ratio = 1.5}), Catch::Contains("rebase: truncate_ratio"));
  CHECK_THROWS_WITH(make_search(p, MctsOptions{.num_simulations = 0}), Catch::Contains("mcts: num_simulations must be >= 1"));
  CHECK_THROWS_WITH(make_search(p, MctsOptions{.expansion_width = 0}), Catch::Contains("mcts: expansion_width"));
  CHECK_THROWS_WITH(make_search(p, MctsOptions{.c_base = 0}), Catch::Contains("mcts: c_base must be > 0"));
  CHECK_THROWS_WITH(make_search(p, TotBfsOptions{.breadth = 0}), Catch::Contains("tot-bfs: breadth must be >= 1"));
  CHECK_THROWS_WITH(make_search(p, TotDfsOptions{.max_states = 0}), Catch::Contains("tot-dfs: max_states must be >= 1"));
  MctsOptions neg;
  neg.sampling.temperature = -1;
  CHECK_THROWS_WITH(make_search(p, neg), Catch::Contains("sampling.temperature must be finite and >= 0 (got -1)"));
  // JSON options: enums by name, unknown keys and values rejected
  const auto m = Json::parse(R"({"selection": "uct", "uct_decay": "linear", "final_choice": "max_visits", "num_simulations": 9})")
                     .get<MctsOptions>();
  CHECK(m.selection == MctsSelection::kUct);
  CHECK(m.uct_decay == UctDecay::kLinear);
  CHECK(m.final_choice == MctsFinal::kMaxVisits);
  CHECK(m.num_simulations == 9);
  CHECK(m.expansion_width == MctsOptions{}.expansion_width);
  CHECK(Json(m).get<MctsOptions>().uct_decay == UctDecay::kLinear);
  CHECK_THROWS_WITH(Json::parse(R"({"selection": "ucb"})").get<MctsOptions>(), Catch::Contains("unknown MCTS selection 'ucb'"));
  CHECK_THROWS_WITH(Json::parse(R"({"width": 4, "depth": 3})").get<RebaseOptions>(), Catch::Contains("rebase options: unknown option \"depth\""));
  CHECK_THROWS_WITH(Json::parse(R"({"final_choice": "oracle"})").get<BeamSearchOptions>(), Catch::Contains("unknown final choice 'oracle'"));
  CHECK_THROWS_WITH(find_strategy("astar"), Catch::Contains("unknown strategy 'astar' (known: adaptive-consistency, beam, best-of-majority"));
}

TEST_CASE("with an informative PRM / tree search beats best-of-N at matched generated tokens", "[tree][statistics]") {
  const auto ps = problems(300);
  auto prm = informative_prm();
  const double tokens_per_sample = measure(ps, BestOfNOptions{.n = 1}, prm).tokens;
  auto check = [&](const char* name, Measured tree) {
    // best-of-N gets at least as many generated tokens as the tree strategy spent
    const auto n = static_cast<std::int32_t>(std::ceil(tree.tokens / tokens_per_sample));
    const Measured bon = measure(ps, BestOfNOptions{.n = n}, prm);
    INFO(name << ": " << tree.accuracy << " at " << tree.tokens << " tokens vs best-of-" << n << " " << bon.accuracy << " at "
              << bon.tokens << " tokens");
    CHECK(bon.tokens >= tree.tokens * 0.98);
    CHECK(tree.accuracy > bon.accuracy + 0.05);
  };
  check("beam", measure(ps, BeamSearchOptions{.n = 4, .beam_width = 2}, prm));
  check("dvts", measure(ps, DvtsOptions{.n = 8, .beam_width = 4}, prm));
  check("rebase", measure(ps, RebaseOptions{.width = 4}, prm));
  check("mcts", measure(ps, MctsOptions{.num_simulations = 4, .expansion_width = 2}, prm));
  check("tot-bfs", measure(ps, TotBfsOptions{.breadth = 2, .samples_per_state = 2}, prm));
}

TEST_CASE("with a perfect PRM / beam search returns a correct path whenever one was sampled", "[tree][beam]") {
  const auto ps = problems(200, 3);
  testing::SimulatedGenerator gen;
  testing::SimulatedPrm perfect(testing::SimulatedPrmOptions::perfect());
  for (const bool compat : {false, true}) {
    const auto rs = solve_batch(std::span<const Problem>(ps), gen, perfect,
                                BeamSearchOptions{.n = 8, .beam_width = 4, .search_and_learn_compat = compat}, Budget{}, 1);
    int sampled = 0;
    for (std::size_t i = 0; i < ps.size(); ++i) {
      if (!correct_terminal_in_tree(rs[i], ps[i])) continue;
      ++sampled;
      INFO("problem " << i << " compat " << compat);
      CHECK(answer::equivalent_normalized(rs[i].answer, *ps[i].reference));
    }
    CHECK(sampled > 150);
  }
}

TEST_CASE("beam search: width / refill (compat) / lookahead scoring and duplicates", "[tree][beam]") {
  const auto ps = problems(1, 8);
  testing::SimulatedGenerator gen;
  auto prm = informative_prm();
  auto per_depth = [](const SearchResult& r) {
    std::map<int, int> d;
    for (const Node& n : r.tree.nodes()) {
      if (n.id != 0 && n.reason.rfind("lookahead", 0) != 0) d[n.depth]++;
    }
    return d;
  };
  // default: the root gets N = 8 steps, then N/M = 2 kept beams get M = 4 each
  const auto def = solve(ps[0], gen, prm, BeamSearchOptions{.n = 8, .beam_width = 4});
  auto d = per_depth(def);
  CHECK(d[1] == 8);
  CHECK(d[2] == 8);
  int kept_at_1 = 0;
  for (NodeId c : def.tree.children(0)) kept_at_1 += def.tree.node(c).has(kFlagKept);
  CHECK(kept_at_1 == 2);
  // compat: always N per round
  const auto compat = solve(ps[0], gen, prm, BeamSearchOptions{.n = 8, .beam_width = 4, .search_and_learn_compat = true});
  for (const auto& [depth, count] : per_depth(compat)) {
    INFO("depth " << depth);
    CHECK(count == 8);
  }
  // lookahead: default mode scores the lookahead node; compat scores only the step
  const auto la = solve(ps[0], gen, prm, BeamSearchOptions{.n = 4, .beam_width = 2, .lookahead = 2});
  const auto la_compat = solve(ps[0], gen, prm, BeamSearchOptions{.n = 4, .beam_width = 2, .lookahead = 2, .search_and_learn_compat = true});
  int scored_lookahead = 0, unscored_lookahead = 0;
  for (const Node& n : la.tree.nodes()) scored_lookahead += n.reason.rfind("lookahead", 0) == 0 && n.has(kFlagScored);
  for (const Node& n : la_compat.tree.nodes()) unscored_lookahead += n.reason.rfind("lookahead", 0) == 0 && !n.has(kFlagScored);
  CHECK(scored_lookahead > 0);
  CHECK(unscored_lookahead > 0);
  for (const Node& n : la_compat.tree.nodes()) {
    if (n.reason.rfind("lookahead", 0) == 0) CHECK_FALSE(n.has(kFlagScored));
  }
  // duplicates: at temperature 0 every step is the same, so all but one beam are dropped
  BeamSearchOptions greedy{.n = 4, .beam_width = 2, .filter_duplicates = true};
  greedy.sampling.temperature = 0;
  const auto g = solve(ps[0], gen, prm, greedy);
  int dups = 0;
  for (const Node& n : g.tree.nodes()) dups += n.reason == "duplicate text";
  CHECK(dups >= 3);
}

TEST_CASE("DVTS keeps N/M independent subtrees - MCTS backs up visits - ToT-DFS prunes below the threshold", "[tree]") {
  const auto ps = problems(1, 4);
  testing::SimulatedGenerator gen;
  auto prm = informative_prm();
  const auto d = solve(ps[0], gen, prm, DvtsOptions{.n = 12, .beam_width = 4});
  CHECK(d.tree.children(0).size() == 12);  // 3 subtrees x 4 candidates
  CHECK(d.candidates.size() <= 12);
  int subtree_best = 0;
  for (NodeId c : d.tree.children(0)) subtree_best += d.tree.node(c).has(kFlagKept) || d.tree.node(c).has(kFlagTerminal);
  CHECK(subtree_best == 3);

  const auto m = solve(ps[0], gen, prm, MctsOptions{.num_simulations = 10});
  CHECK(m.tree.node(0).visits == 10);
  for (const Node& n : m.tree.nodes()) {
    int child_visits = 0;
    for (NodeId c : m.tree.children(n.id)) child_visits += m.tree.node(c).visits;
    if (!m.tree.children(n.id).empty()) CHECK(n.visits >= child_visits);
  }
  const auto r = solve(ps[0], gen, prm, MctsOptions{.num_simulations = 3, .rollout = true});
  int rollouts = 0;
  for (const Node& n : r.tree.nodes()) rollouts += n.reason.rfind("rollout", 0) == 0;
  CHECK(rollouts == 3);
  const auto u = solve(ps[0], gen, prm, MctsOptions{.num_simulations = 6, .selection = MctsSelection::kUct, .uct_decay = UctDecay::kExponential});
  CHECK(u.tree.node(0).visits == 6);

  testing::SimulatedPrm perfect(testing::SimulatedPrmOptions::perfect());
  const auto dfs = solve(ps[0], gen, perfect, TotDfsOptions{.samples_per_state = 3, .value_threshold = 0.5});
  CHECK(answer::equivalent_normalized(dfs.answer, *ps[0].reference));
  for (const Node& n : dfs.tree.nodes()) {
    if (n.has(kFlagPruned)) CHECK(n.scores.back() < 0.5);
    if (n.has(kFlagKept)) CHECK(n.scores.back() >= 0.5);
  }
  // a threshold no thought can reach: DFS backtracks to an empty stack and returns no answer
  const auto none = solve(ps[0], gen, perfect, TotDfsOptions{.value_threshold = 2.0});
  CHECK(none.answer.empty());
  CHECK(none.stop_reason == StopReason::kCompleted);
  CHECK(none.tree.size() == 4);  // the root's 3 thoughts, all pruned
}

TEST_CASE("every tree strategy: solve_batch equals one by one / budgets hold / traces replay", "[tree][batch][trace]") {
  const auto ps = problems(12, 9);
  const std::span<const Problem> span(ps);
  testing::SimulatedGenerator gen;
  auto prm = informative_prm();
  const std::vector<std::string> names = {"beam", "dvts", "rebase", "mcts", "tot-bfs", "tot-dfs"};
  for (const auto& name : names) {
    INFO("strategy " << name);
    const StrategyEntry& e = find_strategy(name);
    Json opt = e.defaults;
    if (name == "mcts") opt["num_simulations"] = 6;
    if (name == "mcts") opt["selection"] = "uct";  // exercises the strategy's own random choices
    std::vector<SearchSpec> specs;
    for (std::size_t i = 0; i < ps.size(); ++i) specs.push_back(e.make(ps[i], opt, Budget{}, batch_seed(3, i)));
    std::stringstream audit;
    std::vector<SearchResult> batch;
    {
      JsonlAuditWriter w(audit);
      batch = run_searches(std::span<const SearchSpec>(specs), gen, prm, w);
    }
    for (std::size_t i = 0; i < ps.size(); ++i) {
      const SearchSpec one_spec = e.make(ps[i], opt, Budget{}, batch_seed(3, i));
      const auto one = run_searches(std::span<const SearchSpec>(&one_spec, 1), gen, prm);
      REQUIRE(one[0].answer == batch[i].answer);
      REQUIRE(one[0].chosen == batch[i].chosen);
      REQUIRE(one[0].tree.size() == batch[i].tree.size());
      REQUIRE(one[0].ledger.generated_tokens == batch[i].ledger.generated_tokens);
    }
    // the trace rebuilds each tree (text, scores, flags, visits) and replays each choice
    const AuditLog log = read_audit(audit);
    REQUIRE(log.searches.size() == ps.size());
    for (const auto& [i, s] : log.searches) {
      const SearchTree& t = batch[i].tree;
      REQUIRE(s.tree.size() == t.size());
      for (NodeId id = 0; id < static_cast<NodeId>(t.size()); ++id) {
        REQUIRE(s.tree.node(id).step.text == t.node(id).step.text);
        REQUIRE(s.tree.node(id).scores == t.node(id).scores);
        REQUIRE(s.tree.node(id).visits == t.node(id).visits);
        REQUIRE((s.tree.node(id).flags & ~kFlagChosen) == (t.node(id).flags & ~kFlagChosen));
        REQUIRE(s.tree.node(id).reason == t.node(id).reason);
      }
      const auto rp = replay(s);
      INFO(rp.detail);
      REQUIRE(rp.match);
    }
    // budgets: never passed, and the stop reason names the limit
    for (std::int64_t limit : {30, 150, 600}) {
      Budget b;
      b.max_generated_tokens = limit;
      b.max_verifier_tokens = limit * 3;
      b.max_calls = 9;
      std::vector<SearchSpec> bs;
      for (std::size_t i = 0; i < ps.size(); ++i) bs.push_back(e.make(ps[i], opt, b, i));
      for (const auto& r : run_searches(std::span<const SearchSpec>(bs), gen, prm)) {
        REQUIRE(r.ledger.generated_tokens <= limit);
        REQUIRE(r.ledger.verifier_tokens <= limit * 3);
        REQUIRE(r.ledger.calls() <= 9);
        // a completed search has an answer, except DFS when every thought fell below the threshold
        if (r.stop_reason == StopReason::kCompleted && name != "tot-dfs") REQUIRE_FALSE(r.answer.empty());
      }
    }
  }
}
