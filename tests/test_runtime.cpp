// The libtorch backends end to end on tiny random HF-format folders: sampler distributions,
// TorchGenerator (batching independence, stop strings, EOS, max_tokens), TorchPRM (the Qwen PRM
// convention against the model's own score head), and real searches with traces and budgets.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <ttsearch/strategies/replay.hpp>
#include <ttsearch/torch/runtime.hpp>
#include <ttsearch/torch/safetensors.hpp>
#include <ttsearch/torch/tokenizer.hpp>

#include "request.hpp"
#include "tiny_model.hpp"

using namespace ttsearch;
using namespace ttsearch::torch;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kData = TTSEARCH_TEST_DATA_DIR;
fs::path tiny_folder(const std::string& name, bool prm, std::uint64_t seed, bool orm = false) {
  return ttsearch::testing::write_tiny_qwen2((fs::temp_directory_path() / ("ttsearch_rt_" + name + "_" + std::to_string(::getpid()))).string(),
                                             kData + "/tokenizer/qwen2.tokenizer.json", prm, seed, orm);
}
using ttsearch::testing::request;

}  // namespace

TEST_CASE("sampler: greedy / temperature / top-k / top-p / min-p distributions", "[torch][sampler]") {
  const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(3.0f), -1e9f};  // probs 1/6, 2/6, 3/6, 0
  Rng rng(1);
  SamplingParams p;
  p.temperature = 0;
  CHECK(sample_token(logits, p, rng) == 2);
  auto freq = [&](SamplingParams params) {
    std::vector<double> f(4, 0);
    Rng r(7);
    const int n = 60000;
    for (int i = 0; i < n; ++i) f[static_cast<std::size_t>(sample_token(logits, params, r))] += 1.0 / n;
    return f;
  };
  p.temperature = 1;
  auto f = freq(p);
  CHECK(f[0] == Approx(1.0 / 6).margin(0.01));
  CHECK(f[1] == Approx(2.0 / 6).margin(0.01));
  CHECK(f[2] == Approx(3.0 / 6).margin(0.01));
  CHECK(f[3] == 0);
  p.temperature = 0.5;  // p^(1/T): 1, 4, 9 over 14
  f = freq(p);
  CHECK(f[2] == Approx(9.0 / 14).margin(0.01));
  p.temperature = 1;
  p.top_k = 2;  // 2 and 3 over 5
  f = freq(p);
  CHECK(f[0] == 0);
  CHECK(f[1] == Approx(0.4).margin(0.01));
  p.top_k = 0;
  p.top_p = 0.5;  // the top token alone reaches 0.5
  f = freq(p);
  CHECK(f[2] == Approx(1.0));
  p.top_p = 0.8;  // 3/6 + 2/6 >= 0.8
  f = freq(p);
  CHECK(f[0] == 0);
  CHECK(f[1] == Approx(0.4).margin(0.01));
  p.top_p = 1;
  p.min_p = 0.6;  // keep p >= 0.3: 3/6 and 2/6
  f = freq(p);
  CHECK(f[0] == 0);
  CHECK(f[2] == Approx(0.6).margin(0.01));
  const std::vector<float> broken = {0.0f, std::nanf(""), 1.0f};
  CHECK_THROWS_WITH(sample_token(broken, p, rng), Catch::Contains("no distribution"));
}

TEST_CASE("TorchGenerator::logprobs: a generated step's own log-prob / the model's log-softmax / cached or not", "[torch][runtime]") {
  const fs::path dir = tiny_folder("logprobs", false, 12);
  TorchGenerator gen = TorchGenerator::load(dir.string());
  Problem p{.id = "p1", .question = "What is 7 + 5?", .reference = "12"};
  SearchTree t;
  SamplingParams hot;
  hot.temperature = 1.0;
  hot.max_tokens = 6;
  hot.stop.clear();
  const auto g = gen.generate(std::vector<GenerateRequest>{request(p, t, 0, 3, hot, 9)});
  std::vector<LogprobRequest> reqs;
  for (const Step& st : g.outputs[0]) reqs.push_back({.problem = &p, .prefix = t.path(0), .text = {}, .token_ids = st.token_ids});
  const auto warm = gen.logprobs(reqs);  // the prompt comes from the prefix cache
  REQUIRE(warm.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(warm[i].token_ids == g.outputs[0][i].token_ids);
    CHECK(warm[i].total == Approx(g.outputs[0][i].logprob).margin(1e-4));
  }
  // a text continuation after a one-step prefix, against log_softmax of CausalLM's full logits
  Step first;
  first.text = "Step 1:";
  const NodeId node = t.add_child(0, first);
  const std::string cont = " 7 + 5 = 12";
  gen.clear_cache();
  const auto cold = gen.logprobs(std::vector<LogprobRequest>{{.problem = &p, .prefix = t.path(node), .text = cont}});
  const Tokenizer tok = Tokenizer::from_file((dir / "tokenizer.json").string());
  std::vector<std::int32_t> seq = gen.prompt_ids(p);
  const auto step_ids = tok.encode(first.text), cont_ids = tok.encode(cont);
  seq.insert(seq.end(), step_ids.begin(), step_ids.end());
  const auto n0 = seq.size();
  seq.insert(seq.end(), cont_ids.begin(), cont_ids.end());
  const CausalLM lm = CausalLM::load(dir.string());
  const auto logits = lm.logits(seq);
  const auto V = static_cast<std::size_t>(lm.config().vocab_size), sampled = tok.vocab_size();
  REQUIRE(cold.at(0).token_logprobs.size() == cont_ids.size());
  for (std::size_t i = n0; i < seq.size(); ++i) {
    const float* row = logits.data() + (i - 1) * V;
    double m = row[0], z = 0;
    for (std::size_t k = 0; k < sampled; ++k) m = std::max<double>(m, row[k]);
    for (std::size_t k = 0; k < sampled; ++k) z += std::exp(row[k] - m);
    CHECK(cold[0].token_logprobs[i - n0] == Approx(row[static_cast<std::size_t>(seq[i])] - m - std::log(z)).margin(1e-4));
  }
  const auto again = gen.logprobs(std::vector<LogprobRequest>{{.problem = &p, .prefix = t.path(node), .text = cont}});
  CHECK(again[0].total == Approx(cold[0].total).margin(1e-5));
  CHECK_THROWS_WITH(gen.logprobs(std::vector<LogprobRequest>{{.problem = &p, .prefix = t.path(0), .text = ""}}),
                    Catch::Contains("empty continuation"));
  CHECK_THROWS_WITH(gen.logprobs(std::vector<LogprobRequest>{{.problem = &p, .prefix = t.path(0), .text = {}, .token_ids = {1 << 20}}}),
                    Catch::Contains("not in the vocabulary"));
  fs::remove_all(dir);
}

TEST_CASE("TorchGenerator: a model whose logits are NaN fails naming the request", "[torch][runtime]") {
  ttsearch::testing::Qwen2Shape nan_weights;
  nan_weights.scale = std::nan("");
  const fs::path dir = ttsearch::testing::write_tiny_qwen2(
      (fs::temp_directory_path() / ("ttsearch_rt_nan_" + std::to_string(::getpid()))).string(), kData + "/tokenizer/qwen2.tokenizer.json",
      false, 3, false, nan_weights);
  TorchGenerator gen = TorchGenerator::load(dir.string());
  Problem p{.id = "p1", .question = "What is 7 + 5?", .reference = "12"};
  SearchTree t;
  SamplingParams sp;
  sp.max_tokens = 4;
  CHECK_THROWS_WITH(gen.generate(std::vector<GenerateRequest>{request(p, t, 0, 2, sp, 1)}),
                    Catch::Contains("logits for a sample of request 0 have no distribution"));
  fs::remove_all(dir);
}

TEST_CASE("TorchGenerator: batch independence / stop strings / EOS / max tokens / token ids", "[torch][runtime]") {
  const fs::path dir = tiny_folder("policy", false, 11);
  TorchGenerator gen = TorchGenerator::load(dir.string());
  Problem p{.id = "p1", .question = "What is 7 + 5?", .reference = "12"};
  Problem q{.id = "p2", .question = "Compute 3 * 4.", .reference = "12"};
  SearchTree t;
  SamplingParams whole;
  whole.stop.clear();
  whole.max_tokens = 12;
  whole.temperature = 1.0;
  const auto alone = gen.generate(std::vector<GenerateRequest>{request(p, t, 0, 3, whole, 42)});
  const auto batch = gen.generate(std::vector<GenerateRequest>{request(q, t, 0, 2, whole, 5), request(p, t, 0, 3, whole, 42)});
  REQUIRE(alone.outputs.size() == 1);
  REQUIRE(alone.outputs[0].size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(alone.outputs[0][i].token_ids == batch.outputs[1][i].token_ids);  // same tokens whatever else is batched
    CHECK(alone.outputs[0][i].num_tokens <= 12);
  }
  CHECK(alone.outputs[0][0].token_ids != alone.outputs[0][1].token_ids);  // samples differ
  const auto prompt = gen.prompt_ids(p);
  CHECK(alone.usage.at(0).prompt_tokens == 3 * static_cast<std::int64_t>(prompt.size()));
  CHECK(alone.usage.at(0).cached_prompt_tokens == 2 * static_cast<std::int64_t>(prompt.size()));
  // stop string: "e" is frequent; the step ends right after the first "e" in the decoded text
  SamplingParams stop = whole;
  stop.stop = {"e"};
  stop.max_tokens = 200;
  int stopped = 0;
  const auto s = gen.generate(std::vector<GenerateRequest>{request(p, t, 0, 8, stop, 3)});
  for (const auto& st : s.outputs[0]) {
    if (st.finish != FinishReason::kStop) continue;
    ++stopped;
    CHECK(st.text.ends_with("e"));
    CHECK(st.text.find('e') == st.text.size() - 1);
  }
  CHECK(stopped > 0);
  stop.include_stop_in_output = false;
  const auto excluded = gen.generate(std::vector<GenerateRequest>{request(p, t, 0, 8, stop, 3)});
  for (const auto& st : excluded.outputs[0]) {
    if (st.finish == FinishReason::kStop) CHECK(st.text.find('e') == std::string::npos);
  }
  // continuing from a generated step uses its token ids; greedy is deterministic
  SamplingParams greedy = whole;
  greedy.temperature = 0;
  const NodeId first = t.add_child(0, alone.outputs[0][0]);
  const auto c1 = gen.generate(std::vector<GenerateRequest>{request(p, t, first, 2, greedy, 1)});
  const auto c2 = gen.generate(std::vector<GenerateRequest>{request(p, t, first, 1, greedy, 99)});
  CHECK(c1.outputs[0][0].token_ids == c1.outputs[0][1].token_ids);
  CHECK(c1.outputs[0][0].token_ids == c2.outputs[0][0].token_ids);
  fs::remove_all(dir);
}

TEST_CASE("TorchPRM: scores at the step tags equal the score head read directly - searches run end to end", "[torch][runtime]") {
  const fs::path pdir = tiny_folder("policy2", false, 21);
  const fs::path vdir = tiny_folder("prm", true, 22);
  TorchGenerator gen = TorchGenerator::load(pdir.string());
  TorchPRM prm = TorchPRM::load(vdir.string());
  Problem p{.id = "p", .question = "What is 2 + 3?", .reference = "5"};
  SearchTree t;
  Step a, b, c;
  a.text = "Step 1: 2 + 3\n\n";
  b.text = "Step 2: = 5\n\n";
  c.text = "The answer is \\boxed{5}.";
  const NodeId na = t.add_child(0, a), nb = t.add_child(na, b), nc = t.add_child(nb, c);
  Step d;
  d.text = "The answer is \\boxed{6}.";
  const NodeId nd = t.add_child(nb, d);
  const auto sc = prm.score(std::vector<ScoreRequest>{{&p, t.path(nc)}, {&p, t.path(nd)}, {&p, t.path(na)}});
  REQUIRE(sc.scores.size() == 3);
  REQUIRE(sc.scores[0].size() == 3);
  REQUIRE(sc.scores[2].size() == 1);
  for (double x : sc.scores[0]) CHECK((x > 0 && x < 1));
  CHECK(sc.scores[0][0] == Approx(sc.scores[1][0]).margin(1e-5));  // a shared prefix scores the same
  CHECK(sc.scores[0][1] == Approx(sc.scores[1][1]).margin(1e-5));
  CHECK(sc.scores[0][0] == Approx(sc.scores[2][0]).margin(1e-5));  // padding in the batch changes nothing
  // the same numbers read straight from the model's score head
  const CausalLM raw = CausalLM::load(vdir.string());
  const Tokenizer tok = Tokenizer::from_file((vdir / "tokenizer.json").string());
  const std::string text = "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
                           "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n"
                           "Step 1: 2 + 3<extra_0>Step 2: = 5<extra_0>The answer is \\boxed{5}.<extra_0><|im_end|>\n";
  const auto ids = tok.encode(text);
  const auto logits = raw.score_logits(ids);
  std::vector<double> direct;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] != *tok.token_to_id("<extra_0>")) continue;
    const double l0 = logits[2 * i], l1 = logits[2 * i + 1];
    direct.push_back(1.0 / (1.0 + std::exp(l0 - l1)));
  }
  REQUIRE(direct.size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(sc.scores[0][static_cast<std::size_t>(i)] == Approx(direct[static_cast<std::size_t>(i)]).margin(1e-5));
  // the input ends at the last tag: the template's closing tokens cannot change a causal score
  const auto last_tag = std::find(ids.rbegin(), ids.rend(), *tok.token_to_id("<extra_0>"));
  CHECK(sc.tokens.at(0) == static_cast<std::int64_t>(ids.rend() - last_tag));

  // real searches on real (tiny, random) models: batched == one by one, traces replay, budgets hold
  std::vector<Problem> ps = {p, Problem{.id = "q", .question = "What is 4 * 4?", .reference = "16"}};
  BeamSearchOptions beam{.n = 4, .beam_width = 2, .num_iterations = 3};
  beam.sampling = SamplingParams::step(1.0, 10);
  beam.sampling.stop = {"e"};
  std::stringstream audit;
  std::vector<SearchResult> batch;
  {
    JsonlAuditWriter w(audit);
    batch = solve_batch(std::span<const Problem>(ps), gen, prm, beam, Budget{}, w, 3);
  }
  for (std::size_t i = 0; i < ps.size(); ++i) {
    const auto one = solve(ps[i], gen, prm, beam, Budget{}, NullObserver{}, batch_seed(3, i));
    CHECK(one.tree.size() == batch[i].tree.size());
    CHECK(one.chosen == batch[i].chosen);
    CHECK(one.text() == batch[i].text());
    CHECK(batch[i].ledger.generated_tokens > 0);
    CHECK(batch[i].ledger.verifier_tokens > 0);
    CHECK(batch[i].ledger.cached_prompt_tokens > 0);
  }
  for (const auto& [_, s] : read_audit(audit).searches) CHECK(replay(s).match);
  BestOfNOptions bon{.n = 3};
  bon.sampling.max_tokens = 16;
  Budget budget;
  budget.max_generated_tokens = 30;
  const auto r = solve(p, gen, prm, bon, budget);
  CHECK(r.ledger.generated_tokens <= 30);
  CHECK(r.candidates.size() == 3);
  CHECK_THROWS_WITH(TorchPRM::load(pdir.string()), Catch::Contains("is not a two-label process reward model"));
  CHECK_THROWS_WITH(TorchGenerator::load(vdir.string()), Catch::Contains("is not a causal language model"));
  fs::remove_all(pdir);
  fs::remove_all(vdir);
}

TEST_CASE("TorchPRM: the token-pair convention and outcome reward models / against direct reads of the model", "[torch][runtime]") {
  const fs::path lmdir = tiny_folder("pair", false, 31);
  const fs::path ormdir = tiny_folder("orm", false, 32, /*orm=*/true);
  Problem p{.id = "p", .question = "What is 2 + 3?", .reference = "5"};
  SearchTree t;
  Step a, b;
  a.text = "Step 1: 2 + 3\n\n";
  b.text = "The answer is 5.";
  const NodeId leaf = t.add_child(t.add_child(0, a), b);
  const std::vector<ScoreRequest> reqs{{&p, t.path(leaf)}};
  const Tokenizer tok = Tokenizer::from_file((lmdir / "tokenizer.json").string());

  // token pair: "{question} {step1} {tag}\n\n{step2} {tag}", P("+") over {"+", "-"} at each tag
  TorchPRM pair = TorchPRM::load(lmdir.string(), {.convention = RewardConvention::kTokenPair});
  const auto ps = pair.score(reqs);
  REQUIRE(ps.scores.at(0).size() == 2);
  const auto ids = tok.encode("What is 2 + 3? Step 1: 2 + 3 <extra_0>\n\nThe answer is 5. <extra_0>");
  const CausalLM lm = CausalLM::load(lmdir.string());
  const auto logits = lm.logits(ids);
  const auto V = static_cast<std::size_t>(lm.config().vocab_size);
  const auto plus = static_cast<std::size_t>(*tok.token_to_id("+")), minus = static_cast<std::size_t>(*tok.token_to_id("-"));
  std::vector<double> direct;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] != *tok.token_to_id("<extra_0>")) continue;
    direct.push_back(1.0 / (1.0 + std::exp(logits[i * V + minus] - logits[i * V + plus])));
  }
  REQUIRE(direct.size() == 2);
  CHECK(ps.scores[0][0] == Approx(direct[0]).margin(1e-5));
  CHECK(ps.scores[0][1] == Approx(direct[1]).margin(1e-5));

  // outcome reward model: one unbounded score, the head at the last token of the chat-rendered input
  TorchPRM orm = TorchPRM::load(ormdir.string(), {.convention = RewardConvention::kOutcome});
  const auto os = orm.score(reqs);
  REQUIRE(os.scores.at(0).size() == 1);
  const auto oids = tok.encode("<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
                               "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n"
                               "Step 1: 2 + 3\n\nThe answer is 5.<|im_end|>\n");
  const CausalLM cls = CausalLM::load(ormdir.string());
  CHECK(os.scores[0][0] == Approx(cls.score_logits(oids).back()).margin(1e-5));
  CHECK_THROWS_WITH(TorchPRM::load(ormdir.string(), {.convention = RewardConvention::kQwenPrm}),
                    Catch::Contains("is not a two-label process reward model"));
  CHECK_THROWS_WITH(TorchPRM::load(lmdir.string(), {.convention = RewardConvention::kOutcome}),
                    Catch::Contains("is not a one-label sequence classifier"));
  fs::remove_all(lmdir);
  fs::remove_all(ormdir);
}

TEST_CASE("TorchPRM: the value-head convention (Skywork-o1-Open-PRM) / against the value head read directly / cached", "[torch][runtime]") {
  const fs::path dir = ttsearch::testing::write_tiny_qwen2(
      (fs::temp_directory_path() / ("ttsearch_rt_vhead_" + std::to_string(::getpid()))).string(), kData + "/tokenizer/qwen2.tokenizer.json",
      false, 33, false, {}, /*value_head=*/true);
  Problem p{.id = "p", .question = "What is 2 + 3?", .reference = "5"};
  SearchTree t;
  Step a, b;
  a.text = "Step 1: 2 + 3\n\n";
  b.text = "The answer is 5.";
  const NodeId first = t.add_child(0, a);
  const NodeId leaf = t.add_child(first, b);
  const Tokenizer tok = Tokenizer::from_file((dir / "tokenizer.json").string());
  // Skywork's input: encode(bos + question + "\n"), then per "\n"-piece its tokens and the "\n" token (flagged);
  // "Step 1: 2 + 3\n\nThe answer is 5." has three pieces (the blank line is one)
  const std::int32_t nl = tok.encode("\n").back();
  std::vector<std::int32_t> ids = tok.encode("<|endoftext|>What is 2 + 3?\n");
  std::vector<std::size_t> flags;
  for (const std::string piece : {"Step 1: 2 + 3", "", "The answer is 5."}) {
    const auto e = tok.encode(piece);
    ids.insert(ids.end(), e.begin(), e.end());
    ids.push_back(nl);
    flags.push_back(ids.size() - 1);
  }
  const CausalLM direct = CausalLM::load(dir.string());
  const auto values = direct.score_logits(ids);
  REQUIRE(values.size() == ids.size());
  const PrmOptions vh{.convention = RewardConvention::kValueHead};
  TorchPRM prm = TorchPRM::load(dir.string(), vh);
  const auto first_scores = prm.score(std::vector<ScoreRequest>{{&p, t.path(first)}});  // "Step 1: 2 + 3", "", "": 3 flags
  REQUIRE(first_scores.scores.at(0).size() == 3);
  CHECK(first_scores.scores[0][0] == Approx(1.0 / (1.0 + std::exp(-values[flags[0]]))).margin(1e-5));
  const auto s = prm.score(std::vector<ScoreRequest>{{&p, t.path(leaf)}});
  REQUIRE(s.scores.at(0).size() == 3);
  for (std::size_t k = 0; k < 3; ++k) CHECK(s.scores[0][k] == Approx(1.0 / (1.0 + std::exp(-values[flags[k]]))).margin(1e-5));
  CHECK(s.tokens.at(0) < static_cast<std::int64_t>(ids.size()));  // the first path's tokens came from the cache
  TorchPRM fresh = TorchPRM::load(dir.string(), {.convention = RewardConvention::kValueHead, .prefix_cache_tokens = 0});
  const auto f = fresh.score(std::vector<ScoreRequest>{{&p, t.path(leaf)}});
  CHECK(f.tokens.at(0) == static_cast<std::int64_t>(ids.size()));
  for (std::size_t k = 0; k < 3; ++k) CHECK(f.scores[0][k] == Approx(s.scores[0][k]).margin(1e-5));
  // the same weights saved under a *ForCausalLM architecture load as a value-head PRM when asked
  {
    std::ifstream in(dir / "config.json");
    json cfg = json::parse(in);
    cfg["architectures"] = {"Qwen2ForCausalLM"};
    std::ofstream(dir / "config.json") << cfg.dump();
  }
  TorchPRM as_lm = TorchPRM::load(dir.string(), vh);
  const auto l = as_lm.score(std::vector<ScoreRequest>{{&p, t.path(leaf)}});
  for (std::size_t k = 0; k < 3; ++k) CHECK(l.scores[0][k] == Approx(s.scores[0][k]).margin(1e-5));
  // no bos_token: a clear error; a causal LM without v_head weights: names the tensor
  std::ofstream(dir / "tokenizer_config.json") << json{{"bos_token", nullptr}}.dump();
  CHECK_THROWS_WITH(TorchPRM::load(dir.string(), vh), Catch::Contains("bos_token is not set"));
  const fs::path lmdir = tiny_folder("vhead_lm", false, 34);
  CHECK_THROWS_WITH(TorchPRM::load(lmdir.string(), vh), Catch::Contains("v_head.summary.weight"));
  fs::remove_all(dir);
  fs::remove_all(lmdir);
}

TEST_CASE("prefix cache: reuse across calls gives the same samples as no reuse / and is counted", "[torch][runtime][cache]") {
  const fs::path dir = tiny_folder("cache", false, 41);
  TorchGenerator cached = TorchGenerator::load(dir.string());
  TorchGenerator fresh = TorchGenerator::load(dir.string(), {.prefix_cache_tokens = 0});
  Problem p{.id = "p", .question = "What is 6 * 7?", .reference = "42"};
  SamplingParams step;
  step.stop = {"e"};
  step.max_tokens = 12;
  step.temperature = 1.0;
  SearchTree ta, tb;
  // round 1 from the root, round 2 from every child, round 3 from every grandchild: a small tree search
  std::vector<NodeId> fa{0}, fb{0};
  std::int64_t cached_tokens = 0, fresh_cached = 0;
  for (int round = 0; round < 3; ++round) {
    std::vector<GenerateRequest> ra, rb;
    for (std::size_t i = 0; i < fa.size(); ++i) {
      ra.push_back(request(p, ta, fa[i], 2, step, 100 + round * 10 + i));
      rb.push_back(request(p, tb, fb[i], 2, step, 100 + round * 10 + i));
    }
    const auto ga = cached.generate(ra), gb = fresh.generate(rb);
    std::vector<NodeId> na, nb;
    for (std::size_t i = 0; i < fa.size(); ++i) {
      for (std::size_t s = 0; s < 2; ++s) {
        REQUIRE(ga.outputs[i][s].token_ids == gb.outputs[i][s].token_ids);
        REQUIRE(ga.outputs[i][s].text == gb.outputs[i][s].text);
        if (ga.outputs[i][s].finish != FinishReason::kEos) {  // extend whatever did not end the text
          na.push_back(ta.add_child(fa[i], ga.outputs[i][s]));
          nb.push_back(tb.add_child(fb[i], gb.outputs[i][s]));
        }
      }
      if (round > 0) {
        cached_tokens += ga.usage[i].cached_prompt_tokens;
        fresh_cached += gb.usage[i].cached_prompt_tokens;
      }
    }
    if (na.empty()) break;
    fa = na;
    fb = nb;
  }
  // with the cache, later rounds find their whole prefix (prompt + earlier steps) cached
  CHECK(cached_tokens > fresh_cached);
  CHECK(fresh_cached > 0);  // without it, only a request's samples share their prefill
  TorchGenerator tight = TorchGenerator::load(dir.string(), {.max_batch_tokens = 50});
  SearchTree t;
  CHECK_THROWS_AS(tight.generate(std::vector<GenerateRequest>{request(p, t, 0, 8, step, 1)}), CapacityExceeded);
  CHECK_THROWS_WITH(tight.generate(std::vector<GenerateRequest>{request(p, t, 0, 8, step, 1)}), Catch::Contains("exceed max_batch_tokens 50"));
  CHECK_THROWS_WITH(TorchGenerator::load(dir.string(), {.prefix_cache_tokens = -1}), Catch::Contains("prefix_cache_tokens must be >= 0"));
  fs::remove_all(dir);
}

TEST_CASE("TorchPRM prefix cache: a path extending a scored one costs only its new tokens / same scores", "[torch][runtime][cache]") {
  const fs::path dir = tiny_folder("prmcache", true, 51);
  TorchPRM cached = TorchPRM::load(dir.string());
  TorchPRM fresh = TorchPRM::load(dir.string(), {.prefix_cache_tokens = 0});
  Problem p{.id = "p", .question = "What is 8 - 3?", .reference = "5"};
  SearchTree t;
  Step s1, s2, s3, s3b;
  s1.text = "Step 1: 8 - 3\n\n";
  s2.text = "Step 2: that is 5\n\n";
  s3.text = "The answer is \\boxed{5}.";
  s3b.text = "The answer is \\boxed{6}.";
  const NodeId a = t.add_child(0, s1), b = t.add_child(a, s2), c = t.add_child(b, s3), d = t.add_child(b, s3b);
  std::int64_t first_round = 0;
  for (const auto& round : std::vector<std::vector<NodeId>>{{a}, {b}, {c, d}}) {
    std::vector<ScoreRequest> reqs;
    for (NodeId n : round) reqs.push_back({&p, t.path(n)});
    const auto x = cached.score(reqs), y = fresh.score(reqs);
    for (std::size_t i = 0; i < reqs.size(); ++i) {
      REQUIRE(x.scores[i].size() == y.scores[i].size());
      for (std::size_t j = 0; j < x.scores[i].size(); ++j) CHECK(x.scores[i][j] == Approx(y.scores[i][j]).margin(1e-5));
      if (round.front() == a) first_round = x.tokens[i];
      if (round.front() != a) CHECK(x.tokens[i] < y.tokens[i]);  // only the new step (and its tag) was read
    }
  }
  CHECK(first_round > 0);
  fs::remove_all(dir);
}
