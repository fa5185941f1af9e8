#include <catch2/catch.hpp>

#include <cmath>

#include <ttsearch/strategies/best_of_majority.hpp>
#include <ttsearch/strategies/registry.hpp>
#include <ttsearch/testing/simulated.hpp>

using namespace ttsearch;

namespace {
Candidate cand(std::string answer, double score, NodeId leaf = 0) {
  Candidate c;
  c.answer = std::move(answer);
  c.score = score;
  c.step_scores = {score};
  c.leaf = leaf;
  return c;
}

double accuracy(const std::vector<SearchResult>& rs, const std::vector<Problem>& ps) {
  double hits = 0;
  for (std::size_t i = 0; i < rs.size(); ++i) hits += answer::equivalent_normalized(rs[i].answer, *ps[i].reference);
  return hits / static_cast<double>(rs.size());
}
}  // namespace

TEST_CASE("options are validated up front with messages naming the option", "[strategies][options]") {
  Problem p{.id = "p", .question = "q", .reference = {}};
  REQUIRE_THROWS_WITH(make_search(p, BestOfNOptions{.n = 0}), Catch::Contains("best-of-n: n must be in [1, 1048576] (got 0)"));
  REQUIRE_THROWS_WITH(make_search(p, MajorityVoteOptions{.n = -3}), Catch::Contains("majority: n must be"));
  REQUIRE_THROWS_WITH(make_search(p, WeightedMajorityOptions{.weight = GroupWeight::kCount}),
                      Catch::Contains("weighted-majority: weight must be sum, mean or max"));
  REQUIRE_THROWS_WITH(make_search(p, BestOfMajorityOptions{.alpha = 0.0}), Catch::Contains("best-of-majority: alpha must be in (0, 1]"));
  REQUIRE_THROWS_WITH(make_search(p, BestOfMajorityOptions{.alpha = 1.5}), Catch::Contains("alpha"));
  REQUIRE_THROWS_WITH(make_search(p, BestOfMajorityOptions{.k = 0}), Catch::Contains("best-of-majority: k must be >= 1"));
  BestOfNOptions neg;
  neg.sampling.temperature = -0.5;
  REQUIRE_THROWS_WITH(make_search(p, neg), Catch::Contains("sampling.temperature must be finite and >= 0 (got -0.5)"));
}

TEST_CASE("options round-trip through JSON - unknown keys and bad types are rejected", "[strategies][options]") {
  BestOfMajorityOptions o{.n = 32, .aggregation = Aggregation::kMin, .alpha = 0.25, .k = 2, .reward = GroupWeight::kMean};
  const auto back = Json(o).get<BestOfMajorityOptions>();
  REQUIRE(back.n == 32);
  REQUIRE(back.aggregation == Aggregation::kMin);
  REQUIRE(back.alpha == 0.25);
  REQUIRE(back.k == 2);
  REQUIRE(back.reward == GroupWeight::kMean);
  REQUIRE_THROWS_WITH(Json::parse(R"({"n": 4, "beam": 2})").get<BestOfNOptions>(),
                      Catch::Contains("best-of-n options: unknown option \"beam\""));
  REQUIRE_THROWS_WITH(Json::parse(R"({"n": "four"})").get<MajorityVoteOptions>(),
                      Catch::Contains("majority options.n must be an integer (got \"four\")"));
  REQUIRE_THROWS_WITH(Json::parse(R"({"aggregation": "median"})").get<WeightedMajorityOptions>(),
                      Catch::Contains("unknown aggregation 'median'"));
}

TEST_CASE("selection rules and their tie-breaking", "[strategies][selection]") {
  const std::vector<Candidate> c = {cand("1", 0.4), cand("2", 0.9), cand("2", 0.1), cand("1", 0.5), cand("3", 0.9)};
  REQUIRE(select_best_of_n(c) == 1);  // 0.9 ties with index 4: the first wins
  auto maj = select_vote(c, GroupWeight::kCount);
  REQUIRE(maj.answers == std::vector<std::string>{"1", "2", "3"});  // 2 vs 2: the first seen wins
  REQUIRE(maj.chosen == 3);  // the group's best-scored member
  REQUIRE(select_vote(c, GroupWeight::kSum).answers.front() == "2");   // 1.0 vs 0.9
  REQUIRE(select_vote(c, GroupWeight::kMean).answers.front() == "3");  // 0.9 vs 0.5 vs 0.45
  REQUIRE(select_vote(c, GroupWeight::kMax).answers.front() == "2");   // 0.9 ties with "3": first seen
  REQUIRE(select_best_of_n(std::vector<Candidate>{}) == -1);
  REQUIRE(select_vote(std::vector<Candidate>{}, GroupWeight::kCount).answers.empty());
}

TEST_CASE("answers that could not be extracted never win a vote", "[strategies][selection]") {
  const std::vector<Candidate> c = {cand("", 0.9), cand("", 0.9), cand("", 0.9), cand("7", 0.1)};
  REQUIRE(select_vote(c, GroupWeight::kCount).answers.front() == "7");
  REQUIRE(select_vote(c, GroupWeight::kSum).answers.front() == "7");
  REQUIRE(select_best_of_majority(c, 0.1, 1, GroupWeight::kMax).answers.front() == "7");
  const std::vector<Candidate> none = {cand("", 0.2), cand("", 0.3)};
  REQUIRE(select_vote(none, GroupWeight::kCount).answers.front().empty());  // nothing else to return
}

TEST_CASE("Best-of-Majority resists a rare high-reward wrong answer - BoN does not", "[strategies][bom]") {
  // 10 samples: the right answer "12" six times with moderate reward, a reward-hacking outlier
  // "99" once with reward 0.99, and "13" three times.
  std::vector<Candidate> c;
  for (int i = 0; i < 6; ++i) c.push_back(cand("12", 0.6 + 0.01 * i));
  c.push_back(cand("99", 0.99));
  for (int i = 0; i < 3; ++i) c.push_back(cand("13", 0.7));
  const auto bon = select_best_of_n(c);
  REQUIRE(c[static_cast<std::size_t>(bon)].answer == "99");
  REQUIRE(select_vote(c, GroupWeight::kMax).answers.front() == "99");       // weighted by max is fooled too
  REQUIRE(select_vote(c, GroupWeight::kCount).answers.front() == "12");     // majority is right here
  const auto bom = select_best_of_majority(c, 0.2, 2, GroupWeight::kMax);
  REQUIRE(bom.answers == std::vector<std::string>{"13", "12"});  // 99 filtered; top-2 by reward
  REQUIRE(select_best_of_majority(c, 0.4, 1, GroupWeight::kMax).answers.front() == "12");
  // Where majority is wrong but BoM is right: the majority answer has low reward.
  std::vector<Candidate> d;
  for (int i = 0; i < 4; ++i) d.push_back(cand("5", 0.2));
  for (int i = 0; i < 3; ++i) d.push_back(cand("6", 0.8));
  d.push_back(cand("7", 0.95));
  REQUIRE(select_vote(d, GroupWeight::kCount).answers.front() == "5");
  REQUIRE(select_best_of_majority(d, 0.25, 1, GroupWeight::kMax).answers.front() == "6");
  // Fallback: nothing reaches alpha, keep the modal answers and rank them by reward.
  std::vector<Candidate> e = {cand("1", 0.3), cand("2", 0.9), cand("1", 0.4), cand("3", 0.99), cand("2", 0.5)};
  REQUIRE(select_best_of_majority(e, 0.9, 1, GroupWeight::kMax).answers == std::vector<std::string>{"2"});
}

TEST_CASE("best-of-N with a perfect verifier follows 1-(1-p)^N", "[strategies][statistics]") {
  testing::SimulatedTaskOptions to;
  to.num_problems = 600;
  to.seed = 17;
  const auto problems = testing::make_simulated_problems(to);
  testing::SimulatedGenerator gen;
  testing::SimulatedPrm perfect(testing::SimulatedPrmOptions::perfect());
  const double temperature = BestOfNOptions{}.sampling.temperature;
  for (std::int32_t n : {1, 2, 4, 16}) {
    double expected = 0;
    for (const auto& p : problems) expected += 1 - std::pow(1 - testing::simulated_success_probability(p, temperature), n);
    expected /= static_cast<double>(problems.size());
    const auto rs = solve_batch(std::span<const Problem>(problems), gen, perfect, BestOfNOptions{.n = n}, Budget{}, 100 + n);
    const double got = accuracy(rs, problems);
    // Binomial standard error of the mean over problems is at most 0.5/sqrt(600) ~ 0.02: allow 4 sigma.
    INFO("n=" << n << " expected " << expected << " measured " << got);
    CHECK(std::fabs(got - expected) < 0.08);
  }
}

TEST_CASE("on the simulated domain / voting with more samples helps and the PRM adds to it", "[strategies][statistics]") {
  testing::SimulatedTaskOptions to;
  to.num_problems = 400;
  to.min_step_accuracy = 0.6;
  to.max_step_accuracy = 0.95;
  to.seed = 5;
  const auto problems = testing::make_simulated_problems(to);
  const std::span<const Problem> ps(problems);
  testing::SimulatedGenerator gen;
  testing::SimulatedPrm prm(testing::SimulatedPrmOptions{.noise = 1.0});
  NoVerifier none;
  const double maj1 = accuracy(solve_batch(ps, gen, none, MajorityVoteOptions{.n = 1}, Budget{}, 1), problems);
  const double maj16 = accuracy(solve_batch(ps, gen, none, MajorityVoteOptions{.n = 16}, Budget{}, 1), problems);
  const double bon16 = accuracy(solve_batch(ps, gen, prm, BestOfNOptions{.n = 16}, Budget{}, 1), problems);
  const double wm16 = accuracy(solve_batch(ps, gen, prm, WeightedMajorityOptions{.n = 16}, Budget{}, 1), problems);
  const double bom16 = accuracy(solve_batch(ps, gen, prm, BestOfMajorityOptions{.n = 16}, Budget{}, 1), problems);
  INFO("maj@1 " << maj1 << " maj@16 " << maj16 << " bon@16 " << bon16 << " wm@16 " << wm16 << " bom@16 " << bom16);
  CHECK(maj16 > maj1 + 0.1);
  CHECK(bon16 > maj1 + 0.1);
  CHECK(wm16 >= maj16);
  CHECK(bom16 >= maj16 - 0.02);
}

TEST_CASE("majority vote never calls a verifier - the voting strategies record their candidates", "[strategies]") {
  const auto problems = testing::make_simulated_problems({.num_problems = 1});
  testing::SimulatedGenerator gen;
  testing::SimulatedPrm prm;
  const auto m = majority_vote(problems[0], gen, MajorityVoteOptions{.n = 5});
  REQUIRE(m.strategy == "majority");
  REQUIRE(m.ledger.verifier_calls == 0);
  REQUIRE(m.ledger.generator_calls == 1);
  REQUIRE(m.candidates.size() == 5);
  REQUIRE(m.tree.size() == 6);
  REQUIRE(m.stop_reason == StopReason::kCompleted);
  const auto b = best_of_majority(problems[0], gen, prm, BestOfMajorityOptions{.n = 8, .k = 3});
  REQUIRE(b.ledger.verifier_calls == 1);
  REQUIRE(b.ledger.scored_paths == 8);
  REQUIRE(b.ledger.verifier_tokens == b.ledger.generated_tokens);  // the PRM read every generated token
  REQUIRE(b.answers.size() <= 3);
  REQUIRE(b.answers.front() == b.answer);
  for (const auto& c : b.candidates) {
    REQUIRE(b.tree.node(c.leaf).has(kFlagScored));
    REQUIRE(b.tree.node(c.leaf).has(kFlagTerminal));
    REQUIRE(c.score == b.tree.node(c.leaf).scores.back());
  }
  REQUIRE(b.tree.node(b.chosen).has(kFlagChosen));
}

TEST_CASE("integer options are never truncated or wrapped - the field is named", "[strategies][options]") {
  REQUIRE_THROWS_WITH(Json::parse(R"({"n": 3.5})").get<BestOfNOptions>(), Catch::Contains("best-of-n options.n must be an integer (got 3.5)"));
  REQUIRE_THROWS_WITH(Json::parse(R"({"n": 4294967300})").get<BestOfNOptions>(),
                      Catch::Contains("best-of-n options.n is out of range (got 4294967300"));
  REQUIRE_THROWS_WITH(Json::parse(R"({"n": 1e30})").get<MajorityVoteOptions>(), Catch::Contains("majority options.n must be an integer"));
  REQUIRE_THROWS_WITH(Json::parse(R"({"n": -2147483649})").get<MajorityVoteOptions>(), Catch::Contains("out of range"));
  REQUIRE_THROWS_WITH(Json::parse(R"({"n": 4, "sampling": {"max_tokens": 2.5}})").get<BestOfNOptions>(),
                      Catch::Contains("sampling.max_tokens must be an integer (got 2.5)"));
  REQUIRE_THROWS_WITH(Json::parse(R"({"n": 4, "sampling": {"top_k": 4294967297}})").get<BestOfNOptions>(),
                      Catch::Contains("sampling.top_k is out of range"));
  CHECK(Json::parse(R"({"n": 7})").get<BestOfNOptions>().n == 7);
}

TEST_CASE("a partial sampling object keeps the strategy's other sampling defaults", "[strategies][options]") {
  const auto beam = Json::parse(R"({"sampling": {"temperature": 0.5}})").get<BeamSearchOptions>();
  CHECK(beam.sampling.temperature == 0.5);
  CHECK(beam.sampling.stop == std::vector<std::string>{"\n\n"});  // beam's step sampling, not SamplingParams{}
  const auto dc = Json::parse(R"({"sampling": {"max_tokens": 100}})").get<DeepConfOptions>();
  CHECK(dc.sampling.token_confidence);
  CHECK(dc.sampling.max_tokens == 100);
  CHECK(dc.sampling.temperature == 0.6);
  REQUIRE_THROWS_WITH(Json::parse(R"({"sampling": {"top_p": "high"}})").get<BestOfNOptions>(), Catch::Contains("option \"sampling\" has the wrong type"));
}
