// Failure isolation in the driver: one problem whose backend calls fail (or whose strategy
// throws) ends alone, with its error recorded in its result and in the trace; the others finish
// exactly as they would have without it. And a property test: random strategies, options and
// budgets with a generator and a verifier that fail at random calls.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

#include <ttsearch/strategies/registry.hpp>
#include <ttsearch/strategies/replay.hpp>
#include <ttsearch/testing/simulated.hpp>
#include <ttsearch/trace/jsonl.hpp>

using namespace ttsearch;

namespace {

bool has_problem(std::span<const GenerateRequest> r, const std::string& id) {
  return std::ranges::any_of(r, [&](const GenerateRequest& q) { return q.problem->id == id; });
}

/// The simulated generator, failing for problem "bad" as `mode` says: 0 throws whenever one of
/// its requests is in the call (a question longer than the model's context), 1 a NaN
/// log-probability for its steps, 2 one continuation too many for its requests.
struct BadProblemGenerator {
  explicit BadProblemGenerator(int m) : mode(m) {}
  testing::SimulatedGenerator inner;
  int mode = 0;
  int calls = 0;
  Generation generate(std::span<const GenerateRequest> r) {
    ++calls;
    if (mode == 0 && has_problem(r, "bad")) throw InvalidArgument("context of 900 tokens exceeds max_position_embeddings 512");
    Generation g = inner.generate(r);
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (r[i].problem->id != "bad") continue;
      if (mode == 1) g.outputs[i].front().logprob = std::nan("");
      if (mode == 2) g.outputs[i].push_back(g.outputs[i].front());
    }
    return g;
  }
};

/// The simulated PRM, failing for problem "bad": mode 0 throws, mode 1 a NaN score.
struct BadProblemVerifier {
  explicit BadProblemVerifier(int m) : mode(m) {}
  testing::SimulatedPrm inner;
  int mode = 0;
  Scoring score(std::span<const ScoreRequest> r) {
    const bool bad = std::ranges::any_of(r, [](const ScoreRequest& q) { return q.problem->id == "bad"; });
    if (mode == 0 && bad) throw std::runtime_error("reward model server answered 500");
    Scoring s = inner.score(r);
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (mode == 1 && r[i].problem->id == "bad") s.scores[i].back() = std::nan("");
    }
    return s;
  }
};

void require_same(const SearchResult& a, const SearchResult& b) {
  REQUIRE_FALSE(a.failed());
  REQUIRE(a.answers == b.answers);
  REQUIRE(a.chosen == b.chosen);
  REQUIRE(a.stop_reason == b.stop_reason);
  REQUIRE(a.ledger.generated_tokens == b.ledger.generated_tokens);
  REQUIRE(a.ledger.verifier_tokens == b.ledger.verifier_tokens);
  REQUIRE(a.ledger.calls() == b.ledger.calls());
  REQUIRE(a.tree.size() == b.tree.size());
}

std::vector<Problem> six_with_one_bad() {
  auto ps = testing::make_simulated_problems({.num_problems = 6, .seed = 21});
  ps[3].id = "bad";
  return ps;
}

/// Runs `strategy` (registry defaults, small n) over `problems`, tracing into `trace`.
template <class G, class V>
std::vector<SearchResult> run_traced(const std::string& strategy, const std::vector<Problem>& problems, G& gen, V& ver,
                                     std::stringstream& trace, const Budget& budget = {}) {
  const auto& e = find_strategy(strategy);
  Json opt = e.defaults;
  if (opt.contains("n")) opt["n"] = 4;
  std::vector<SearchSpec> specs;
  for (std::size_t i = 0; i < problems.size(); ++i) specs.push_back(e.make(problems[i], opt, budget, batch_seed(5, i)));
  JsonlAuditWriter w(trace);
  return run_searches(std::span<const SearchSpec>(specs), gen, ver, w);
}

void require_bad_failed_alone(const std::vector<SearchResult>& faulty, const std::vector<SearchResult>& clean,
                              const std::stringstream& trace, const std::string& cause) {
  REQUIRE(faulty.size() == 6);
  for (std::size_t i = 0; i < faulty.size(); ++i) {
    if (i == 3) {
      REQUIRE(faulty[i].failed());
      REQUIRE_THAT(faulty[i].error, Catch::StartsWith("problem 'bad': ") && Catch::Contains(cause));
      REQUIRE(faulty[i].answer.empty());
    } else {
      require_same(faulty[i], clean[i]);
    }
  }
  std::stringstream in(trace.str());
  const AuditLog log = read_audit(in);
  REQUIRE(log.searches.size() == 6);
  for (const auto& [s, as] : log.searches) {
    REQUIRE(as.end);  // every search ends in the trace, the failed one too
    const auto out = replay(as);
    INFO("search " << s << ": " << out.detail);
    if (s == 3) {
      REQUIRE(out.failed);
      REQUIRE(as.errors.size() == 1);
      REQUIRE_THAT(as.errors.front(), Catch::Contains(cause));
    } else {
      REQUIRE(out.match);
      REQUIRE(as.errors.empty());
    }
  }
}

}  // namespace

TEST_CASE("one problem whose generator calls fail ends alone / the others finish as without it", "[driver][faults]") {
  const auto problems = six_with_one_bad();
  for (const char* strategy : {"beam", "best-of-n", "majority", "rebase"}) {
    testing::SimulatedGenerator clean_gen;
    testing::SimulatedPrm clean_prm;
    std::stringstream clean_trace;
    const auto clean = run_traced(strategy, problems, clean_gen, clean_prm, clean_trace);
    for (int mode : {0, 1, 2}) {
      INFO(strategy << " mode " << mode);
      BadProblemGenerator gen(mode);
      testing::SimulatedPrm prm;
      std::stringstream trace;
      const auto faulty = run_traced(strategy, problems, gen, prm, trace);
      const char* cause = mode == 0   ? "generator threw: context of 900 tokens exceeds max_position_embeddings 512"
                          : mode == 1 ? "generator returned a NaN log-probability"
                                      : "generator returned 5 continuations for request 0 (asked 4)";
      if (mode == 2 && std::string(strategy) != "majority" && std::string(strategy) != "best-of-n") {
        cause = "generator returned";  // tree strategies ask other counts
      }
      require_bad_failed_alone(faulty, clean, trace, cause);
    }
  }
}

TEST_CASE("one problem whose verifier calls fail ends alone / the others finish as without it", "[driver][faults]") {
  const auto problems = six_with_one_bad();
  for (const char* strategy : {"beam", "best-of-n", "mcts"}) {
    testing::SimulatedGenerator clean_gen;
    testing::SimulatedPrm clean_prm;
    std::stringstream clean_trace;
    const auto clean = run_traced(strategy, problems, clean_gen, clean_prm, clean_trace);
    for (int mode : {0, 1}) {
      INFO(strategy << " mode " << mode);
      testing::SimulatedGenerator gen;
      BadProblemVerifier prm(mode);
      std::stringstream trace;
      const auto faulty = run_traced(strategy, problems, gen, prm, trace);
      require_bad_failed_alone(faulty, clean, trace,
                               mode == 0 ? "verifier threw: reward model server answered 500" : "verifier returned a non-finite score (nan)");
    }
  }
}

TEST_CASE("a merged call that fails once is retried per search / nothing is lost", "[driver][faults]") {
  // an out-of-memory error on the large merged call only: every search still completes, unchanged
  struct OomOnBigCalls {
    testing::SimulatedGenerator inner;
    int thrown = 0;
    Generation generate(std::span<const GenerateRequest> r) {
      if (r.size() > 1) {
        ++thrown;
        throw std::runtime_error("CUDA out of memory");
      }
      return inner.generate(r);
    }
  } gen;
  const auto problems = testing::make_simulated_problems({.num_problems = 5, .seed = 2});
  testing::SimulatedGenerator clean_gen;
  testing::SimulatedPrm prm;
  std::stringstream t1, t2;
  const auto clean = run_traced("beam", problems, clean_gen, prm, t1);
  const auto rs = run_traced("beam", problems, gen, prm, t2);
  REQUIRE(gen.thrown > 0);
  for (std::size_t i = 0; i < rs.size(); ++i) require_same(rs[i], clean[i]);
}

TEST_CASE("fault property: random strategies options and budgets with backends that fail at random calls", "[driver][faults]") {
  std::vector<std::string> names;
  for (const auto& [name, _] : strategy_registry()) names.push_back(name);
  const auto problems = testing::make_simulated_problems({.num_problems = 4, .seed = 8});

  struct FlakyGenerator {
    FlakyGenerator(std::uint64_t seed, double fail) : rng(seed), p(fail) {}
    testing::SimulatedGenerator inner;
    Rng rng;
    double p = 0.1;
    Generation generate(std::span<const GenerateRequest> r) {
      if (rng.bernoulli(p)) throw std::runtime_error("generator connection reset");
      Generation g = inner.generate(r);
      if (rng.bernoulli(p / 2)) g.outputs[rng.below(g.outputs.size())].front().logprob = std::nan("");
      return g;
    }
  };
  struct FlakyVerifier {
    FlakyVerifier(std::uint64_t seed, double fail) : rng(seed), p(fail) {}
    testing::SimulatedPrm inner;
    Rng rng;
    double p = 0.1;
    Scoring score(std::span<const ScoreRequest> r) {
      if (rng.bernoulli(p)) throw std::runtime_error("verifier timed out");
      Scoring s = inner.score(r);
      if (rng.bernoulli(p / 2)) s.scores[rng.below(s.scores.size())].front() = std::nan("");
      return s;
    }
  };

  std::size_t failed = 0, finished = 0;
  for (std::uint64_t trial = 0; trial < 200; ++trial) {
    Rng rng(1000 + trial);
    const std::string name = names[rng.below(names.size())];
    const auto& e = find_strategy(name);
    Json opt = e.defaults;
    if (opt.contains("n")) {
      Json tried = opt;
      tried["n"] = rng.uniform_int(1, 12);
      try {
        e.validate(tried);
        opt = tried;
      } catch (const InvalidArgument&) {
      }
    }
    if (opt.contains("sampling")) opt["sampling"]["temperature"] = 0.3 + rng.uniform();
    Budget budget;
    if (rng.bernoulli(0.6)) budget.max_generated_tokens = rng.uniform_int(20, 3000);
    if (rng.bernoulli(0.4)) budget.max_verifier_tokens = rng.uniform_int(20, 3000);
    if (rng.bernoulli(0.4)) budget.max_calls = rng.uniform_int(1, 12);
    if (!budget.max_generated_tokens) budget.max_generated_tokens = 6000;  // keeps each trial small
    std::vector<SearchSpec> specs;
    for (std::size_t i = 0; i < problems.size(); ++i) specs.push_back(e.make(problems[i], opt, budget, batch_seed(trial, i)));
    FlakyGenerator gen(trial, 0.02 + 0.2 * rng.uniform());
    FlakyVerifier ver(trial + 7, 0.02 + 0.2 * rng.uniform());
    std::stringstream trace;
    std::vector<SearchResult> rs;
    {
      JsonlAuditWriter w(trace);
      REQUIRE_NOTHROW(rs = run_searches(std::span<const SearchSpec>(specs), gen, ver, w));
    }
    INFO("trial " << trial << ": " << name << " " << opt.dump());
    REQUIRE(rs.size() == problems.size());
    for (std::size_t i = 0; i < rs.size(); ++i) {
      const auto& l = rs[i].ledger;  // the limits hold, failed or not
      REQUIRE(l.generated_tokens <= *budget.max_generated_tokens);
      if (budget.max_verifier_tokens) REQUIRE(l.verifier_tokens <= *budget.max_verifier_tokens);
      if (budget.max_calls) REQUIRE(l.calls() <= *budget.max_calls);
      if (rs[i].failed()) {
        ++failed;
        REQUIRE_THAT(rs[i].error, Catch::StartsWith(fmt::format("problem '{}': ", problems[i].id)));
        REQUIRE(rs[i].failure);
        REQUIRE_THROWS_AS(std::rethrow_exception(rs[i].failure), BackendError);
      } else {
        ++finished;
      }
    }
    std::stringstream in(trace.str());
    const AuditLog log = read_audit(in);
    REQUIRE(log.searches.size() == problems.size());
    for (const auto& [s, as] : log.searches) REQUIRE(as.end);  // the audit is complete up to the error
    for (const auto& out : replay_log(log)) {  // choices, marks and each ledger against the calls
      INFO("search " << out.search << ": " << out.detail);
      REQUIRE(out.failed == rs[out.search].failed());
      if (!out.failed) REQUIRE(out.match);
    }
  }
  // the property test exercised both outcomes
  REQUIRE(failed > 50);
  REQUIRE(finished > 50);
}
