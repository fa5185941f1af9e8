#include <catch2/catch.hpp>

#include <thread>

#include <ttsearch/strategies/best_of_majority.hpp>
#include <ttsearch/testing/simulated.hpp>

using namespace ttsearch;

TEST_CASE("Budget validation rejects zero and negative limits / naming the field", "[budget]") {
  Budget b;
  REQUIRE_NOTHROW(b.validate());
  REQUIRE(b.unlimited());
  b.max_generated_tokens = 0;
  REQUIRE_THROWS_WITH(b.validate(), Catch::Contains("budget.max_generated_tokens must be > 0 (got 0)"));
  b = {};
  b.max_verifier_tokens = -5;
  REQUIRE_THROWS_WITH(b.validate(), Catch::Contains("budget.max_verifier_tokens"));
  b = {};
  b.max_calls = 0;
  REQUIRE_THROWS_WITH(b.validate(), Catch::Contains("budget.max_calls"));
  b = {};
  b.max_wall_time = std::chrono::duration<double>(0);
  REQUIRE_THROWS_WITH(b.validate(), Catch::Contains("budget.max_wall_time"));
}

TEST_CASE("check_generate caps max_tokens so a call can never overrun", "[budget]") {
  Budget b;
  b.max_generated_tokens = 1000;
  ComputeLedger l;
  auto g = check_generate(b, l, 0.0, 8, 2048);
  REQUIRE_FALSE(g.stop);
  REQUIRE(g.max_tokens_cap == 125);  // 1000 / 8 samples
  l.generated_tokens = 995;
  g = check_generate(b, l, 0.0, 8, 2048);
  REQUIRE(g.stop == StopReason::kGeneratedTokens);  // fewer than one token per sample left
  l.generated_tokens = 0;
  g = check_generate(b, l, 0.0, 2, 100);
  REQUIRE(g.max_tokens_cap == 100);  // no cap needed
  b.max_calls = 3;
  l.generator_calls = 2;
  l.verifier_calls = 1;
  REQUIRE(check_generate(b, l, 0.0, 1, 10).stop == StopReason::kCalls);
}

TEST_CASE("check_verify and the deadline", "[budget]") {
  Budget b;
  b.max_verifier_tokens = 100;
  ComputeLedger l;
  REQUIRE_FALSE(check_verify(b, l, 0.0, 100));
  REQUIRE(check_verify(b, l, 0.0, 101) == StopReason::kVerifierTokens);
  b.max_wall_time = std::chrono::duration<double>(1.0);
  REQUIRE(check_verify(b, l, 1.5, 1) == StopReason::kDeadline);
}

TEST_CASE("Budgets hold mid-search: no limit is ever passed / the stop reason names it", "[budget][strategies]") {
  testing::SimulatedTaskOptions to;
  to.num_problems = 30;
  const auto problems = testing::make_simulated_problems(to);
  testing::SimulatedGenerator gen;
  testing::SimulatedPrm prm;
  for (std::int64_t limit : {5, 50, 300, 1000, 100000}) {
    Budget b;
    b.max_generated_tokens = limit;
    const auto results = solve_batch(std::span<const Problem>(problems), gen, prm, BestOfNOptions{.n = 16}, b);
    for (const auto& r : results) {
      REQUIRE(r.ledger.generated_tokens <= limit);
      if (limit < 16) {
        REQUIRE(r.stop_reason == StopReason::kGeneratedTokens);
        REQUIRE(r.answer.empty());
        REQUIRE(r.candidates.empty());
      } else {
        REQUIRE(r.candidates.size() == 16);
      }
    }
  }
  Budget vb;
  vb.max_verifier_tokens = 10;  // too small for 16 paths: the score call is refused
  const auto r = best_of_n(problems[0], gen, prm, BestOfNOptions{.n = 16}, vb);
  REQUIRE(r.stop_reason == StopReason::kVerifierTokens);
  REQUIRE(r.ledger.verifier_tokens == 0);
  REQUIRE(r.ledger.verifier_calls == 0);
  REQUIRE(r.candidates.size() == 16);  // the samples are kept; the first is returned unscored
  REQUIRE(r.chosen == r.candidates.front().leaf);
  Budget cb;
  cb.max_calls = 1;
  const auto w = weighted_majority(problems[0], gen, prm, WeightedMajorityOptions{.n = 8}, cb);
  REQUIRE(w.stop_reason == StopReason::kCalls);
  REQUIRE(w.ledger.calls() == 1);
  REQUIRE_FALSE(w.answer.empty());  // falls back to a vote by count
  REQUIRE(w.answer == majority_vote(problems[0], gen, MajorityVoteOptions{.n = 8}).answer);
}

TEST_CASE("A deadline stops a search before its next call", "[budget]") {
  struct SlowGenerator {
    testing::SimulatedGenerator inner;
    Generation generate(std::span<const GenerateRequest> r) {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      return inner.generate(r);
    }
  };
  const auto problems = testing::make_simulated_problems({.num_problems = 1});
  SlowGenerator gen;
  testing::SimulatedPrm prm;
  Budget b;
  b.max_wall_time = std::chrono::duration<double>(0.01);
  const auto r = best_of_n(problems[0], gen, prm, BestOfNOptions{.n = 4}, b);
  REQUIRE(r.stop_reason == StopReason::kDeadline);
  REQUIRE(r.ledger.generator_calls == 1);
  REQUIRE(r.ledger.verifier_calls == 0);
}
