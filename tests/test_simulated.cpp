#include <catch2/catch.hpp>

#include <ttsearch/testing/simulated.hpp>

#include "request.hpp"

using namespace ttsearch;

using testing::request;

TEST_CASE("simulated generator: whole solutions / steps / stop strings and max_tokens", "[testing][simulated]") {
  const auto ps = testing::make_simulated_problems({.num_problems = 1, .min_steps = 3, .max_steps = 3});
  testing::SimulatedGenerator gen;
  SearchTree t;
  SamplingParams whole;
  whole.stop.clear();
  auto g = gen.generate(std::vector<GenerateRequest>{request(ps[0], t, 0, 3, whole, 1)});
  REQUIRE(g.outputs.size() == 1);
  REQUIRE(g.outputs[0].size() == 3);
  for (const auto& s : g.outputs[0]) {
    REQUIRE(s.finish == FinishReason::kEos);
    REQUIRE(s.text.find("Step 3:") != std::string::npos);
    REQUIRE(s.text.find("\\boxed{") != std::string::npos);
  }
  // Step by step: stop after "\n\n", kept in the output.
  auto step = gen.generate(std::vector<GenerateRequest>{request(ps[0], t, 0, 1, SamplingParams::step(), 1)});
  const Step s1 = step.outputs[0][0];
  REQUIRE(s1.finish == FinishReason::kStop);
  REQUIRE(s1.text.ends_with("\n\n"));
  REQUIRE(s1.text.starts_with("Step 1:"));
  // Continue from that step: the next one is step 2.
  const NodeId n1 = t.add_child(0, s1);
  auto step2 = gen.generate(std::vector<GenerateRequest>{request(ps[0], t, n1, 1, SamplingParams::step(), 2)});
  REQUIRE(step2.outputs[0][0].text.starts_with("Step 2:"));
  // Stop string excluded from the output.
  SamplingParams excl = SamplingParams::step();
  excl.include_stop_in_output = false;
  auto step3 = gen.generate(std::vector<GenerateRequest>{request(ps[0], t, 0, 1, excl, 1)});
  REQUIRE_FALSE(step3.outputs[0][0].text.ends_with("\n\n"));
  REQUIRE(step3.outputs[0][0].text + "\n\n" == s1.text);
  // max_tokens truncates with finish "length".
  SamplingParams tiny = whole;
  tiny.max_tokens = 5;
  auto cut = gen.generate(std::vector<GenerateRequest>{request(ps[0], t, 0, 2, tiny, 1)});
  for (const auto& s : cut.outputs[0]) {
    REQUIRE(s.finish == FinishReason::kLength);
    REQUIRE(s.num_tokens == 5);
  }
  // usage: prompt tokens per sample, all but the first served from a prefix cache
  REQUIRE(g.usage.at(0).prompt_tokens == 3 * 40);
  REQUIRE(g.usage.at(0).cached_prompt_tokens == 2 * 40);
}

TEST_CASE("simulated generator: output depends only on the request / not the batch", "[testing][simulated]") {
  const auto ps = testing::make_simulated_problems({.num_problems = 3});
  testing::SimulatedGenerator gen;
  SearchTree t;
  SamplingParams whole;
  whole.stop.clear();
  const auto alone = gen.generate(std::vector<GenerateRequest>{request(ps[1], t, 0, 4, whole, 77)});
  const auto batch = gen.generate(std::vector<GenerateRequest>{request(ps[0], t, 0, 2, whole, 5), request(ps[1], t, 0, 4, whole, 77),
                                                               request(ps[2], t, 0, 1, whole, 9)});
  for (int i = 0; i < 4; ++i) REQUIRE(alone.outputs[0][i].text == batch.outputs[1][i].text);
  // Temperature 0 is greedy: every sample is the same.
  SamplingParams greedy = whole;
  greedy.temperature = 0;
  const auto gr = gen.generate(std::vector<GenerateRequest>{request(ps[0], t, 0, 3, greedy, 1)});
  REQUIRE(gr.outputs[0][0].text.substr(gr.outputs[0][0].text.rfind("\\boxed")) ==
          gr.outputs[0][2].text.substr(gr.outputs[0][2].text.rfind("\\boxed")));
}

TEST_CASE("simulated PRM: deterministic / step-wise / perfect when asked", "[testing][simulated]") {
  const auto ps = testing::make_simulated_problems({.num_problems = 1, .min_steps = 2, .max_steps = 2});
  const std::string ref = *ps[0].reference;
  SearchTree t;
  Step right;
  right.text = "Step 1: a [ok]\n\nStep 2: b [ok]\n\nThe answer is \\boxed{" + ref + "}.";
  Step wrong;
  wrong.text = "Step 1: a [ok]\n\nStep 2: b [slip]\n\nThe answer is \\boxed{1}.";
  const NodeId r = t.add_child(0, right), w = t.add_child(0, wrong);
  const std::vector<ScoreRequest> reqs{{&ps[0], t.path(r)}, {&ps[0], t.path(w)}};
  testing::SimulatedPrm perfect(testing::SimulatedPrmOptions::perfect());
  const auto s = perfect.score(reqs);
  REQUIRE(s.scores[0] == std::vector<double>{1, 1, 1});
  REQUIRE(s.scores[1] == std::vector<double>{1, 0, 0});
  testing::SimulatedPrm noisy(testing::SimulatedPrmOptions{.noise = 2.0, .seed = 3});
  const auto a = noisy.score(reqs), b = noisy.score(reqs);
  REQUIRE(a.scores == b.scores);
  REQUIRE(a.scores[0][0] == a.scores[1][0]);  // same prefix, same score
  REQUIRE(a.scores[0][1] != a.scores[1][1]);
  testing::SimulatedPrm orm(testing::SimulatedPrmOptions{.noise = 0, .good = 0.9, .bad = 0.1, .outcome = true});
  REQUIRE(orm.score(reqs).scores[1] == std::vector<double>{0.1});
  REQUIRE_THROWS_WITH(testing::SimulatedPrm(testing::SimulatedPrmOptions{.noise = -1}), Catch::Contains("noise must be"));
  Problem plain{.id = "x", .question = "q", .reference = {}};
  const std::vector<ScoreRequest> bad{{&plain, t.path(r)}};
  REQUIRE_THROWS_WITH(perfect.score(bad), Catch::Contains("problem 'x' is not a simulated problem"));
}
