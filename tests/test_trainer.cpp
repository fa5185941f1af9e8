// Training: the byte-level BPE trainer, the libtorch Trainer (a causal LM and a PRM head), its
// saved folders loaded back by the runtime, and the generator's step log-probabilities.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <ttsearch/core/rng.hpp>
#include <ttsearch/torch/model.hpp>
#include <ttsearch/torch/runtime.hpp>
#include <ttsearch/torch/tokenizer.hpp>
#include <ttsearch/torch/trainer.hpp>

#include "request.hpp"

using namespace ttsearch;
using namespace ttsearch::torch;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> tiny_corpus() {
  std::vector<std::string> c;
  Rng rng(3);
  for (int i = 0; i < 300; ++i) {
    const auto a = rng.uniform_int(1, 9), b = rng.uniform_int(1, 9);
    c.push_back(fmt::format("{} + {} = {}\n\nThe answer is {}", a, b, a + b, a + b));
  }
  return c;
}

BpeTrainerOptions tiny_bpe() {
  BpeTrainerOptions o;
  o.split_pattern = R"(\p{N}|\n+|[^\p{N}\n]+)";
  o.max_merges = 40;
  o.min_frequency = 5;
  o.special_tokens = {"<|endoftext|>", "<extra_0>"};
  return o;
}

fs::path scratch(const std::string& name) {
  auto p = fs::temp_directory_path() / fmt::format("ttsearch_train_{}_{}", name, ::getpid());
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

ModelConfig tiny_config(const Tokenizer& tok, bool prm) {
  ModelConfig c;
  c.architecture = prm ? "Qwen2ForProcessRewardModel" : "Qwen2ForCausalLM";
  c.model_type = "qwen2";
  c.head = prm ? ModelHead::kProcessReward : ModelHead::kCausalLM;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 16;
  c.vocab_size = static_cast<std::int64_t>(tok.vocab_size());
  c.max_position_embeddings = 128;
  c.tie_word_embeddings = true;
  c.qkv_bias = true;
  c.eos_token_ids = {*tok.token_to_id("<|endoftext|>")};
  c.num_labels = prm ? 2 : 0;
  return c;
}

void write_tokenizer(const fs::path& dir, const nlohmann::json& tj) {
  std::ofstream(dir / "tokenizer.json") << tj.dump();
  std::ofstream(dir / "tokenizer_config.json") << nlohmann::json{{"eos_token", "<|endoftext|>"}}.dump();
}

}  // namespace

TEST_CASE("bpe trainer: deterministic / merges within pieces / loads and round-trips", "[torch][train]") {
  const auto corpus = tiny_corpus();
  const auto tj = train_byte_level_bpe(corpus, tiny_bpe());
  CHECK(tj == train_byte_level_bpe(corpus, tiny_bpe()));
  const auto& merges = tj["model"]["merges"];
  REQUIRE(merges.size() > 5);
  CHECK(merges.size() <= 40);
  const Tokenizer tok = Tokenizer::from_json(tj);
  CHECK(tok.vocab_size() == 256 + merges.size() + 2);
  CHECK(tok.token_to_id("<extra_0>") == static_cast<std::int32_t>(256 + merges.size() + 1));
  std::size_t bytes = 0, tokens = 0;
  for (const auto& s : corpus) {
    const auto ids = tok.encode(s);
    CHECK(tok.decode(ids) == s);
    bytes += s.size();
    tokens += ids.size();
  }
  CHECK(static_cast<double>(bytes) / static_cast<double>(tokens) > 1.8);  // " + ", " = ", "The answer is " merged
  // digits stay single tokens (they are pieces of their own), "\n\n" is one token
  const auto ids = tok.encode("12\n\n");
  CHECK(ids.size() == 3);
  // arbitrary bytes, other scripts and the special tokens round-trip
  for (const std::string s : {std::string("héllo wörld ✓ 数学"), std::string("\xff\xfe bad bytes"), std::string("1 + 1<extra_0>2")}) {
    CHECK(tok.decode(tok.encode(s)) == s);
  }
  CHECK(tok.encode("<extra_0>").size() == 1);
  auto bad = tiny_bpe();
  bad.min_frequency = 0;
  CHECK_THROWS_WITH(train_byte_level_bpe(corpus, bad), Catch::Contains("min_frequency"));
  bad = tiny_bpe();
  bad.split_pattern = "(";
  CHECK_THROWS_WITH(train_byte_level_bpe(corpus, bad), Catch::Contains("split_pattern"));
}

TEST_CASE("trainer: a causal LM learns its data - the saved folder loads and generates it - log-probs are the model's", "[torch][train]") {
  const auto corpus = tiny_corpus();
  const auto tj = train_byte_level_bpe(corpus, tiny_bpe());
  const Tokenizer tok = Tokenizer::from_json(tj);
  const ModelConfig cfg = tiny_config(tok, false);
  TrainOptions o;
  o.learning_rate = 1e-2;
  o.total_steps = 150;
  o.warmup_steps = 10;
  Trainer t = Trainer::create(cfg, 1, o);
  // one sequence to memorise: prompt "7 + 5 = ", completion "12\n\nThe answer is 12" + EOS
  TrainSequence s;
  s.ids = tok.encode("7 + 5 = ");
  s.loss_from = static_cast<std::int32_t>(s.ids.size());
  const auto completion = tok.encode("12\n\nThe answer is 12");
  s.ids.insert(s.ids.end(), completion.begin(), completion.end());
  s.ids.push_back(static_cast<std::int32_t>(cfg.eos_token_ids[0]));
  const std::vector<TrainSequence> batch{s};
  const double before = t.loss(batch);
  CHECK(before > 3.0);  // about ln(vocab) at random initialisation
  double last = 0;
  for (int i = 0; i < 150; ++i) last = t.step(batch);
  CHECK(last < 0.05);
  CHECK(t.steps_done() == 150);
  CHECK(t.num_parameters() > 0);

  const auto dir = scratch("lm");
  t.save(dir.string());
  write_tokenizer(dir, tj);
  // the runtime loads it and greedily reproduces the memorised completion
  GeneratorOptions go;
  go.prompt_format = "{question} = ";
  go.prefix_cache_tokens = 0;
  auto gen = TorchGenerator::load(dir.string(), go);
  Problem p;
  p.id = "p";
  p.question = "7 + 5";
  CHECK(gen.prompt_ids(p) == tok.encode("7 + 5 = "));
  const SearchTree tree0;
  SamplingParams greedy;
  greedy.temperature = 0;
  greedy.max_tokens = 20;
  auto out = gen.generate(std::vector<GenerateRequest>{testing::request(p, tree0, SearchTree::root(), 1, greedy, 0)});
  REQUIRE(out.outputs[0].size() == 1);
  CHECK(out.outputs[0][0].text == "12\n\nThe answer is 12");
  CHECK(out.outputs[0][0].finish == FinishReason::kEos);
  // a step's logprob is the sum of the model's log-softmax at its tokens (EOS included)
  const CausalLM lm = CausalLM::load(dir.string());
  SamplingParams hot;
  hot.temperature = 1.5;
  hot.max_tokens = 6;
  out = gen.generate(std::vector<GenerateRequest>{testing::request(p, tree0, SearchTree::root(), 3, hot, 11)});
  const auto V = static_cast<std::size_t>(cfg.vocab_size);
  for (const Step& st : out.outputs[0]) {
    std::vector<std::int32_t> seq = tok.encode("7 + 5 = ");
    const auto n0 = seq.size();
    seq.insert(seq.end(), st.token_ids.begin(), st.token_ids.end());
    const auto logits = lm.logits(seq);
    double expect = 0;
    for (std::size_t i = n0; i < seq.size(); ++i) {
      const float* row = logits.data() + (i - 1) * V;
      double m = row[0], z = 0;
      for (std::size_t k = 0; k < V; ++k) m = std::max<double>(m, row[k]);
      for (std::size_t k = 0; k < V; ++k) z += std::exp(row[k] - m);
      expect += row[static_cast<std::size_t>(seq[i])] - m - std::log(z);
    }
    CHECK(st.logprob == Approx(expect).epsilon(1e-4));
    CHECK(st.logprob < 0);
  }
  // a continuation stops at the model's context (128 positions) with finish "length"
  Problem longq;
  longq.id = "long";
  for (int i = 0; i < 30; ++i) longq.question += "7 + 5 ";
  longq.question += "7";
  const auto n_prompt = static_cast<std::int64_t>(gen.prompt_ids(longq).size());
  REQUIRE(n_prompt > 100);
  REQUIRE(n_prompt < 128);
  SamplingParams longp;
  longp.temperature = 1.0;
  longp.max_tokens = 1000;
  out = gen.generate(std::vector<GenerateRequest>{testing::request(longq, tree0, SearchTree::root(), 4, longp, 3)});
  for (const Step& st : out.outputs[0]) {
    CHECK(n_prompt + st.num_tokens <= 128);
    if (st.finish == FinishReason::kLength) CHECK(n_prompt + st.num_tokens == 128);
  }
  fs::remove_all(dir);

  TrainSequence bad = s;
  bad.ids.push_back(100000);
  CHECK_THROWS_WITH(t.step(std::vector<TrainSequence>{bad}), Catch::Contains("outside the vocabulary"));
  CHECK_THROWS_WITH(t.step(std::vector<TrainSequence>{}), Catch::Contains("empty batch"));
  TrainOptions zero;
  zero.total_steps = 0;
  CHECK_THROWS_WITH(Trainer::create(cfg, 1, zero), Catch::Contains("total_steps"));
}

TEST_CASE("trainer: a PRM head from a causal LM's weights learns step labels - TorchPRM reads the same scores", "[torch][train]") {
  const auto corpus = tiny_corpus();
  const auto tj = train_byte_level_bpe(corpus, tiny_bpe());
  const Tokenizer tok = Tokenizer::from_json(tj);
  const auto lm_dir = scratch("prm_base");
  TrainOptions o;
  o.total_steps = 1;
  Trainer::create(tiny_config(tok, false), 2, o).save(lm_dir.string());
  // label: a step "a + b = c" is good when c is even (a rule one attention layer can read); the tag follows each step
  const auto tag = *tok.token_to_id("<extra_0>");
  Rng rng(5);
  auto example = [&](std::int64_t a, std::int64_t b, std::int64_t c) {
    TrainSequence s;
    s.ids = tok.encode(fmt::format("Q\n\n{} + {} = {}<extra_0>", a, b, c));
    s.labels.emplace_back(static_cast<std::int32_t>(s.ids.size() - 1), c % 2 == 0 ? 1 : 0);
    REQUIRE(s.ids.back() == tag);
    return s;
  };
  o.total_steps = 300;
  o.learning_rate = 1e-2;
  Trainer t = Trainer::from_pretrained(lm_dir.string(), tiny_config(tok, true), 3, o);
  for (int i = 0; i < 300; ++i) {
    std::vector<TrainSequence> batch;
    for (int k = 0; k < 32; ++k) {
      const auto a = rng.uniform_int(1, 4), b = rng.uniform_int(1, 4);
      batch.push_back(example(a, b, rng.uniform_int(1, 9)));
    }
    t.step(batch);
  }
  const std::vector<TrainSequence> probe{example(2, 3, 6), example(2, 3, 5), example(4, 1, 2), example(4, 1, 7)};
  const auto probs = t.prm_probabilities(probe);
  CHECK(probs[0][0] > 0.8);
  CHECK(probs[1][0] < 0.2);
  CHECK(probs[2][0] > 0.8);
  CHECK(probs[3][0] < 0.2);
  const auto dir = scratch("prm");
  t.save(dir.string());
  write_tokenizer(dir, tj);
  PrmOptions po;
  po.prompt_format = "{question}\n\n";
  auto prm = TorchPRM::load(dir.string(), po);
  Problem q;
  q.id = "q";
  q.question = "Q";
  SearchTree tree;
  const auto step = [](std::string text) {
    Step s;
    s.text = std::move(text);
    s.num_tokens = 3;
    return s;
  };
  const auto good = tree.add_child(SearchTree::root(), step("2 + 3 = 6\n\n"));
  const auto bad = tree.add_child(SearchTree::root(), step("2 + 3 = 5\n\n"));
  const auto scored = prm.score(std::vector<ScoreRequest>{{&q, tree.path(good)}, {&q, tree.path(bad)}});
  CHECK(scored.scores[0][0] == Approx(probs[0][0]).margin(1e-5));
  CHECK(scored.scores[1][0] == Approx(probs[1][0]).margin(1e-5));
  fs::remove_all(dir);
  fs::remove_all(lm_dir);
  CHECK_THROWS_WITH(t.prm_probabilities(std::vector<TrainSequence>{TrainSequence{{1, 2}, 1, {{5, 1}}}}), Catch::Contains("outside its"));
}
