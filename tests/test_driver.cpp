#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

#include <ttsearch/strategies/best_of_majority.hpp>
#include <ttsearch/strategies/replay.hpp>
#include <ttsearch/testing/simulated.hpp>
#include <ttsearch/trace/jsonl.hpp>

using namespace ttsearch;

namespace {

/// Counts calls and batch sizes, delegating to the simulated backends.
struct CountingGenerator {
  testing::SimulatedGenerator inner;
  int calls = 0;
  std::size_t largest_batch = 0;
  Generation generate(std::span<const GenerateRequest> r) {
    ++calls;
    largest_batch = std::max(largest_batch, r.size());
    return inner.generate(r);
  }
};
struct CountingPrm {
  testing::SimulatedPrm inner;
  int calls = 0;
  Scoring score(std::span<const ScoreRequest> r) {
    ++calls;
    return inner.score(r);
  }
};

void require_same(const SearchResult& a, const SearchResult& b) {
  REQUIRE(a.answer == b.answer);
  REQUIRE(a.answers == b.answers);
  REQUIRE(a.chosen == b.chosen);
  REQUIRE(a.ledger.generated_tokens == b.ledger.generated_tokens);
  REQUIRE(a.ledger.verifier_tokens == b.ledger.verifier_tokens);
  REQUIRE(a.tree.size() == b.tree.size());
  for (NodeId id = 0; id < static_cast<NodeId>(a.tree.size()); ++id) {
    REQUIRE(a.tree.node(id).step.text == b.tree.node(id).step.text);
    REQUIRE(a.tree.node(id).scores == b.tree.node(id).scores);
  }
}

/// A two-round strategy written by a user: one step, score it, then the rest.
SearchTask two_round_search(SearchContext& ctx) {
  std::vector<GenerateOp> first(1);
  first[0].num_samples = 2;
  first[0].params = SamplingParams::step();
  auto e1 = co_await ctx.generate(first);
  if (!e1.ok()) co_return SearchResult{};
  auto s1 = co_await ctx.score(e1.children[0]);
  (void)s1;
  const NodeId best = ctx.tree().node(e1.children[0][0]).scores.back() >= ctx.tree().node(e1.children[0][1]).scores.back()
                          ? e1.children[0][0]
                          : e1.children[0][1];
  ctx.mark(best, kFlagKept, "higher PRM score");
  std::vector<GenerateOp> rest(1);
  rest[0].parent = best;
  rest[0].params.stop.clear();
  auto e2 = co_await ctx.generate(rest);
  SearchResult r;
  if (e2.ok()) {
    r.chosen = e2.children[0][0];
    r.answer = answer::normalize_answer(answer::extract_answer(ctx.tree().path(r.chosen).text()).answer);
    r.answers = {r.answer};
  }
  co_return r;
}

}  // namespace

TEST_CASE("solve_batch equals solving problems one by one / with one backend call per round", "[driver][batch]") {
  const auto problems = testing::make_simulated_problems({.num_problems = 25, .seed = 3});
  const std::span<const Problem> ps(problems);
  CountingGenerator gen;
  CountingPrm prm;
  const auto batch = solve_batch(ps, gen, prm, WeightedMajorityOptions{.n = 8}, Budget{}, 11);
  REQUIRE(gen.calls == 1);  // 25 problems, one merged call
  REQUIRE(gen.largest_batch == 25);
  REQUIRE(prm.calls == 1);
  for (std::size_t i = 0; i < problems.size(); ++i) {
    const auto one = weighted_majority(problems[i], gen, prm, WeightedMajorityOptions{.n = 8}, {}, NullObserver{}, batch_seed(11, i));
    require_same(batch[i], one);
  }
  // Same for the other strategies, and for a mixed batch of strategies.
  const auto bon = solve_batch(ps, gen, prm, BestOfNOptions{.n = 4}, Budget{}, 5);
  const auto bom = solve_batch(ps, gen, prm, BestOfMajorityOptions{.n = 4}, Budget{}, 5);
  std::vector<SearchSpec> mixed;
  for (std::size_t i = 0; i < problems.size(); ++i) {
    mixed.push_back(i % 2 ? make_search(problems[i], BestOfNOptions{.n = 4}, {}, batch_seed(5, i))
                          : make_search(problems[i], BestOfMajorityOptions{.n = 4}, {}, batch_seed(5, i)));
  }
  const auto mixed_results = run_searches(std::span<const SearchSpec>(mixed), gen, prm);
  for (std::size_t i = 0; i < problems.size(); ++i) require_same(mixed_results[i], i % 2 ? bon[i] : bom[i]);
}

TEST_CASE("results are deterministic for a seed and change with it", "[driver]") {
  const auto problems = testing::make_simulated_problems({.num_problems = 1});
  testing::SimulatedGenerator gen;
  testing::SimulatedPrm prm;
  const auto a = best_of_n(problems[0], gen, prm, BestOfNOptions{.n = 8}, {}, NullObserver{}, 1);
  const auto b = best_of_n(problems[0], gen, prm, BestOfNOptions{.n = 8}, {}, NullObserver{}, 1);
  const auto c = best_of_n(problems[0], gen, prm, BestOfNOptions{.n = 8}, {}, NullObserver{}, 2);
  require_same(a, b);
  REQUIRE(a.tree.path(1).text() != c.tree.path(1).text());
}

TEST_CASE("a user-written multi-round strategy runs under the driver / batched", "[driver]") {
  const auto problems = testing::make_simulated_problems({.num_problems = 6});
  CountingGenerator gen;
  CountingPrm prm;
  std::vector<SearchSpec> specs;
  for (const auto& p : problems) specs.push_back(SearchSpec{&p, "two-round", Json::object(), Budget{}, 0, two_round_search});
  const auto results = run_searches(std::span<const SearchSpec>(specs), gen, prm);
  REQUIRE(gen.calls == 2);  // round 1 and round 2, each for all six problems
  REQUIRE(prm.calls == 1);
  for (const auto& r : results) {
    REQUIRE(r.tree.size() == 4);  // root, 2 first steps, 1 completion
    REQUIRE(r.tree.path(r.chosen).is_complete());
    REQUIRE(r.tree.node(r.tree.node(r.chosen).parent).has(kFlagKept));
    REQUIRE(r.tree.node(r.chosen).has(kFlagChosen));
    REQUIRE(r.ledger.generator_calls == 2);
    REQUIRE(r.ledger.prompt_tokens > 0);
  }
}

namespace {
struct ThrowFromSecondCall {
  testing::SimulatedGenerator inner;
  int calls = 0;
  Generation generate(std::span<const GenerateRequest> r) {
    if (++calls >= 2) throw std::runtime_error("CUDA out of memory (simulated)");
    return inner.generate(r);
  }
};
}  // namespace

TEST_CASE("a generator that dies mid-search: every search fails naming its problem / with a complete audit", "[driver][trace]") {
  const auto problems = testing::make_simulated_problems({.num_problems = 2});
  ThrowFromSecondCall gen;
  testing::SimulatedPrm prm;
  std::stringstream audit;
  std::vector<SearchSpec> specs;
  for (const auto& p : problems) specs.push_back(SearchSpec{&p, "two-round", Json::object(), Budget{}, 0, two_round_search});
  std::vector<SearchResult> rs;
  {
    JsonlAuditWriter writer(audit);
    rs = run_searches(std::span<const SearchSpec>(specs), gen, prm, writer);
  }
  REQUIRE(gen.calls == 4);  // round 1; round 2 merged, then once per search alone
  for (std::size_t i = 0; i < rs.size(); ++i) {
    REQUIRE(rs[i].failed());
    REQUIRE(rs[i].stop_reason == StopReason::kFailed);
    REQUIRE(rs[i].answer.empty());
    REQUIRE_THAT(rs[i].error, Catch::Contains(fmt::format("problem '{}': generator threw: CUDA out of memory (simulated)", problems[i].id)));
    REQUIRE(rs[i].ledger.generator_calls == 1);  // what it spent before the failure is kept
    REQUIRE(rs[i].tree.size() == 3);
    REQUIRE_THROWS_AS(std::rethrow_exception(rs[i].failure), BackendError);
  }
  const AuditLog log = read_audit(audit);
  REQUIRE(log.searches.size() == 2);
  for (const auto& [s, as] : log.searches) {
    REQUIRE(as.tree.size() == 3);  // root + the two first-round steps survive
    REQUIRE(as.tree.node(1).has(kFlagScored));
    REQUIRE(as.errors.size() == 1);
    REQUIRE(as.end);
    REQUIRE(as.end->at("stop_reason") == "failed");
    REQUIRE(as.end->at("error") == as.errors.front());
    REQUIRE(as.marks.size() == 1);
    const auto out = replay(as);
    REQUIRE(out.failed);
    REQUIRE_FALSE(out.match);
    REQUIRE_THAT(out.detail, Catch::Contains("CUDA out of memory"));
  }
  REQUIRE(log.calls.size() == 2);  // the first generate and the score call
  gen.calls = 1;  // one search: solve() rethrows its failure
  REQUIRE_THROWS_AS(solve(problems[0], gen, prm, BestOfNOptions{.n = 2}), BackendError);
}

namespace {
struct BrokenGenerator {
  int mode = 0;
  Generation generate(std::span<const GenerateRequest> r) {
    Generation g;
    for (const auto& req : r) {
      Step s;
      s.text = "The answer is 1.";
      s.num_tokens = mode == 2 ? req.params.max_tokens + 1 : 3;
      s.finish = FinishReason::kEos;
      if (mode == 3) s.logprob = std::nan("");
      g.outputs.emplace_back(static_cast<std::size_t>(mode == 1 ? req.num_samples - 1 : req.num_samples), s);
    }
    if (mode == 4) g.outputs.pop_back();
    return g;
  }
};
struct NanVerifier {
  Scoring score(std::span<const ScoreRequest> r) {
    Scoring s;
    for (std::size_t i = 0; i < r.size(); ++i) s.scores.push_back({0.5, std::nan("")});
    return s;
  }
};
}  // namespace

TEST_CASE("backends that break their contract get a clear BackendError", "[driver]") {
  Problem p{.id = "p", .question = "q", .reference = "1"};
  testing::SimulatedPrm prm;
  NoVerifier none;
  for (int mode : {1, 2, 3, 4}) {
    BrokenGenerator gen{mode};
    const char* expected = mode == 1   ? "generator returned 3 continuations for request 0 (asked 4)"
                           : mode == 2 ? "generator returned 2049 tokens for a request capped at 2048"
                           : mode == 3 ? "NaN log-probability"
                                       : "generator returned 0 outputs for 1 requests";
    REQUIRE_THROWS_WITH(majority_vote(p, gen, MajorityVoteOptions{.n = 4}), Catch::Contains(expected));
    REQUIRE_THROWS_AS(majority_vote(p, gen, MajorityVoteOptions{.n = 4}), BackendError);
  }
  BrokenGenerator ok_gen{0};
  NanVerifier nan;
  REQUIRE_THROWS_WITH(best_of_n(p, ok_gen, nan, BestOfNOptions{.n = 2}),
                      Catch::Contains("verifier returned a non-finite score (nan) for path 0 step 1"));
  REQUIRE_THROWS_WITH(best_of_n(p, ok_gen, none, BestOfNOptions{.n = 2}), Catch::Contains("no verifier"));
}

TEST_CASE("a strategy that throws fails its search alone / solve() rethrows its exception", "[driver][trace]") {
  const auto problems = testing::make_simulated_problems({.num_problems = 3});
  testing::SimulatedGenerator gen;
  testing::SimulatedPrm prm;
  auto bad = [](SearchContext& ctx) -> SearchTask {
    std::vector<GenerateOp> ops(1);
    ops[0].num_samples = 0;  // invalid: rejected by ctx.generate
    co_await ctx.generate(ops);
    co_return SearchResult{};
  };
  std::vector<SearchSpec> specs;
  for (std::size_t i = 0; i < problems.size(); ++i) {
    specs.push_back(i == 1 ? SearchSpec{&problems[i], "bad", Json::object(), Budget{}, 0, bad}
                           : make_search(problems[i], BestOfNOptions{.n = 4}, {}, batch_seed(9, i)));
  }
  std::stringstream audit;
  std::vector<SearchResult> rs;
  {
    JsonlAuditWriter w(audit);
    rs = run_searches(std::span<const SearchSpec>(specs), gen, prm, w);
  }
  REQUIRE(rs[1].failed());
  REQUIRE_THAT(rs[1].error, Catch::Contains("strategy 'bad' failed: generate: num_samples must be > 0"));
  REQUIRE_THROWS_AS(std::rethrow_exception(rs[1].failure), InvalidArgument);  // the strategy's own exception
  for (std::size_t i : {0, 2}) {
    REQUIRE_FALSE(rs[i].failed());
    require_same(rs[i], best_of_n(problems[i], gen, prm, BestOfNOptions{.n = 4}, {}, NullObserver{}, batch_seed(9, i)));
  }
  const auto log = read_audit(audit);
  REQUIRE(log.searches.at(1).errors.at(0).find("strategy 'bad' failed") != std::string::npos);
  REQUIRE(replay(log.searches.at(0)).match);
  REQUIRE(replay(log.searches.at(1)).failed);
  REQUIRE(replay(log.searches.at(2)).match);
}
