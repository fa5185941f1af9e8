// ttsearch: the command-line front end. Subcommands: grade, vote, solve, strategies, demo, replay.
#include <malloc.h>

#include <iostream>

#include <CLI/CLI.hpp>
#include <ttsearch/version.hpp>

#include "cli/demo.hpp"
#include "cli/grade.hpp"
#include "cli/replay.hpp"
#include "cli/solve.hpp"
#include "cli/vote.hpp"
#ifdef TTSEARCH_CLI_HAVE_TORCH
#include "cli/arith_demo.hpp"
#include "cli/tokenize.hpp"
#endif

int main(int argc, char** argv) {
  using namespace ttsearch::cli;
  // Decode loops allocate and free the same large tensors every step; glibc would hand blocks over
  // its mmap threshold back to the OS each time, so every step page-faults fresh memory. Keep them.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  CLI::App app{"ttsearch " TTSEARCH_VERSION_STRING ": test-time search over LLM reasoning"};
  app.require_subcommand(1);
  app.set_version_flag("--version", TTSEARCH_VERSION_STRING);

  GradeArgs grade;
  auto* g = app.add_subcommand("grade", "Grade JSONL responses against references (adds extracted, normalized, rule, correct)");
  g->add_option("-i,--input", grade.input, "JSONL input ('-' = stdin)")->capture_default_str();
  g->add_option("-o,--output", grade.output, "JSONL output ('-' = stdout)")->capture_default_str();
  g->add_option("--response-field", grade.response_field, "field holding the response")->capture_default_str();
  g->add_option("--reference-field", grade.reference_field, "field holding the reference answer")->capture_default_str();
  g->add_flag("--keep-going", grade.keep_going, "report malformed lines and go on (exit code 2 at the end)");
  g->add_flag("--explain", grade.explain,
              "also write the reference's normalised answer, both parsed forms and the equivalence rule that decided");

  VoteArgs vote;
  auto* v = app.add_subcommand("vote", "Offline voting: accuracy of best-of-N / majority / weighted / BoM at n = 1, 2, 4, ...");
  v->add_option("-i,--input", vote.input, "JSONL input, one problem per line ('-' = stdin)")->capture_default_str();
  v->add_option("--responses-field", vote.responses_field, "field: array of response strings")->capture_default_str();
  v->add_option("--scores-field", vote.scores_field, "field: per response, a score or an array of step scores")->capture_default_str();
  v->add_option("--reference-field", vote.reference_field, "field: the reference answer")->capture_default_str();
  v->add_option("--aggregation", vote.aggregation, "step-score aggregation: last, min, prod, mean")->capture_default_str();
  v->add_option("--weight", vote.weight, "weighted-majority group weight: sum, mean, max")->capture_default_str();
  v->add_option("--bom-reward", vote.bom_reward, "Best-of-Majority group reward: max, mean, sum")->capture_default_str();
  v->add_option("--alpha", vote.alpha, "Best-of-Majority frequency threshold")->capture_default_str();
  v->add_option("--max-n", vote.max_n, "largest n (0 = smallest response count)")->capture_default_str();
  v->add_option("--logprobs-field", vote.logprobs_field, "field: per response, token log-probs (OpenAI/vLLM completions or chat layout, or token_confidences)")->capture_default_str();
  v->add_option("--window", vote.window, "DeepConf group size in tokens")->capture_default_str();
  v->add_option("--keep-fraction", vote.keep_fraction, "DeepConf filter: the most confident fraction kept")->capture_default_str();
  v->add_flag("--json", vote.json, "print JSON instead of a table");
  v->add_flag("--keep-going", vote.keep_going, "skip malformed lines (exit code 2 at the end)");

  SolveArgs solve;
  auto* so = app.add_subcommand("solve", "Run a strategy over a domain's problems: accuracy, ledger, audit trace");
  so->add_option("--domain", solve.domain, "problem domain (simulated)")->capture_default_str();
  so->add_option("--strategy", solve.strategy, "strategy name (see `ttsearch strategies`)")->capture_default_str();
  so->add_option("--trace", solve.trace, "write the JSONL audit trace here");
  so->add_option("--problems", solve.problems, "number of problems")->capture_default_str();
  so->add_option("--seed", solve.seed, "seed")->capture_default_str()->check(CLI::NonNegativeNumber);  // -1 would wrap
  so->add_option("--prm-noise", solve.prm_noise, "simulated PRM logit noise")->capture_default_str();
  so->add_option("--max-generated-tokens", solve.max_generated_tokens, "budget per problem (0 = none)")->group("Budget");
  so->add_option("--max-verifier-tokens", solve.max_verifier_tokens, "budget per problem (0 = none)")->group("Budget");
  so->add_option("--max-calls", solve.max_calls, "backend calls per problem (0 = none)")->group("Budget");
  so->add_option("--max-seconds", solve.max_seconds, "deadline per problem (0 = none)")->group("Budget");
  so->add_option("--options", solve.options_json, "strategy options as a JSON object (flags override it)");
  so->add_option("--verifier", solve.verifier, "prm (default: --prm DIR, or the simulated PRM) or confidence (the policy's own token confidence, no model)");
  so->add_option("--confidence-signal", solve.confidence_signal, "--verifier confidence: mean-logprob, min-logprob, sum-logprob, mean, lowest-group, bottom-10 or tail")->capture_default_str();
  add_option_flags(so, solve);
  so->add_option("--policy", solve.policy, "a Hugging Face causal-LM folder: solve --data with it")->group("Models");
  so->add_option("--prm", solve.prm, "a reward-model folder (the verifier), read with --prm-convention")->group("Models");
  so->add_option("--prm-convention", solve.prm_convention,
                 "qwen-prm (Qwen2.5-Math-PRM), token-pair (Math-Shepherd '+'/'-'), outcome (an ORM) or value-head (Skywork-o1-Open-PRM)")
      ->capture_default_str()
      ->group("Models");
  so->add_option("--data", solve.data, "JSONL dataset, one problem per line (e.g. ../shared/data/math500.jsonl)")->group("Models");
  so->add_option("--question-field", solve.question_field, "field holding the question")->capture_default_str()->group("Models");
  so->add_option("--answer-field", solve.answer_field, "field holding the reference answer")->capture_default_str()->group("Models");
  so->add_option("--id-field", solve.id_field, "field holding the problem id")->capture_default_str()->group("Models");
  so->add_option("--limit", solve.limit, "first N problems only (0 = all)")->group("Models");
  so->add_option("--device", solve.device, "cpu, cuda or cuda:N")->capture_default_str()->group("Models");
  so->add_option("--dtype", solve.dtype, "float32, bfloat16 or float16")->capture_default_str()->group("Models");
  so->add_option("--system-prompt", solve.system_prompt, "system message for the policy's chat template")->group("Models");
  so->add_flag("--raw-prompt", solve.raw_prompt, "no chat template: the prompt is the question")->group("Models");
  so->add_option("--prompt-format", solve.prompt_format,
                 "no chat template: this text with {question} replaced, for the policy and the PRM (the arithmetic models: '{question}\\n\\n')")
      ->group("Models");
  so->add_option("--predictions", solve.predictions, "write one JSON line per problem here")->group("Models");
  auto* st = app.add_subcommand("strategies", "List the strategies with their default options");

  DemoArgs demo;
#ifdef TTSEARCH_CLI_HAVE_TORCH
  std::string demo_domain = "arith";
  ArithDemoArgs arith_demo;
  arith_demo.models = ttsearch::arith_models::default_models_dir();
#else
  std::string demo_domain = "simulated";
#endif
  auto* d = app.add_subcommand("demo", "Accuracy vs compute of every strategy: the shipped arithmetic models (or the simulated domain)");
  d->add_option("--domain", demo_domain, "arith (the shipped policy and PRM; torch builds) or simulated")->capture_default_str();
  d->add_option("--max-n", demo.max_n, "largest number of samples-equivalent (n = 1, 2, 4, ... simulated; 1, 4, 16, ... arith)")->capture_default_str();
  d->add_option("--seed", demo.seed, "seed")->capture_default_str()->check(CLI::NonNegativeNumber);
  d->add_option("--out", demo.out_dir, "output folder (CSV, plot, audit traces)")->capture_default_str();
  d->add_option("--problems", demo.problems, "number of simulated problems")->capture_default_str()->group("Simulated domain");
  d->add_option("--prm-noise", demo.prm_noise, "logit noise of the simulated PRM")->capture_default_str()->group("Simulated domain");
#ifdef TTSEARCH_CLI_HAVE_TORCH
  d->add_option("--models", arith_demo.models, "folder with the policy/ and prm/ model folders")->capture_default_str()->group("Arithmetic domain");
  d->add_option("--levels", arith_demo.levels, "test levels (operations per problem, 2..7)")->capture_default_str()->group("Arithmetic domain");
  d->add_option("--per-level", arith_demo.per_level, "test problems per level")->capture_default_str()->group("Arithmetic domain");
  d->add_option("--temperature", arith_demo.temperature, "sampling temperature")->capture_default_str()->group("Arithmetic domain");
  d->add_option("--verifier", arith_demo.verifier, "prm (the shipped PRM) or checker (the exact step checker)")->capture_default_str()->group("Arithmetic domain");
  d->add_option("--strategies", arith_demo.strategies, "strategies to run (NAME+confidence: guided by the policy's own confidence)")->capture_default_str()->group("Arithmetic domain");
  d->add_option("--confidence-signal", arith_demo.confidence_signal, "signal of the +confidence strategies' ConfidenceVerifier")->capture_default_str()->group("Arithmetic domain");
  d->add_option("--level-table", arith_demo.level_table, "levels of the adaptive strategies' per-level table")->capture_default_str()->group("Arithmetic domain");
  d->add_flag_callback("--no-level-table", [&arith_demo] { arith_demo.level_table.clear(); }, "skip the per-level table")->group("Arithmetic domain");
  d->add_option("--threads", arith_demo.threads, "CPU threads of libtorch and OpenBLAS (0 = their defaults; 1 is fastest for these tiny models)")->capture_default_str()->group("Arithmetic domain");
#endif

  ReplayArgs replay;
  auto* r = app.add_subcommand("replay", "Recompute each search's final choice from an audit trace and compare");
  r->add_option("--trace", replay.trace, "audit trace (JSONL)")->required();
  r->add_flag("-v,--verbose", replay.verbose, "print every search, not only mismatches");

#ifdef TTSEARCH_CLI_HAVE_TORCH
  TokenizeArgs tokenize;
  auto* tk = app.add_subcommand("tokenize", "Encode JSONL {\"text\"} lines with a tokenizer.json (adds \"ids\"), or --decode");
  tk->add_option("--tokenizer", tokenize.tokenizer, "tokenizer.json")->required();
  tk->add_option("-i,--input", tokenize.input, "JSONL input ('-' = stdin)")->capture_default_str();
  tk->add_option("-o,--output", tokenize.output, "JSONL output ('-' = stdout)")->capture_default_str();
  tk->add_option("--text-field", tokenize.text_field, "field holding the text")->capture_default_str();
  tk->add_option("--ids-field", tokenize.ids_field, "field holding the ids")->capture_default_str();
  tk->add_flag("--decode", tokenize.decode, "decode ids into text instead");
  tk->add_flag("--add-special-tokens", tokenize.add_special_tokens, "add the post-processor's BOS/EOS");
  tk->add_flag("--skip-special-tokens", tokenize.skip_special_tokens, "drop special tokens when decoding");
  tk->add_flag("--keep-going", tokenize.keep_going, "skip malformed lines (exit code 2 at the end)");
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; bad usage (unknown flag, a value that does not convert, a missing required
    // option) exits 2 like every other bad input, not CLI11's 104-109
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (*g) return run_grade(grade);
    if (*v) return run_vote(vote);
    if (*so) return run_solve(solve);
    if (*st) return run_strategies();
    if (*d) {
#ifdef TTSEARCH_CLI_HAVE_TORCH
      if (demo_domain == "arith") {
        arith_demo.max_n = demo.max_n;
        arith_demo.seed = demo.seed;
        arith_demo.out_dir = demo.out_dir;
        return run_arith_demo(arith_demo);
      }
#endif
      TTSEARCH_REQUIRE(demo_domain == "simulated", "--domain must be arith (torch builds only) or simulated (got '{}')", demo_domain);
      return run_demo(demo);
    }
    if (*r) return run_replay(replay);
#ifdef TTSEARCH_CLI_HAVE_TORCH
    if (*tk) return run_tokenize(tokenize);
#endif
  } catch (const ttsearch::Error& e) {
    std::cerr << "ttsearch: error: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "ttsearch: unexpected error: " << e.what() << '\n';
    return 3;
  }
  return 0;
}
