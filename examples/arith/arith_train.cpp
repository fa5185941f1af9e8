// arith_train: trains the arithmetic domain's tokenizer, policy and PRM with ttsearch's own
// libtorch trainer and writes them as Hugging Face model folders (the ones shipped under
// examples/arith/). Everything is seeded; run on one thread it reproduces the shipped weights.
//
//   arith_train all --out examples/arith            # tokenizer, policy, PRM, evaluation
//   arith_train tokenizer --out DIR
//   arith_train policy --out DIR [--steps N --batch-tokens N --threads N --seed N]
//   arith_train prm --policy DIR --out DIR [--problems N --samples N --steps N]
//   arith_train eval --policy DIR [--prm DIR]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <ttsearch/core/rng.hpp>
#include <ttsearch/torch/runtime.hpp>
#include <ttsearch/torch/tokenizer.hpp>
#include <ttsearch/torch/trainer.hpp>

#include "arith_models.hpp"

namespace fs = std::filesystem;
using namespace ttsearch;
using namespace ttsearch::torch;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void write_json(const fs::path& p, const Json& j) {
  std::ofstream out(p);
  out << j.dump(2) << '\n';
  TTSEARCH_REQUIRE(out.good(), "cannot write {}", p.string());
}

// ------------------------------------------------------------------------------ tokenizer

struct TokenizerArgs {
  std::string out;
  std::uint64_t seed = 0;
  std::int32_t problems = 20000;
  std::int32_t merges = 200;
};

void train_tokenizer(const TokenizerArgs& a) {
  const auto t0 = Clock::now();
  Rng rng = Rng(a.seed).split(1);
  std::vector<std::string> corpus;
  for (std::int32_t i = 0; i < a.problems; ++i) {
    const auto p = arith::random_problem(rng, static_cast<std::int32_t>(1 + i % 7));
    corpus.push_back(p.expression + std::string(arith::kStepSeparator) + p.solution());
  }
  BpeTrainerOptions o;
  o.split_pattern = arith_models::kSplitPattern;
  o.max_merges = a.merges;
  o.min_frequency = 100;
  o.special_tokens = {arith_models::kEos, "<|im_start|>", "<|im_end|>", arith_models::kStepTag};
  const Json tj = train_byte_level_bpe(corpus, o);
  fs::create_directories(a.out);
  write_json(fs::path(a.out) / "tokenizer.json", tj);
  write_json(fs::path(a.out) / "tokenizer_config.json",
             Json{{"tokenizer_class", "PreTrainedTokenizerFast"}, {"eos_token", arith_models::kEos}, {"pad_token", arith_models::kEos},
                  {"model_max_length", 512}, {"additional_special_tokens", {arith_models::kStepTag}}});
  const Tokenizer tok = Tokenizer::from_json(tj);
  std::size_t bytes = 0, tokens = 0;
  for (const auto& s : corpus) {
    bytes += s.size();
    tokens += tok.encode(s).size();
  }
  fmt::print("tokenizer: {} tokens ({} merges), {:.2f} bytes per token on its corpus, {:.1f} s -> {}\n", tok.vocab_size(),
             tj["model"]["merges"].size(), static_cast<double>(bytes) / static_cast<double>(tokens), seconds_since(t0), a.out);
}

void copy_tokenizer(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    fs::copy_file(fs::path(from) / f, fs::path(to) / f, fs::copy_options::overwrite_existing);
  }
}

// ------------------------------------------------------------------------------ policy

struct PolicyArgs {
  std::string tokenizer;  // folder with tokenizer.json
  std::string out;
  std::uint64_t seed = 0;
  std::int64_t steps = 8000;
  std::int64_t batch_tokens = 2048;
  std::int64_t hidden = 64, layers = 2, heads = 2, kv_heads = 1;
  double lr = 3e-3;
  int threads = 1;
};

ModelConfig arith_config(const Tokenizer& tok, const PolicyArgs& a, bool prm) {
  ModelConfig c;
  c.architecture = prm ? "Qwen2ForProcessRewardModel" : "Qwen2ForCausalLM";
  c.model_type = "qwen2";
  c.head = prm ? ModelHead::kProcessReward : ModelHead::kCausalLM;
  c.hidden_size = a.hidden;
  c.intermediate_size = 3 * a.hidden;
  c.num_hidden_layers = a.layers;
  c.num_attention_heads = a.heads;
  c.num_key_value_heads = a.kv_heads;
  c.head_dim = a.hidden / a.heads;
  c.vocab_size = static_cast<std::int64_t>(tok.vocab_size());
  c.max_position_embeddings = 512;
  c.rope.theta = 10000.0;
  c.tie_word_embeddings = true;
  c.qkv_bias = true;
  c.eos_token_ids = {*tok.token_to_id(arith_models::kEos)};
  c.pad_token_id = c.eos_token_ids[0];
  c.num_labels = prm ? 2 : 0;
  return c;
}

/// A policy training sequence: prompt, canonical solution, EOS; loss on the solution and EOS.
TrainSequence policy_sequence(const Tokenizer& tok, const arith::ArithProblem& p, std::int32_t eos) {
  TrainSequence s;
  s.ids = tok.encode(p.expression + std::string(arith::kStepSeparator));
  s.loss_from = static_cast<std::int32_t>(s.ids.size());
  const auto sol = tok.encode(p.solution());
  s.ids.insert(s.ids.end(), sol.begin(), sol.end());
  s.ids.push_back(eos);
  return s;
}

Json train_policy(const PolicyArgs& a) {
  at::set_num_threads(a.threads);
  const Tokenizer tok = Tokenizer::from_file((fs::path(a.tokenizer) / "tokenizer.json").string());
  const ModelConfig cfg = arith_config(tok, a, false);
  TrainOptions o;
  o.learning_rate = a.lr;
  o.total_steps = a.steps;
  Trainer trainer = Trainer::create(cfg, a.seed, o);
  const auto held_out = arith_models::test_expressions();
  Rng rng = Rng(a.seed).split(2);
  const auto eos = static_cast<std::int32_t>(cfg.eos_token_ids[0]);
  fmt::print("policy: {} parameters, {} steps of ~{} tokens, {} thread(s)\n", trainer.num_parameters(), a.steps, a.batch_tokens, a.threads);
  const auto t0 = Clock::now();
  std::int64_t tokens = 0;
  double ema = 0;
  for (std::int64_t step = 0; step < a.steps; ++step) {
    // one level per batch, sized in tokens: every level gets about equal tokens (many short problems)
    const auto level = static_cast<std::int32_t>(rng.uniform_int(1, 7));
    std::vector<TrainSequence> batch;
    std::int64_t n = 0;
    while (n < a.batch_tokens) {
      const auto p = arith::random_problem(rng, level);
      if (held_out.contains(p.expression)) continue;
      batch.push_back(policy_sequence(tok, p, eos));
      n += static_cast<std::int64_t>(batch.back().ids.size());
    }
    const double loss = trainer.step(batch);
    tokens += n;
    ema = step == 0 ? loss : 0.98 * ema + 0.02 * loss;
    if ((step + 1) % 500 == 0 || step + 1 == a.steps) {
      const double s = seconds_since(t0);
      fmt::print("  step {:>6}  loss {:.4f}  {:.1f}M tokens  {:.0f} tok/s  {:.0f} s\n", step + 1, ema, static_cast<double>(tokens) / 1e6,
                 static_cast<double>(tokens) / s, s);
      std::fflush(stdout);
    }
  }
  const double secs = seconds_since(t0);
  trainer.save(a.out);
  copy_tokenizer(a.tokenizer, a.out);
  Json report = {{"parameters", trainer.num_parameters()}, {"steps", a.steps}, {"batch_tokens", a.batch_tokens}, {"tokens", tokens},
                 {"seconds", secs}, {"final_loss_ema", ema}, {"threads", a.threads}, {"seed", a.seed}, {"learning_rate", a.lr}};
  fmt::print("policy: {:.0f} s, {:.1f}M tokens, loss {:.4f} -> {}\n", secs, static_cast<double>(tokens) / 1e6, ema, a.out);
  return report;
}

// ------------------------------------------------------------------------------ sampling and eval

struct Sampled {
  const arith::ArithProblem* problem;
  std::string text;
  double logprob;
};

/// `samples` full solutions per problem from the policy at `temperature` (0 = greedy, one sample).
std::vector<Sampled> sample_solutions(TorchGenerator& gen, const std::vector<arith::ArithProblem>& problems, std::int32_t samples,
                                      double temperature, std::uint64_t seed, std::size_t batch_problems = 64) {
  std::vector<Problem> probs;
  for (std::size_t i = 0; i < problems.size(); ++i) probs.push_back(arith::to_problem(problems[i], std::to_string(i)));
  std::vector<Sampled> out;
  for (std::size_t b = 0; b < probs.size(); b += batch_problems) {
    const std::span<const Problem> chunk(probs.data() + b, std::min(batch_problems, probs.size() - b));
    const auto reqs = arith_models::solution_requests(chunk, samples, temperature, [&](std::size_t i) { return Rng(seed).split(b + i).next_u64(); });
    const Generation g = gen.generate(reqs);
    for (std::size_t k = 0; k < reqs.size(); ++k) {
      for (const auto& st : g.outputs[k]) out.push_back({&problems[b + k], st.text, st.logprob});
    }
  }
  return out;
}

std::unique_ptr<TorchGenerator> load_policy(const std::string& dir) {
  GeneratorOptions o;
  o.prompt_format = arith_models::prompt_format();
  o.prefix_cache_tokens = 0;  // whole solutions from the prompt: nothing to reuse across calls
  return std::make_unique<TorchGenerator>(TorchGenerator::load(dir, o));
}

Json eval_greedy(const std::string& policy_dir) {
  auto gen = load_policy(policy_dir);
  const auto test = arith_models::test_split();
  const auto t0 = Clock::now();
  const auto out = sample_solutions(*gen, test, 1, 0.0, 0);
  Json per_level = Json::object();
  std::map<std::int32_t, std::pair<int, int>> acc;
  for (const auto& s : out) {
    const auto c = arith::check_solution(s.problem->expression, s.text);
    auto& [right, total] = acc[s.problem->level];
    right += c.correct;
    ++total;
  }
  fmt::print("greedy accuracy on the test split ({} problems, {:.1f} s):", out.size(), seconds_since(t0));
  for (const auto& [level, rt] : acc) {
    const double a = static_cast<double>(rt.first) / rt.second;
    per_level[std::to_string(level)] = a;
    fmt::print("  L{} {:.2f}", level, a);
  }
  fmt::print("\n");
  return per_level;
}

// ------------------------------------------------------------------------------ PRM

struct PrmArgs {
  std::string policy;
  std::string out;
  std::uint64_t seed = 0;
  std::int32_t problems_per_level = 400;  // training problems per level 2..7 (10% held out for evaluation)
  std::int32_t samples = 8;
  double temperature = 1.0;
  std::int64_t steps = 2000;
  std::int64_t batch_tokens = 4096;
  double lr = 1e-3;
  int threads = 1;
  bool dense_labels = false;
};

struct Labelled {
  TrainSequence seq;    // labels at the step tags (what TorchPRM reads)
  TrainSequence dense;  // with --dense-labels: also every token of a correct prefix (good) and every token after the first wrong step (bad)
  std::vector<bool> prefix;
  bool correct = false;
  std::size_t problem = 0;
};

double auroc(std::vector<std::pair<double, bool>> v) {
  std::sort(v.begin(), v.end());
  double pos = 0, neg = 0, rank_sum = 0;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j < v.size() && v[j].first == v[i].first) ++j;
    const double mid = (static_cast<double>(i) + static_cast<double>(j) + 1) / 2.0;  // average rank of ties (1-based)
    for (std::size_t k = i; k < j; ++k) {
      if (v[k].second) {
        rank_sum += mid;
        ++pos;
      } else {
        ++neg;
      }
    }
    i = j;
  }
  if (pos == 0 || neg == 0) return std::numeric_limits<double>::quiet_NaN();
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

Json train_prm(const PrmArgs& a) {
  at::set_num_threads(a.threads);
  const Tokenizer tok = Tokenizer::from_file((fs::path(a.policy) / "tokenizer.json").string());
  const auto tag = *tok.token_to_id(arith_models::kStepTag);
  // 1. problems (not in the test split), sampled solutions, checker labels
  const auto held_out = arith_models::test_expressions();
  Rng rng = Rng(a.seed).split(3);
  std::vector<arith::ArithProblem> problems;
  for (std::int32_t level = 2; level <= 7; ++level) {
    for (std::int32_t i = 0; i < a.problems_per_level;) {
      auto p = arith::random_problem(rng, level);
      if (held_out.contains(p.expression)) continue;
      problems.push_back(std::move(p));
      ++i;
    }
  }
  auto t0 = Clock::now();
  auto gen = load_policy(a.policy);
  const auto samples = sample_solutions(*gen, problems, a.samples, a.temperature, a.seed);
  gen.reset();
  const double sample_secs = seconds_since(t0);
  std::vector<Labelled> data;
  std::size_t steps_total = 0, steps_good = 0, right = 0;
  for (const auto& s : samples) {
    const auto c = arith::check_solution(s.problem->expression, s.text);
    Labelled l;
    l.seq.ids = tok.encode(arith_models::prm_input(s.problem->expression, c.steps));
    std::size_t k = 0;
    for (std::size_t t = 0; t < l.seq.ids.size(); ++t) {
      if (l.seq.ids[t] == tag && k < c.prefix.size()) l.seq.labels.emplace_back(static_cast<std::int32_t>(t), c.prefix[k++] ? 1 : 0);
    }
    if (l.seq.labels.empty() || l.seq.ids.size() > 500) continue;
    if (a.dense_labels) {
      // the same ids, built piece by piece (the tag and "\n\n" are token boundaries) to know each step's tokens
      l.dense.ids = tok.encode(s.problem->expression + std::string(arith::kStepSeparator));
      bool wrong_before = false;
      for (std::size_t k = 0; k < c.prefix.size(); ++k) {
        if (c.steps[k].empty()) continue;  // prm_input skips empty pieces too
        const auto begin = l.dense.ids.size();
        const auto piece = tok.encode(c.steps[k]);
        l.dense.ids.insert(l.dense.ids.end(), piece.begin(), piece.end());
        l.dense.ids.push_back(tag);
        const bool first_wrong = !c.prefix[k] && !wrong_before;
        for (std::size_t t = begin; t < l.dense.ids.size(); ++t) {
          if (first_wrong && t + 1 < l.dense.ids.size()) continue;  // the wrong step's own tokens: only its tag is labelled
          l.dense.labels.emplace_back(static_cast<std::int32_t>(t), c.prefix[k] ? 1 : 0);
        }
        wrong_before = wrong_before || !c.prefix[k];
      }
      // a malformed sample can tokenise differently in pieces (a step that starts with "\n" joins the
      // prompt's newlines): keep only its tag labels then
      if (l.dense.ids != l.seq.ids) l.dense = l.seq;
    }
    l.prefix = c.prefix;
    l.correct = c.correct;
    l.problem = static_cast<std::size_t>(s.problem - problems.data());
    steps_total += l.seq.labels.size();
    for (const auto& [p, y] : l.seq.labels) steps_good += y;
    right += c.correct;
    data.push_back(std::move(l));
  }
  fmt::print("prm data: {} solutions of {} problems sampled in {:.0f} s; {} steps, {:.0f}% good; outcome accuracy {:.1f}%\n", data.size(),
             problems.size(), sample_secs, steps_total, 100.0 * static_cast<double>(steps_good) / static_cast<double>(steps_total),
             100.0 * static_cast<double>(right) / static_cast<double>(data.size()));
  // 2. split by problem: every 10th problem is held out
  std::vector<const Labelled*> train, eval;
  for (const auto& l : data) (l.problem % 10 == 9 ? eval : train).push_back(&l);
  // 3. train from the policy's weights with a new score head
  PolicyArgs shape;
  const ModelConfig pc = load_model_config(a.policy);
  shape.hidden = pc.hidden_size;
  shape.layers = pc.num_hidden_layers;
  shape.heads = pc.num_attention_heads;
  shape.kv_heads = pc.num_key_value_heads;
  const ModelConfig cfg = arith_config(tok, shape, true);
  TrainOptions o;
  o.learning_rate = a.lr;
  o.total_steps = a.steps;
  Trainer trainer = Trainer::from_pretrained(a.policy, cfg, a.seed, o);
  t0 = Clock::now();
  std::vector<std::size_t> order(train.size());
  std::iota(order.begin(), order.end(), 0);
  std::size_t cursor = order.size();
  double ema = 0;
  std::int64_t tokens = 0;
  for (std::int64_t step = 0; step < a.steps; ++step) {
    std::vector<TrainSequence> batch;
    std::int64_t n = 0;
    while (n < a.batch_tokens) {
      if (cursor == order.size()) {  // a new epoch, reshuffled
        for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[static_cast<std::size_t>(rng.uniform_int(0, static_cast<std::int64_t>(i) - 1))]);
        cursor = 0;
      }
      const Labelled& l = *train[order[cursor++]];
      batch.push_back(a.dense_labels ? l.dense : l.seq);
      n += static_cast<std::int64_t>(batch.back().ids.size());
    }
    const double loss = trainer.step(batch);
    tokens += n;
    ema = step == 0 ? loss : 0.98 * ema + 0.02 * loss;
    if ((step + 1) % 250 == 0 || step + 1 == a.steps) {
      fmt::print("  step {:>5}  loss {:.4f}  {:.0f} s\n", step + 1, ema, seconds_since(t0));
      std::fflush(stdout);
    }
  }
  const double train_secs = seconds_since(t0);
  // 4. held-out evaluation: step AUROC (prefix labels), and within a problem how often a correct
  //    solution's last score beats an incorrect one's (pairwise accuracy)
  std::vector<std::pair<double, bool>> steps, last;
  std::map<std::size_t, std::vector<std::pair<double, bool>>> by_problem;
  for (std::size_t b = 0; b < eval.size(); b += 64) {
    std::vector<TrainSequence> batch;
    for (std::size_t i = b; i < std::min(eval.size(), b + 64); ++i) batch.push_back(eval[i]->seq);
    const auto probs = trainer.prm_probabilities(batch);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto& l = *eval[b + i];
      for (std::size_t k = 0; k < probs[i].size(); ++k) steps.emplace_back(probs[i][k], l.seq.labels[k].second == 1);
      last.emplace_back(probs[i].back(), l.correct);
      by_problem[l.problem].emplace_back(probs[i].back(), l.correct);
    }
  }
  double wins = 0, pairs = 0;
  for (const auto& [p, v] : by_problem) {
    for (const auto& x : v) {
      for (const auto& y : v) {
        if (x.second && !y.second) {
          wins += x.first > y.first ? 1.0 : x.first == y.first ? 0.5 : 0.0;
          ++pairs;
        }
      }
    }
  }
  const double step_auroc = auroc(steps), outcome_auroc = auroc(last), pairwise = pairs > 0 ? wins / pairs : std::nan("");
  fmt::print("prm: trained {:.0f} s; held-out ({} solutions): step AUROC {:.3f}, outcome AUROC (last step) {:.3f}, "
             "within-problem pairwise accuracy {:.3f} ({} pairs)\n",
             train_secs, eval.size(), step_auroc, outcome_auroc, pairwise, static_cast<std::int64_t>(pairs));
  trainer.save(a.out);
  copy_tokenizer(a.policy, a.out);
  return Json{{"solutions", data.size()}, {"problems", problems.size()}, {"samples_per_problem", a.samples}, {"temperature", a.temperature},
              {"sampling_seconds", sample_secs}, {"steps_labelled", steps_total}, {"good_step_fraction", static_cast<double>(steps_good) / static_cast<double>(steps_total)},
              {"train_steps", a.steps}, {"train_tokens", tokens}, {"train_seconds", train_secs}, {"final_loss_ema", ema},
              {"heldout_solutions", eval.size()}, {"step_auroc", step_auroc}, {"outcome_auroc", outcome_auroc},
              {"pairwise_accuracy", pairwise}, {"seed", a.seed}, {"learning_rate", a.lr}, {"dense_labels", a.dense_labels}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"arith_train: train the arithmetic domain's tokenizer, policy and PRM (Hugging Face folders)"};
  app.require_subcommand(1);
  TokenizerArgs ta;
  PolicyArgs pa;
  PrmArgs ra;
  std::string out_all, eval_policy;
  auto* all = app.add_subcommand("all", "tokenizer, policy, PRM and evaluation into OUT/{policy,prm}");
  all->add_option("--out", out_all, "output folder")->required();
  all->add_option("--seed", pa.seed, "seed of everything")->check(CLI::NonNegativeNumber);  // -1 would wrap
  all->add_option("--policy-steps", pa.steps, "policy optimiser steps");
  all->add_option("--prm-steps", ra.steps, "PRM optimiser steps");
  all->add_option("--prm-problems", ra.problems_per_level, "PRM training problems per level 2..7");
  all->add_option("--prm-samples", ra.samples, "sampled solutions per PRM training problem");
  all->add_option("--threads", pa.threads, "torch threads (1 is fastest for these sizes on 2 cores)");
  auto* tk = app.add_subcommand("tokenizer", "train the byte-level BPE tokenizer");
  tk->add_option("--out", ta.out)->required();
  tk->add_option("--seed", ta.seed)->check(CLI::NonNegativeNumber);
  auto* po = app.add_subcommand("policy", "train the policy");
  po->add_option("--tokenizer", pa.tokenizer, "folder with tokenizer.json")->required();
  po->add_option("--out", pa.out)->required();
  po->add_option("--seed", pa.seed)->check(CLI::NonNegativeNumber);
  po->add_option("--steps", pa.steps);
  po->add_option("--batch-tokens", pa.batch_tokens);
  po->add_option("--hidden", pa.hidden);
  po->add_option("--layers", pa.layers);
  po->add_option("--heads", pa.heads);
  po->add_option("--kv-heads", pa.kv_heads);
  po->add_option("--lr", pa.lr);
  po->add_option("--threads", pa.threads);
  auto* pr = app.add_subcommand("prm", "sample solutions from a policy, label them with the checker, train the PRM");
  pr->add_option("--policy", ra.policy)->required();
  pr->add_option("--out", ra.out)->required();
  pr->add_option("--seed", ra.seed)->check(CLI::NonNegativeNumber);
  pr->add_option("--problems", ra.problems_per_level);
  pr->add_option("--samples", ra.samples);
  pr->add_option("--temperature", ra.temperature);
  pr->add_option("--steps", ra.steps);
  pr->add_option("--batch-tokens", ra.batch_tokens);
  pr->add_option("--lr", ra.lr);
  pr->add_option("--threads", ra.threads);
  pr->add_flag("--dense-labels", ra.dense_labels, "also label every token of correct prefixes and after the first wrong step");
  auto* ev = app.add_subcommand("eval", "greedy accuracy per level on the test split");
  ev->add_option("--policy", eval_policy)->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help 0; bad usage 2, as in ttsearch (not CLI11's 105-109)
  }
  try {
    if (*tk) train_tokenizer(ta);
    if (*po) write_json(fs::path(pa.out) / "train_report.json", train_policy(pa));
    if (*pr) write_json(fs::path(ra.out) / "train_report.json", train_prm(ra));
    if (*ev) eval_greedy(eval_policy);
    if (*all) {
      const auto t0 = Clock::now();
      const fs::path root = out_all;
      ta.out = (root / "tokenizer").string();
      ta.seed = pa.seed;
      train_tokenizer(ta);
      pa.tokenizer = ta.out;
      pa.out = (root / "policy").string();
      Json policy = train_policy(pa);
      policy["greedy_accuracy"] = eval_greedy(pa.out);
      write_json(root / "policy" / "train_report.json", policy);
      ra.policy = pa.out;
      ra.out = (root / "prm").string();
      ra.seed = pa.seed;
      ra.threads = pa.threads;
      write_json(root / "prm" / "train_report.json", train_prm(ra));
      fs::remove_all(root / "tokenizer");
      fmt::print("all: {:.0f} s\n", seconds_since(t0));
    }
  } catch (const ttsearch::Error& e) {  // bad input: a clear line and exit code 2
    fmt::print(stderr, "arith_train: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "arith_train: {}\n", e.what());
    return 3;
  }
  return 0;
}
