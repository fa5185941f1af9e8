// The shipped arithmetic models (examples/arith/, trained by arith_train): they load through the
// runtime unchanged, reproduce recorded greedy outputs, and the PRM's scores match recorded values.
#include <catch2/catch.hpp>

#include <filesystem>
#include <sstream>

#include <ttsearch/domains/arith.hpp>
#include <ttsearch/strategies/replay.hpp>
#include <ttsearch/torch/runtime.hpp>
#include <ttsearch/torch/tokenizer.hpp>

#include "../examples/arith/arith_models.hpp"

using namespace ttsearch;
using namespace ttsearch::torch;

namespace {

const std::string kModels = TTSEARCH_ARITH_MODELS_DIR;

struct Recorded {
  std::string expression, greedy;
};

/// The first `per_level` test problems of each level, with ids p0, p1, ...
std::vector<Problem> test_problems(std::int32_t per_level, const std::vector<std::int32_t>& levels) {
  const auto test = arith_models::test_split(per_level, levels);
  std::vector<Problem> problems;
  for (std::size_t i = 0; i < test.size(); ++i) problems.push_back(arith::to_problem(test[i], fmt::format("p{}", i)));
  return problems;
}

}  // namespace

TEST_CASE("arith models: the shipped policy reproduces recorded greedy outputs", "[torch][arith]") {
  GeneratorOptions o;
  o.prompt_format = arith_models::prompt_format();
  auto gen = TorchGenerator::load(kModels + "/policy", o);
  const auto test = arith_models::test_split();
  REQUIRE(test.size() == 300);
  // the first problem of levels 2, 5 and 7 of the test split, and the policy's greedy solutions
  const std::vector<Recorded> recorded = {
      {"2 + (1 + 5)",
       "1 + 5 = 6, so 2 + 6\n\n2 + 6 = 8, so 8\n\nThe answer is \\boxed{8}"},
      {"4 * (7 - 7) * ((7 + 1) * 2)",
       "7 - 7 = 0, so 4 * 0 * ((7 + 1) * 2)\n\n7 + 1 = 8, so 4 * 0 * (8 * 2)\n\n8 * 2 = 16, so 4 * 0 * 16\n\n4 * 0 = 0, so 0 * 16\n\n0 * 16 = 0, so 0\n\nThe answer is \\boxed{0}"},
      {"6 * 7 - (7 + (8 - 4 * 1 * 6)) - 9",
       "4 * 1 = 4, so 6 * 7 - (7 + (8 - 4 * 6)) - 9\n\n4 * 6 = 24, so 6 * 7 - (7 + (8 - 24)) - 9\n\n8 - 24 = -16, so 6 * 7 - (7 + -16) - 9\n\n7 + -16 = -9, so 6 * 7 - -9 - 9\n\n6 * 7 = 42, so 42 - -9 - 9\n\n42 - -9 = 51, so 51 - 9\n\n51 - 9 = 42, so 42\n\nThe answer is \\boxed{42}"}};
  std::vector<Problem> problems;
  CHECK(recorded[0].expression == test[0].expression);
  CHECK(recorded[1].expression == test[150].expression);
  CHECK(recorded[2].expression == test[250].expression);
  for (const auto& r : recorded) problems.push_back(arith::to_problem(*arith::solve(r.expression), r.expression));
  const auto out = gen.generate(arith_models::greedy_requests(problems));
  for (std::size_t i = 0; i < recorded.size(); ++i) {
    INFO(recorded[i].expression);
    CHECK(out.outputs[i][0].text == recorded[i].greedy);
    CHECK(out.outputs[i][0].finish == FinishReason::kEos);
  }
}

TEST_CASE("arith models: the shipped PRM scores solutions as recorded", "[torch][arith]") {
  PrmOptions o;
  o.prompt_format = arith_models::prompt_format();
  auto prm = TorchPRM::load(kModels + "/prm", o);
  const auto p = *arith::solve("4 - (6 + 8 * 2)");
  const Problem problem = arith::to_problem(p, "x");
  SearchTree tree;
  auto add = [&](NodeId parent, std::string text) {
    Step s;
    s.text = std::move(text);
    s.num_tokens = 1;
    return tree.add_child(parent, std::move(s));
  };
  // the canonical solution, and one whose first product is wrong
  NodeId good = SearchTree::root(), bad = SearchTree::root();
  for (const auto& st : p.steps) good = add(good, st + "\n\n");
  good = add(good, arith::ArithProblem::answer_line(p.answer));
  bad = add(bad, "8 * 2 = 18, so 4 - (6 + 18)\n\n");
  bad = add(bad, "6 + 18 = 24, so 4 - 24\n\n");
  bad = add(bad, "4 - 24 = -20, so -20\n\n");
  bad = add(bad, "The answer is \\boxed{-20}");
  const auto s = prm.score(std::vector<ScoreRequest>{{&problem, tree.path(good)}, {&problem, tree.path(bad)}});
  REQUIRE(s.scores[0].size() == 4);
  REQUIRE(s.scores[1].size() == 4);
  // recorded from the shipped PRM: it does NOT catch the wrong product (8 * 2 = 18 scores 0.99), the
  // within-problem weakness its train_report.json measures (pairwise accuracy 0.54)
  const std::vector<double> recorded_good = {0.993086, 0.990447, 0.747458, 0.875494}, recorded_bad = {0.993167, 0.989540, 0.940734, 0.915551};
  for (std::size_t k = 0; k < 4; ++k) {
    CHECK(s.scores[0][k] == Approx(recorded_good[k]).margin(1e-4));
    CHECK(s.scores[1][k] == Approx(recorded_bad[k]).margin(1e-4));
  }
  // scored again: served from the prefix cache (one token each); after clear_cache, full cost again
  const std::vector<ScoreRequest> again{{&problem, tree.path(good)}, {&problem, tree.path(bad)}};
  const auto cached = prm.score(again);
  for (std::size_t k = 0; k < 4; ++k) CHECK(cached.scores[1][k] == Approx(s.scores[1][k]).margin(1e-5));
  CHECK(cached.tokens[0] < s.tokens[0] / 4);
  prm.clear_cache();
  const auto fresh = prm.score(again);
  CHECK(fresh.tokens == s.tokens);
  for (std::size_t k = 0; k < 4; ++k) CHECK(fresh.scores[0][k] == Approx(s.scores[0][k]).margin(1e-5));
}

TEST_CASE("arith models: token confidence from TorchGenerator - off changes nothing / k = 1 greedy / early stop / log-probs", "[torch][arith][confidence]") {
  GeneratorOptions o;
  o.prompt_format = arith_models::prompt_format();
  auto gen = TorchGenerator::load(kModels + "/policy", o);
  const auto problems = test_problems(2, {6, 7});
  SearchTree empty;
  auto requests = [&](SamplingParams p, int n) {
    std::vector<GenerateRequest> rs;
    for (std::size_t i = 0; i < problems.size(); ++i) {
      GenerateRequest r;
      r.problem = &problems[i];
      r.prefix = empty.path(SearchTree::root());
      r.num_samples = n;
      r.params = p;
      r.seed = 100 + i;
      rs.push_back(r);
    }
    return rs;
  };
  SamplingParams off;
  off.temperature = 1.0;
  off.max_tokens = arith_models::kMaxSolutionTokens;
  off.stop.clear();
  SamplingParams on = off;
  on.token_confidence = true;
  gen.clear_cache();
  const auto a = gen.generate(requests(off, 3));
  gen.clear_cache();
  const auto b = gen.generate(requests(on, 3));
  for (std::size_t r = 0; r < problems.size(); ++r) {
    for (std::size_t k = 0; k < 3; ++k) {
      const Step& x = a.outputs[r][k];
      const Step& y = b.outputs[r][k];
      CHECK(x.token_ids == y.token_ids);  // the same samples and token counts
      CHECK(x.token_confidences.empty());
      REQUIRE(y.token_confidences.size() == y.token_ids.size());
      REQUIRE(y.token_logprobs.size() == y.token_ids.size());
      double sum = 0;
      for (float l : y.token_logprobs) sum += l;
      CHECK(sum == Approx(y.logprob).margin(1e-4));
      for (float c : y.token_confidences) CHECK(c > 0.0f);  // -mean of top-20 log-probs of a 326-token vocabulary
    }
  }
  // each token log-prob equals the model's own log-softmax (TorchGenerator::logprobs)
  std::vector<LogprobRequest> lr;
  for (std::size_t r = 0; r < problems.size(); ++r) lr.push_back({&problems[r], empty.path(SearchTree::root()), "", b.outputs[r][0].token_ids});
  const auto lps = gen.logprobs(lr);
  for (std::size_t r = 0; r < problems.size(); ++r) {
    REQUIRE(lps[r].token_logprobs.size() == b.outputs[r][0].token_logprobs.size());
    for (std::size_t t = 0; t < lps[r].token_logprobs.size(); ++t) CHECK(b.outputs[r][0].token_logprobs[t] == Approx(lps[r].token_logprobs[t]).margin(1e-4));
  }
  // greedy with k = 1: the confidence is minus the log-prob of the argmax, which is the token taken
  SamplingParams greedy = on;
  greedy.temperature = 0;
  greedy.confidence_topk = 1;
  const auto g = gen.generate(requests(greedy, 1));
  for (std::size_t r = 0; r < problems.size(); ++r) {
    const Step& s = g.outputs[r][0];
    for (std::size_t t = 0; t < s.token_ids.size(); ++t) CHECK(s.token_confidences[t] == Approx(-s.token_logprobs[t]).margin(1e-5));
  }
  // the DeepConf-online stop: a threshold above every confidence ends each sample after one full window
  SamplingParams stop = on;
  stop.confidence_stop = 1e9;
  stop.confidence_window = 3;
  const auto st = gen.generate(requests(stop, 2));
  for (const auto& out : st.outputs) {
    for (const Step& s : out) {
      CHECK(s.finish == FinishReason::kLowConfidence);
      CHECK(s.num_tokens == 3);
      CHECK(s.token_confidences.size() == 3);
    }
  }
  // a threshold below every confidence never stops: the samples are the unstopped ones
  stop.confidence_stop = -1.0;
  gen.clear_cache();
  const auto never = gen.generate(requests(stop, 3));
  for (std::size_t r = 0; r < problems.size(); ++r) {
    for (std::size_t k = 0; k < 3; ++k) CHECK(never.outputs[r][k].token_ids == a.outputs[r][k].token_ids);
  }
}

TEST_CASE("arith models: adaptive and DeepConf strategies on TorchGenerator keep the budget and replay from the trace", "[torch][arith][confidence]") {
  GeneratorOptions o;
  o.prompt_format = arith_models::prompt_format();
  auto gen = TorchGenerator::load(kModels + "/policy", o);
  const auto problems = test_problems(3, {2, 7});
  NoVerifier none;
  for (const std::string name : {"adaptive-consistency", "esc", "deepconf", "deepconf-online"}) {
    Json opt = find_strategy(name).defaults;
    opt["sampling"]["temperature"] = 1.0;
    opt["sampling"]["max_tokens"] = arith_models::kMaxSolutionTokens;
    if (name == "deepconf") opt.update({{"n", 12}, {"window", 16}});
    if (name == "deepconf-online") opt.update({{"warmup", 4}, {"max_samples", 16}, {"batch", 4}, {"window", 16}});
    if (name == "adaptive-consistency") opt["max_samples"] = 16;
    if (name == "esc") opt["max_samples"] = 15;
    for (const std::int64_t limit : {std::int64_t{0}, std::int64_t{700}}) {
      INFO(name << " budget " << limit);
      Budget budget;
      if (limit) budget.max_generated_tokens = limit;
      std::vector<SearchSpec> specs;
      for (std::size_t i = 0; i < problems.size(); ++i) specs.push_back(find_strategy(name).make(problems[i], opt, budget, batch_seed(1, i)));
      std::stringstream trace;
      std::vector<SearchResult> rs;
      {
        JsonlAuditWriter w(trace);
        rs = run_searches(std::span<const SearchSpec>(specs), gen, none, w);
      }
      for (const auto& r : rs) {
        if (limit) CHECK(r.ledger.generated_tokens <= limit);
        std::int64_t in_tree = 0;
        for (NodeId id = 1; r.tree.contains(id); ++id) in_tree += r.tree.node(id).step.num_tokens;
        CHECK(in_tree == r.ledger.generated_tokens);
      }
      if (!limit && name != "deepconf") {
        // easy problems (level 2) stop sooner than hard ones (level 7)
        CHECK(rs[0].ledger.generated_tokens + rs[1].ledger.generated_tokens + rs[2].ledger.generated_tokens <
              rs[3].ledger.generated_tokens + rs[4].ledger.generated_tokens + rs[5].ledger.generated_tokens);
      }
      std::stringstream in(trace.str());
      const auto log = read_audit(in);
      REQUIRE(log.searches.size() == problems.size());
      for (const auto& [_, s] : log.searches) {
        const auto out = replay(s);
        INFO(out.detail);
        CHECK(out.match);
      }
    }
  }
}

TEST_CASE("arith models: verifier-token budgets hold with the real PRM (TorchPRM states an upper bound)", "[torch][arith][budget]") {
  GeneratorOptions o;
  o.prompt_format = arith_models::prompt_format();
  auto gen = TorchGenerator::load(kModels + "/policy", o);
  PrmOptions po;
  po.prompt_format = arith_models::prompt_format();
  auto prm = TorchPRM::load(kModels + "/prm", po);
  const auto problems = test_problems(2, {5, 7});
  BeamSearchOptions beam{.n = 4, .beam_width = 2, .num_iterations = 10};
  beam.sampling.temperature = 1.0;
  beam.sampling.max_tokens = 48;
  BestOfNOptions bon{.n = 4};
  bon.sampling.max_tokens = arith_models::kMaxSolutionTokens;
  for (const std::int64_t limit : {100, 200, 500}) {
    Budget budget;
    budget.max_verifier_tokens = limit;
    prm.clear_cache();
    for (const auto& r : solve_batch(problems, gen, prm, beam, budget)) {
      INFO("beam, limit " << limit);
      CHECK(r.ledger.verifier_tokens <= limit);
    }
    prm.clear_cache();
    for (const auto& r : solve_batch(problems, gen, prm, bon, budget)) {
      INFO("best-of-n, limit " << limit);
      CHECK(r.ledger.verifier_tokens <= limit);
      if (r.ledger.verifier_calls == 0) CHECK(r.stop_reason == StopReason::kVerifierTokens);
    }
  }
  // the estimate bounds the charge, and equals it with nothing cached
  SearchTree t;
  Step s;
  s.text = "1 + 2 = 3, so 3\n\nThe answer is \\boxed{3}";
  s.num_tokens = 20;
  s.finish = FinishReason::kEos;
  const NodeId leaf = t.add_child(SearchTree::root(), s);
  std::vector<ScoreRequest> req = {{&problems[0], t.path(leaf)}};
  prm.clear_cache();
  const auto est = prm.estimate_tokens(req);
  const auto got = prm.score(req);
  CHECK(got.tokens[0] == est);
  CHECK(prm.score(req).tokens[0] <= est);
}
