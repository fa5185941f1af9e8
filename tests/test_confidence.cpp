// Token confidence, the confidence verifier, DeepConf (offline / online), Adaptive-Consistency and
// ESC: the rules against hand computations and closed forms, budgets, replay, and "off changes
// nothing".
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

#include <ttsearch/core/any.hpp>
#include <ttsearch/cuda/sampling.hpp>
#include <ttsearch/strategies/registry.hpp>
#include <ttsearch/strategies/replay.hpp>
#include <ttsearch/testing/simulated.hpp>
#include <ttsearch/verifiers/confidence.hpp>

using namespace ttsearch;

namespace {

Step step_with(std::vector<float> conf, std::vector<float> lps, std::string text = "x", FinishReason f = FinishReason::kStop) {
  Step s;
  s.text = std::move(text);
  s.num_tokens = static_cast<std::int64_t>(conf.size());
  s.token_confidences = std::move(conf);
  s.token_logprobs = std::move(lps);
  for (float l : s.token_logprobs) s.logprob += l;
  s.finish = f;
  return s;
}

std::vector<Problem> sim_problems(int n, std::uint64_t seed = 3) {
  testing::SimulatedTaskOptions o;
  o.num_problems = n;
  o.seed = seed;
  return testing::make_simulated_problems(o);
}

/// A generator that returns planted answers in order, one per sample (a fixed queue per problem),
/// with per-token confidence when asked; counts what it generated.
struct PlantedGenerator {
  std::vector<std::string> answers;  // the i-th sample drawn answers answers[i % size]
  std::vector<float> conf_of = {};   // per answer index: the token confidence (default 2)
  std::size_t next = 0;
  std::int64_t generated = 0;
  std::int64_t calls = 0;
  std::vector<std::int32_t> round_sizes = {};
  Generation generate(std::span<const GenerateRequest> reqs) {
    Generation g;
    ++calls;
    for (const auto& r : reqs) {
      round_sizes.push_back(r.num_samples);
      std::vector<Step> out;
      for (int i = 0; i < r.num_samples; ++i) {
        const std::size_t k = next++ % answers.size();
        const float c = k < conf_of.size() ? conf_of[k] : 2.0f;
        Step s;
        s.text = "so \\boxed{" + answers[k] + "}";
        s.num_tokens = std::min<std::int64_t>(10, r.params.max_tokens);
        s.finish = FinishReason::kEos;
        if (r.params.token_confidence) {
          ConfidenceWindow w(r.params.confidence_stop.value_or(-1e300), r.params.confidence_window);
          for (std::int64_t t = 0; t < s.num_tokens; ++t) {
            s.token_confidences.push_back(c);
            s.token_logprobs.push_back(-0.5f);
            if (r.params.confidence_stop && w.push(c)) {
              s.num_tokens = t + 1;
              s.finish = FinishReason::kLowConfidence;
              s.text = "so";
              break;
            }
          }
          s.logprob = -0.5 * static_cast<double>(s.num_tokens);
        }
        generated += s.num_tokens;
        out.push_back(std::move(s));
      }
      g.outputs.push_back(std::move(out));
    }
    return g;
  }
};

}  // namespace

TEST_CASE("confidence: group / bottom-10 / tail / mean against a hand computation", "[confidence]") {
  // 6 tokens, window 3: groups (1+2+3)/3=2, (2+3+6)/3=11/3, (3+6+0)/3=3, (6+0+9)/3=5
  const std::vector<float> c = {1, 2, 3, 6, 0, 9};
  const std::vector<float> l = {-0.1f, -2.0f, -0.3f, -0.4f, -0.5f, -0.6f};
  const auto t = trace_confidence(c, l, 3);
  CHECK(t.mean == Approx(21.0 / 6));
  CHECK(t.lowest_group == Approx(2.0));
  CHECK(t.bottom10 == Approx(2.0));  // max(1, floor(0.1 * 4)) = 1 group
  CHECK(t.tail == Approx(5.0));
  CHECK(t.min_logprob == Approx(-2.0));
  CHECK(t.mean_logprob == Approx(-3.9 / 6));
  // a trace shorter than the window is one group: the mean
  const auto s = trace_confidence(std::vector<float>{4, 2}, std::vector<float>{-1, -1}, 2048);
  CHECK(s.lowest_group == Approx(3.0));
  CHECK(s.bottom10 == Approx(3.0));
  CHECK(s.tail == Approx(3.0));
  // bottom-10% of 20 groups is the mean of the lowest 2
  std::vector<float> many(21, 5.0f);
  many[0] = 0;  // window 2: groups 2.5, then 5 x 19: lowest two 2.5 and 5
  CHECK(trace_confidence(many, {}, 2).bottom10 == Approx((2.5 + 5.0) / 2));
  REQUIRE_THROWS_WITH(trace_confidence(c, l, 0), Catch::Contains("window must be >= 1"));
}

TEST_CASE("confidence: path summaries are exact across step boundaries", "[confidence]") {
  SearchTree tree;
  const NodeId a = tree.add_child(SearchTree::root(), step_with({1, 2}, {-0.1f, -0.2f}));
  const NodeId b = tree.add_child(a, step_with({3, 6, 0, 9}, {-0.3f, -0.4f, -0.5f, -0.6f}));
  const auto whole = trace_confidence(std::vector<float>{1, 2, 3, 6, 0, 9}, std::vector<float>{-0.1f, -0.2f, -0.3f, -0.4f, -0.5f, -0.6f}, 3);
  const auto path = trace_confidence(tree.path(b), 3);
  CHECK(path.has_tokens);
  CHECK(path.lowest_group == Approx(whole.lowest_group));
  CHECK(path.tail == Approx(whole.tail));
  CHECK(path.sum_logprob == Approx(-2.1));
  // a step without per-token values: only sum-logprob is available
  Step plain;
  plain.text = "y";
  plain.num_tokens = 3;
  plain.logprob = -1;
  const NodeId c = tree.add_child(b, plain);
  CHECK_FALSE(trace_confidence(tree.path(c), 3).has_tokens);
  REQUIRE_THROWS_WITH(path_signal(tree.path(c), ConfidenceSignal::kTail, 3), Catch::Contains("token_confidence = true"));
  CHECK(path_signal(tree.path(c), ConfidenceSignal::kSumLogprob, 3) == Approx(-3.1));
}

TEST_CASE("confidence: token confidence of logits against a sort-based reference", "[confidence][sampling]") {
  Rng rng(7);
  const std::int64_t V = 57;
  std::vector<float> logits(3 * V);
  for (auto& x : logits) x = static_cast<float>(rng.normal() * 3);
  logits[V + 5] = -INFINITY;  // a masked token
  for (std::int32_t k : {1, 5, 20, 57, 100}) {
    std::vector<float> out(3);
    cuda::token_confidence_cpu(logits.data(), cuda::ScalarType::kFloat32, 3, V, V, k, out.data());
    for (int r = 0; r < 3; ++r) {
      std::vector<double> lp(logits.begin() + r * V, logits.begin() + (r + 1) * V);
      const double m = *std::max_element(lp.begin(), lp.end());
      double z = 0;
      for (double x : lp) z += std::exp(x - m);
      for (double& x : lp) x = std::max(x - m - std::log(z), -9999.0);
      std::sort(lp.begin(), lp.end(), std::greater<>());
      const auto kk = static_cast<std::size_t>(std::min<std::int64_t>(k, V));
      double s = 0;
      for (std::size_t i = 0; i < kk; ++i) s += lp[i];
      INFO("k " << k << " row " << r);
      CHECK(out[static_cast<std::size_t>(r)] == Approx(-s / static_cast<double>(kk)).epsilon(1e-5));
    }
  }
  std::vector<float> bad = {1, NAN, 2};
  float o = 0;
  cuda::token_confidence_cpu(bad.data(), cuda::ScalarType::kFloat32, 1, 3, 3, 2, &o);
  CHECK(std::isnan(o));
}

TEST_CASE("confidence: ConfidenceWindow stops only on a full window below the threshold", "[confidence]") {
  ConfidenceWindow w(2.0, 3);
  CHECK_FALSE(w.push(0.0));  // 1 of 3
  CHECK_FALSE(w.push(0.0));  // 2 of 3: never stopped before the window is full
  CHECK(w.push(0.0));
  ConfidenceWindow v(2.0, 3);
  CHECK_FALSE(v.push(3));
  CHECK_FALSE(v.push(3));
  CHECK_FALSE(v.push(0));  // mean 2: not below
  CHECK(v.push(2.5));      // 3, 0, 2.5 -> 1.83
}

TEST_CASE("adaptive-consistency: the Beta rule's closed form", "[adaptive]") {
  CHECK(beta_stop_probability(1, 0) == Approx(0.75));
  CHECK(beta_stop_probability(4, 0) == Approx(31.0 / 32));
  CHECK(beta_stop_probability(3, 0) == Approx(15.0 / 16));
  // the smallest leader count that stops at 0.95 for b = 0..4: 4, 6, 8, 9, 11 (budget.md 2.1)
  const std::vector<std::int64_t> expected = {4, 6, 8, 9, 11};
  for (std::int64_t b = 0; b < 5; ++b) {
    std::int64_t a = 0;
    while (beta_stop_probability(a, b) < 0.95) ++a;
    CHECK(a == expected[static_cast<std::size_t>(b)]);
  }
  // against numeric integration of x^a (1-x)^b
  for (auto [a, b] : std::vector<std::pair<int, int>>{{5, 2}, {7, 3}, {10, 9}}) {
    double num = 0, den = 0;
    const int N = 200000;
    for (int i = 0; i < N; ++i) {
      const double x = (i + 0.5) / N;
      const double f = std::pow(x, a) * std::pow(1 - x, b);
      den += f;
      if (x > 0.5) num += f;
    }
    CHECK(beta_stop_probability(a, b) == Approx(num / den).epsilon(1e-4));
  }
  CHECK(beta_min_samples(0.95, 40) == 4);
}

TEST_CASE("adaptive-consistency: unanimous answers stop after 4 samples and one dissenter needs 6 agreeing", "[adaptive]") {
  Problem p{.id = "p", .question = "q", .reference = std::string("7")};
  NoVerifier none;
  {
    PlantedGenerator gen{.answers = {"7"}};
    const auto r = solve(p, gen, none, AdaptiveConsistencyOptions{});
    CHECK(r.candidates.size() == 4);
    CHECK(r.answer == "7");
    CHECK(gen.round_sizes == std::vector<std::int32_t>{4});
    CHECK(r.ledger.generated_tokens == 40);
  }
  {
    // 7, 9, 7, 7, 7, 7, 7: after 4 (3 vs 1: P = 0.8125), one at a time until 6 vs 1 at sample 7
    PlantedGenerator gen{.answers = {"7", "9", "7", "7", "7", "7", "7", "7", "7", "7"}};
    const auto r = solve(p, gen, none, AdaptiveConsistencyOptions{});
    CHECK(r.candidates.size() == 7);
    CHECK(gen.round_sizes == std::vector<std::int32_t>{4, 1, 1, 1});
    CHECK(r.answer == "7");
  }
  {
    // never settled: stops at the cap
    PlantedGenerator gen{.answers = {"1", "2"}};
    const auto r = solve(p, gen, none, AdaptiveConsistencyOptions{.max_samples = 12, .batch = 3});
    CHECK(r.candidates.size() == 12);
    CHECK(gen.round_sizes == std::vector<std::int32_t>{4, 3, 3, 2});
  }
  REQUIRE_THROWS_WITH(make_search(p, AdaptiveConsistencyOptions{.threshold = 0.4}), Catch::Contains("threshold must be in (0.5, 1)"));
  REQUIRE_THROWS_WITH(make_search(p, AdaptiveConsistencyOptions{.max_samples = 0}), Catch::Contains("max_samples must be in"));
  REQUIRE_THROWS_WITH(make_search(p, AdaptiveConsistencyOptions{.batch = 0}), Catch::Contains("batch must be >= 1"));
}

TEST_CASE("esc: stops at the first unanimous window and returns its answer", "[adaptive]") {
  Problem p{.id = "p", .question = "q", .reference = std::string("7")};
  NoVerifier none;
  // window 1: 9 9 9 9 8 (not unanimous); window 2: 7 x 5 -> stop, answer 7 although 9 has 4 votes... and 7 has 5
  PlantedGenerator gen{.answers = {"9", "9", "9", "9", "8", "7", "7", "7", "7", "7", "1"}};
  const auto r = solve(p, gen, none, EscOptions{});
  CHECK(r.candidates.size() == 10);
  CHECK(r.answer == "7");
  CHECK(gen.round_sizes == std::vector<std::int32_t>{5, 5});
  // the window's answer wins over a larger majority: 9 x 4 + 8, 9 x 4 + 8, then 7 x 5
  PlantedGenerator gen2{.answers = {"9", "9", "9", "9", "8", "9", "9", "9", "9", "8", "7", "7", "7", "7", "7"}};
  const auto r2 = solve(p, gen2, none, EscOptions{});
  CHECK(r2.candidates.size() == 15);
  CHECK(r2.answer == "7");
  // no unanimous window: the majority over all L
  PlantedGenerator gen3{.answers = {"1", "2", "2"}};
  const auto r3 = solve(p, gen3, none, EscOptions{.window = 5, .max_samples = 20});
  CHECK(r3.candidates.size() == 20);
  CHECK(r3.answer == "2");
  REQUIRE_THROWS_WITH(make_search(p, EscOptions{.window = 5, .max_samples = 3}), Catch::Contains("max_samples must be in [window"));
}

TEST_CASE("deepconf: filter to the most confident fraction then the confidence-weighted vote", "[deepconf]") {
  Problem p{.id = "p", .question = "q", .reference = std::string("1")};
  NoVerifier none;
  // answers 2 2 2 1 1 with confidences 1 1 1 5 4: majority says 2, confidence says 1
  PlantedGenerator gen{.answers = {"2", "2", "2", "1", "1"}, .conf_of = {1, 1, 1, 5, 4}};
  DeepConfOptions o{.n = 5, .keep_fraction = 1.0};
  auto r = solve(p, gen, none, o);
  CHECK(r.answer == "1");  // weights: 2 -> 3, 1 -> 9
  gen.next = 0;
  o.weighted = false;
  CHECK(solve(p, gen, none, o).answer == "2");  // a count over all five
  gen.next = 0;
  o.keep_fraction = 0.4;  // keep 2 of 5: the two 1s
  r = solve(p, gen, none, o);
  CHECK(r.answer == "1");
  CHECK(r.candidates[static_cast<std::size_t>(std::find_if(r.candidates.begin(), r.candidates.end(), [&](const Candidate& c) {
                          return c.leaf == r.chosen;
                        }) - r.candidates.begin())].score == Approx(5.0));  // the most confident member represents the group
  // the filter is on the kept fraction, not a percentile: 0.2 of 5 keeps exactly one (the 5)
  CHECK(deepconf_outcome(r.candidates, 0.2, true).answers == std::vector<std::string>{"1"});
  REQUIRE_THROWS_WITH(make_search(p, DeepConfOptions{.keep_fraction = 0}), Catch::Contains("keep_fraction must be in (0, 1]"));
  DeepConfOptions off;
  off.sampling.token_confidence = false;
  REQUIRE_THROWS_WITH(make_search(p, off), Catch::Contains("needs sampling.token_confidence = true"));
  REQUIRE_THROWS_WITH(make_search(p, DeepConfOptions{.signal = ConfidenceSignal::kSumLogprob}), Catch::Contains("non-negative signal"));
}

TEST_CASE("deepconf-online: the warm-up sets the threshold and a planted low-confidence trace is stopped and charged", "[deepconf]") {
  Problem p{.id = "p", .question = "q", .reference = std::string("1")};
  NoVerifier none;
  // warm-up 4 traces: confidences 3, 4, 5, 6 (answers 1 1 2 1); keep 0.5 -> s = 50th percentile = 4.5
  // round 1 (batch 2): a trace at confidence 1 (stopped after a full 4-token window) and one at 6
  PlantedGenerator gen{.answers = {"1", "1", "2", "1", "3", "1"}, .conf_of = {3, 4, 5, 6, 1, 6}};
  DeepConfOnlineOptions o{.warmup = 4, .max_samples = 6, .batch = 2, .keep_fraction = 0.5, .consensus = 1.0, .window = 4};
  const auto r = solve(p, gen, none, o);
  REQUIRE(r.candidates.size() == 6);
  const Node& stopped = r.tree.node(r.candidates[4].leaf);
  CHECK(stopped.step.finish == FinishReason::kLowConfidence);
  CHECK(stopped.step.num_tokens == 4);  // one full window
  CHECK(stopped.has(kFlagPruned));
  CHECK(r.ledger.generated_tokens == 5 * 10 + 4);  // the stopped trace's tokens are charged
  CHECK(gen.generated == r.ledger.generated_tokens);
  // voters: warm-up 5 (answer 2) and 6 (answer 1), final 6 (answer 1): 1 wins with weight 12 vs 5
  CHECK(r.answer == "1");
  const auto v = deepconf_online_outcome(r.tree, r.candidates, o);
  CHECK(v.threshold == Approx(4.5));
  CHECK(v.eligible == 3);
  CHECK(v.beta == Approx(12.0 / 17));
  // consensus: a unanimous confident warm-up stops before any further round
  PlantedGenerator same{.answers = {"1"}, .conf_of = {3}};
  const auto r2 = solve(p, same, none, DeepConfOnlineOptions{.warmup = 4, .max_samples = 64, .window = 4});
  CHECK(r2.candidates.size() == 4);
  CHECK(same.calls == 1);
  REQUIRE_THROWS_WITH(make_search(p, DeepConfOnlineOptions{.warmup = 8, .max_samples = 4}), Catch::Contains("max_samples must be in [warmup"));
}

TEST_CASE("confidence verifier: scores per step from the policy's own log-probs / guides beam search", "[confidence]") {
  SearchTree tree;
  const NodeId a = tree.add_child(SearchTree::root(), step_with({2, 2}, {-0.1f, -0.3f}));
  const NodeId b = tree.add_child(a, step_with({1, 1}, {-2.0f, -0.2f}));
  Problem p{.id = "p", .question = "q", .reference = {}};
  std::vector<ScoreRequest> reqs = {{&p, tree.path(b)}};
  ConfidenceVerifier mean;
  const auto s = mean.score(reqs);
  REQUIRE(s.scores[0].size() == 2);
  CHECK(s.scores[0][0] == Approx(std::exp(-0.2)));
  CHECK(s.scores[0][1] == Approx(std::exp(-2.6 / 4)));
  CHECK(s.tokens == std::vector<std::int64_t>{0});
  ConfidenceVerifier mn({.signal = ConfidenceSignal::kMinLogprob});
  CHECK(mn.score(reqs).scores[0][1] == Approx(std::exp(-2.0)));
  ConfidenceVerifier lowest({.signal = ConfidenceSignal::kLowestGroup, .window = 2});
  CHECK(lowest.score(reqs).scores[0][1] == Approx(1.0));
  Step plain;
  plain.num_tokens = 2;
  const NodeId c = tree.add_child(SearchTree::root(), plain);
  std::vector<ScoreRequest> bad = {{&p, tree.path(c)}};
  REQUIRE_THROWS_WITH(mean.score(bad), Catch::Contains("sampling.token_confidence = true"));

  // on the simulated domain (slips have log-prob -0.6 per token, correct steps -0.15) beam search
  // guided by confidence beats one sample
  const auto problems = sim_problems(40);
  testing::SimulatedGenerator gen;
  BeamSearchOptions o{.n = 8, .beam_width = 2};
  o.sampling.token_confidence = true;
  const auto rs = solve_batch(problems, gen, mean, o);
  BeamSearchOptions one{.n = 1, .beam_width = 1};
  one.sampling.token_confidence = true;
  const auto r1 = solve_batch(problems, gen, mean, one);
  double hits = 0, hits1 = 0;
  for (std::size_t i = 0; i < problems.size(); ++i) {
    hits += rs[i].answer == *problems[i].reference;
    hits1 += r1[i].answer == *problems[i].reference;
  }
  CHECK(hits > hits1 + 8);
}

TEST_CASE("confidence off changes nothing: the same samples and token counts", "[confidence]") {
  const auto problems = sim_problems(12);
  testing::SimulatedGenerator gen;
  NoVerifier none;
  MajorityVoteOptions off{.n = 6};
  MajorityVoteOptions on = off;
  on.sampling.token_confidence = true;
  const auto a = solve_batch(problems, gen, none, off);
  const auto b = solve_batch(problems, gen, none, on);
  for (std::size_t i = 0; i < problems.size(); ++i) {
    REQUIRE(a[i].candidates.size() == b[i].candidates.size());
    CHECK(a[i].ledger.generated_tokens == b[i].ledger.generated_tokens);
    for (std::size_t k = 0; k < a[i].candidates.size(); ++k) {
      const Step& x = a[i].tree.node(a[i].candidates[k].leaf).step;
      const Step& y = b[i].tree.node(b[i].candidates[k].leaf).step;
      CHECK(x.text == y.text);
      CHECK(x.num_tokens == y.num_tokens);
      CHECK(x.token_confidences.empty());
      CHECK(y.token_confidences.size() == static_cast<std::size_t>(y.num_tokens));
    }
  }
  // and the JSON of default sampling has no confidence fields (traces and cache keys unchanged)
  CHECK_FALSE(Json(SamplingParams{}).contains("token_confidence"));
}

TEST_CASE("adaptive strategies: budgets are never exceeded under random options", "[adaptive][budget]") {
  const auto problems = sim_problems(6, 11);
  testing::SimulatedGenerator gen;
  NoVerifier none;
  Rng rng(5);
  for (int trial = 0; trial < 30; ++trial) {
    const std::string name = std::vector<std::string>{"adaptive-consistency", "esc", "deepconf", "deepconf-online"}[trial % 4];
    Json opt = find_strategy(name).defaults;
    if (name == "adaptive-consistency") opt.update({{"max_samples", rng.uniform_int(1, 30)}, {"batch", rng.uniform_int(1, 5)}});
    if (name == "esc") opt.update({{"window", rng.uniform_int(1, 4)}, {"max_samples", rng.uniform_int(5, 20)}});
    if (name == "deepconf") opt.update({{"n", rng.uniform_int(1, 20)}, {"keep_fraction", 0.05 + 0.95 * rng.uniform()}, {"window", 8}});
    if (name == "deepconf-online") {
      opt.update({{"warmup", rng.uniform_int(1, 6)}, {"max_samples", rng.uniform_int(6, 24)}, {"batch", rng.uniform_int(1, 6)}, {"window", 8}});
    }
    opt["sampling"]["max_tokens"] = rng.uniform_int(5, 200);
    Budget budget;
    budget.max_generated_tokens = rng.uniform_int(1, 1500);
    std::vector<SearchSpec> specs;
    for (std::size_t i = 0; i < problems.size(); ++i) specs.push_back(find_strategy(name).make(problems[i], opt, budget, i));
    const auto rs = run_searches(std::span<const SearchSpec>(specs), gen, none);
    for (const auto& r : rs) {
      INFO(name << " " << opt.dump() << " budget " << *budget.max_generated_tokens);
      CHECK(r.ledger.generated_tokens <= *budget.max_generated_tokens);
      std::int64_t in_tree = 0;
      for (NodeId id = 1; r.tree.contains(id); ++id) in_tree += r.tree.node(id).step.num_tokens;
      CHECK(in_tree == r.ledger.generated_tokens);  // every generated token, stopped traces too, is charged
    }
  }
}

TEST_CASE("replay reproduces confidence-weighted and adaptive choices / detects altered confidences", "[confidence][replay]") {
  const auto problems = sim_problems(10);
  testing::SimulatedGenerator gen;
  NoVerifier none;
  for (const std::string name : {"deepconf", "deepconf-online", "adaptive-consistency", "esc"}) {
    Json opt = find_strategy(name).defaults;
    if (name == "deepconf") opt.update({{"n", 12}, {"window", 8}});
    if (name == "deepconf-online") opt.update({{"warmup", 4}, {"max_samples", 16}, {"batch", 4}, {"window", 8}});
    std::vector<SearchSpec> specs;
    for (std::size_t i = 0; i < problems.size(); ++i) specs.push_back(find_strategy(name).make(problems[i], opt, {}, i));
    std::stringstream ss;
    {
      JsonlAuditWriter w(ss);
      run_searches(std::span<const SearchSpec>(specs), gen, none, w);
    }
    const std::string text = ss.str();
    std::stringstream in(text);
    const auto log = read_audit(in);
    for (const auto& [_, s] : log.searches) {
      const auto out = replay(s);
      INFO(name << ": " << out.detail);
      CHECK(out.match);
    }
    if (name == "deepconf") {
      // flip every token confidence of the recorded trace: the weights change, replay must notice some choice
      std::string altered;
      std::stringstream lines(text);
      for (std::string line; std::getline(lines, line);) {
        Json j = Json::parse(line);
        if (j["event"] == "node" && j.contains("token_confidences")) {
          for (auto& c : j["token_confidences"]) c = 10.0 - c.get<double>();
        }
        altered += j.dump() + "\n";
      }
      std::stringstream in2(altered);
      const auto log2 = read_audit(in2);
      int mismatches = 0;
      for (const auto& [_, s] : log2.searches) mismatches += !replay(s).match;
      CHECK(mismatches > 0);
    }
  }
}

TEST_CASE("driver: a generator that ignores token_confidence / returns NaN confidences is a BackendError", "[confidence][driver]") {
  struct Ignoring {
    bool nan = false;
    Generation generate(std::span<const GenerateRequest> reqs) {
      Generation g;
      for (const auto& r : reqs) {
        std::vector<Step> out(static_cast<std::size_t>(r.num_samples));
        for (auto& s : out) {
          s.text = "\\boxed{1}";
          s.num_tokens = 2;
          s.finish = FinishReason::kEos;
          if (nan) s.token_confidences = {1, NAN}, s.token_logprobs = {-1, -1};
        }
        g.outputs.push_back(std::move(out));
      }
      return g;
    }
  };
  Problem p{.id = "p", .question = "q", .reference = {}};
  NoVerifier none;
  Ignoring ig;
  REQUIRE_THROWS_WITH(solve(p, ig, none, DeepConfOptions{.n = 2}), Catch::Contains("sampled with token_confidence"));
  ig.nan = true;
  REQUIRE_THROWS_WITH(solve(p, ig, none, DeepConfOptions{.n = 2}), Catch::Contains("non-finite token confidence"));
}

TEST_CASE("grader: distinct integers never compare equal - decimals keep the tolerance", "[answer]") {
  CHECK_FALSE(answer::equivalent_normalized("32349", "32348"));
  CHECK_FALSE(answer::equivalent_normalized("120006", "120000"));
  CHECK_FALSE(answer::grade("\\boxed{120,006}", "120000").correct);
  CHECK(answer::grade("\\boxed{120,000}", "120000").correct);
  CHECK(answer::equivalent_normalized("0.33333", "\\frac{1}{3}"));
  CHECK(answer::equivalent_normalized("14/3", "\\frac{14}{3}"));
  CHECK(answer::equivalent_normalized("2", "\\frac{4}{2}"));
  const std::vector<std::string> answers = {"32349", "32348", "32349"};
  CHECK(answer::group_normalized(answers).size() == 2);
}

TEST_CASE("confidence verifier states its cost: a verifier-token budget never stops it", "[confidence][budget]") {
  const auto problems = sim_problems(5);
  testing::SimulatedGenerator gen;
  ConfidenceVerifier conf;
  BeamSearchOptions o{.n = 4, .beam_width = 2};
  o.sampling.token_confidence = true;
  Budget budget;
  budget.max_verifier_tokens = 1;
  const auto rs = solve_batch(problems, gen, conf, o, budget);
  for (const auto& r : rs) {
    CHECK(r.stop_reason == StopReason::kCompleted);
    CHECK(r.ledger.verifier_tokens == 0);
    CHECK(r.ledger.verifier_calls > 0);
  }
  // a PRM without a stated cost is still stopped by the same budget (estimated by the paths' tokens)
  testing::SimulatedPrm prm;
  const auto stopped = solve_batch(problems, gen, prm, o, budget);
  for (const auto& r : stopped) CHECK(r.stop_reason == StopReason::kVerifierTokens);
}

TEST_CASE("deepconf conventions: eta is the kept fraction offline and s the 100 (1 - eta) percentile online", "[deepconf]") {
  // ten traces with confidences 1..10: the eight least confident answer x, the two most confident y.
  // keep_fraction 0.2 keeps the top two (y wins); the percentile convention (np.percentile(scores, 20),
  // keeping eight) would let x win by weight 3+...+8 = 33 against 19
  std::vector<Candidate> c;
  for (int i = 1; i <= 10; ++i) {
    Candidate x;
    x.answer = i <= 8 ? "x" : "y";
    x.score = i;
    x.leaf = i;
    c.push_back(x);
  }
  CHECK(deepconf_outcome(c, 0.2, true).answers == std::vector<std::string>{"y"});
  CHECK(deepconf_outcome(c, 0.8, true).answers.front() == "x");
  // online: warm-up 1..10, eta 0.1 -> s = 90th percentile = 9.1 (DeepConf-low); eta 0.9 -> 1.9
  std::vector<bool> stopped(c.size(), false);
  CHECK(deepconf_online_vote(c, stopped, 10, 0.1).threshold == Approx(9.1));
  CHECK(deepconf_online_vote(c, stopped, 10, 0.9).threshold == Approx(1.9));
  CHECK(deepconf_online_vote(c, stopped, 10, 0.1).eligible == 1);  // only 10 is above 9.1
}

TEST_CASE("deepconf: near-ties at the cut are ties - the choice does not move with 1e-5 noise", "[deepconf]") {
  // five traces whose lowest group is the shared opening (a tie), noise of a few 1e-6 as a batch change gives
  for (const double noise : {0.0, 2e-5, -2e-5}) {
    std::vector<Candidate> c;
    const std::vector<std::string> answers = {"3", "7", "7", "3", "7"};
    for (int i = 0; i < 5; ++i) {
      Candidate x;
      x.answer = answers[static_cast<std::size_t>(i)];
      x.score = 4.0 + (i == 0 ? noise : 0.0);
      x.leaf = i;
      c.push_back(x);
    }
    INFO("noise " << noise);
    CHECK(deepconf_outcome(c, 0.2, true).answers.front() == "7");  // all five tie at the cut and vote: 7 x 3
  }
}

TEST_CASE("adaptive-consistency: samples without an answer settle nothing", "[adaptive]") {
  Problem p{.id = "p", .question = "q", .reference = std::string("7")};
  NoVerifier none;
  struct NoAnswer {
    Generation generate(std::span<const GenerateRequest> reqs) {
      Generation g;
      for (const auto& r : reqs) {
        std::vector<Step> out(static_cast<std::size_t>(r.num_samples));
        for (auto& s : out) s.text = "I do not know", s.num_tokens = 3, s.finish = FinishReason::kEos;
        g.outputs.push_back(std::move(out));
      }
      return g;
    }
  } gen;
  const auto r = solve(p, gen, none, AdaptiveConsistencyOptions{.max_samples = 9});
  CHECK(r.candidates.size() == 9);
}

TEST_CASE("replay: invalid options / dropped candidates / early stops and unjustified cuts are reported - never a crash or a hang", "[confidence][replay]") {
  const auto problems = sim_problems(6);
  testing::SimulatedGenerator gen;
  NoVerifier none;
  auto record = [&](const std::string& name, Json opt) {
    std::vector<SearchSpec> specs;
    for (std::size_t i = 0; i < problems.size(); ++i) specs.push_back(find_strategy(name).make(problems[i], opt, {}, i));
    std::stringstream ss;
    JsonlAuditWriter w(ss);
    run_searches(std::span<const SearchSpec>(specs), gen, none, w);
    return ss.str();
  };
  auto replay_all = [](const std::string& text) {
    std::stringstream in(text);
    const auto log = read_audit(in);
    std::vector<ReplayOutcome> out;
    for (const auto& [_, s] : log.searches) out.push_back(replay(s));
    return out;
  };
  auto edit = [](const std::string& text, auto&& f) {
    std::string out;
    std::stringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      Json j = Json::parse(line);
      f(j);
      out += j.dump() + "\n";
    }
    return out;
  };
  // options no strategy would accept (a round of 0 samples, a window of 0, keep_fraction 1e6)
  const std::string ac = record("adaptive-consistency", find_strategy("adaptive-consistency").defaults);
  for (const auto& kv : std::vector<std::pair<std::string, Json>>{{"batch", 0}, {"max_samples", 3}, {"threshold", 2.0}}) {
    const auto& [key, value] = kv;
    const auto bad = replay_all(edit(ac, [&](Json& j) { if (j["event"] == "begin") j["options"][kv.first] = kv.second; }));
    for (const auto& o : bad) {
      INFO(key << ": " << o.detail);
      CHECK_FALSE(o.match);
    }
  }
  Json online = find_strategy("deepconf-online").defaults;
  online.update({{"warmup", 4}, {"max_samples", 16}, {"batch", 4}, {"window", 8}});
  const std::string dco = record("deepconf-online", online);
  for (const auto& o : replay_all(edit(dco, [](Json& j) { if (j["event"] == "begin") j["options"]["keep_fraction"] = 1e6; }))) {
    CHECK_FALSE(o.match);
  }
  // the untouched traces replay
  for (const auto& o : replay_all(ac)) CHECK(o.match);
  for (const auto& o : replay_all(dco)) {
    INFO(o.detail);
    CHECK(o.match);
  }
  // a candidate dropped from the end line (a sample hidden)
  const auto dropped = replay_all(edit(ac, [](Json& j) {
    if (j["event"] == "end" && j["candidates"].size() > 1) j["candidates"].erase(j["candidates"].size() - 1);
  }));
  for (const auto& o : dropped) CHECK_FALSE(o.match);
  // a threshold raised after the fact: the search stopped before the rule allows
  int early = 0;
  for (const auto& o : replay_all(edit(ac, [](Json& j) { if (j["event"] == "begin") j["options"]["threshold"] = 0.999; }))) early += !o.match;
  CHECK(early > 0);
  // a warm-up trace marked as stopped by the confidence rule
  bool edited = false;
  const auto warm_stop = replay_all(edit(dco, [&](Json& j) {
    if (!edited && j["event"] == "node" && j["id"] == 1) {
      j["finish"] = "confidence";
      edited = true;
    }
  }));
  CHECK_FALSE(warm_stop.front().match);
  // a recorded candidate score that the trace's confidences do not give
  const std::string dc = record("deepconf", Json{{"n", 8}, {"window", 8}});
  const auto forged = replay_all(edit(dc, [](Json& j) {
    if (j["event"] == "end") j["candidates"][0]["score"] = j["candidates"][0]["score"].get<double>() + 0.5;
  }));
  for (const auto& o : forged) {
    CHECK_FALSE(o.match);
    CHECK(o.detail.find("recorded score") != std::string::npos);
  }
}

TEST_CASE("grader: integers of any size compare digit by digit - near-integral products are integers", "[answer]") {
  CHECK_FALSE(answer::equivalent_normalized("12345678901234567", "12345678901234568"));
  CHECK(answer::equivalent_normalized("0012", "12"));
  CHECK_FALSE(answer::grade("\\boxed{1.20006 \\times 10^5}", "120000").correct);
  CHECK(answer::grade("\\boxed{1.2 \\times 10^5}", "120000").correct);
  const std::vector<std::string> big = {"12345678901234567", "12345678901234568"};
  CHECK(answer::group_normalized(big).size() == 2);
}

TEST_CASE("grader: scientific notation and JSON number references", "[answer]") {
  CHECK(answer::grade("\\boxed{1.5e3}", "1500").correct);
  CHECK(answer::grade("\\boxed{0.00001}", "1e-05").correct);
  CHECK(answer::grade("\\boxed{100000000000000000000}", "1e+20").correct);
  CHECK_FALSE(answer::grade("\\boxed{1.5e3}", "1501").correct);
  CHECK(answer::grade("\\boxed{2e}", "2e").correct);  // not an exponent: compared as text
}

TEST_CASE("replay re-runs the confidence verifier recorded in the trace - altered token log-probs are caught", "[confidence][replay]") {
  const auto problems = sim_problems(4);
  testing::SimulatedGenerator gen;
  ConfidenceVerifier conf({.signal = ConfidenceSignal::kMinLogprob});
  AnyVerifier any(std::ref(conf));  // through type erasure the description survives
  BeamSearchOptions o{.n = 4, .beam_width = 2};
  o.sampling.token_confidence = true;
  std::stringstream ss;
  {
    JsonlAuditWriter w(ss);
    solve_batch(problems, gen, any, o, Budget{}, w);
  }
  const std::string text = ss.str();
  CHECK(text.find(R"("verifier":{"kind":"confidence","signal":"min-logprob","window":2048})") != std::string::npos);
  std::stringstream in(text);
  for (const auto& [_, s] : read_audit(in).searches) CHECK(replay(s).match);
  std::string altered;
  std::stringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    Json j = Json::parse(line);
    if (j["event"] == "node" && j.contains("token_logprobs")) {
      for (auto& l : j["token_logprobs"]) l = -5.0;
    }
    altered += j.dump() + "\n";
  }
  std::stringstream in2(altered);
  int caught = 0;
  for (const auto& [_, s] : read_audit(in2).searches) {
    const auto r = replay(s);
    caught += !r.match && r.detail.find("recorded confidence scores differ") != std::string::npos;
  }
  CHECK(caught == 4);
}
