#pragma once
// `ttsearch solve`: run any strategy over a domain's problems with solve_batch, print accuracy
// and the mean ledger, write the audit trace. Every option of every strategy is a flag
// (--beam-width, --num-simulations, ...; sampling fields too: --temperature, --max-tokens, ...);
// a flag the chosen strategy does not have is an error naming the strategy's options.
#include <algorithm>
#include <iostream>
#include <optional>
#include <map>
#include <set>

#include <CLI/CLI.hpp>
#include <ttsearch/strategies/registry.hpp>
#include <ttsearch/trace/jsonl.hpp>
#include <ttsearch/verifiers/confidence.hpp>
#ifdef TTSEARCH_CLI_HAVE_TORCH
#include <ttsearch/torch/runtime.hpp>
#endif

#include "jsonl_input.hpp"
#include "progress.hpp"
#include "simulated_domain.hpp"

namespace ttsearch::cli {

struct SolveArgs {
  std::string domain = "simulated";
  std::string strategy = "beam";
  std::string trace;
  std::int32_t problems = 100;
  std::uint64_t seed = 0;
  double prm_noise = 1.5;
  std::int64_t max_generated_tokens = 0;
  std::int64_t max_verifier_tokens = 0;
  std::int64_t max_calls = 0;
  double max_seconds = 0;
  std::string options_json;
  std::map<std::string, std::string> flags;  // option key -> value text, filled by CLI11
  // real models (--policy): a JSONL dataset instead of the simulated domain
  std::string policy, prm, data, predictions;
  std::string question_field = "problem", answer_field = "answer", id_field = "unique_id";
  std::int32_t limit = 0;
  std::string device = "cpu", dtype = "float32";
  std::string system_prompt;
  bool raw_prompt = false;
  std::string prompt_format;  // no chat template: "{question}" replaced (policy and PRM)
  std::string prm_convention = "qwen-prm";  // qwen-prm | token-pair | outcome | value-head
  std::string verifier;                       // "" = the PRM (--prm, or the simulated one) | confidence
  std::string confidence_signal = "mean-logprob";  // the ConfidenceVerifier's signal
};

/// The sampling fields a flag may set for any strategy (the confidence ones too).
inline std::vector<std::string> sampling_keys() {
  SamplingParams p;
  p.token_confidence = true;  // so its JSON lists the confidence fields
  const Json j = p;  // items() of a temporary would dangle
  std::vector<std::string> keys;
  for (const auto& [k, _] : j.items()) keys.push_back(k);
  return keys;
}

/// --verifier confidence: the ConfidenceVerifier (validated here, before any work).
inline std::optional<ConfidenceVerifier> solve_confidence_verifier(const SolveArgs& a) {
  TTSEARCH_REQUIRE(a.verifier.empty() || a.verifier == "confidence" || a.verifier == "prm",
                   "--verifier must be prm or confidence (got '{}')", a.verifier);
  if (a.verifier != "confidence") return std::nullopt;
  ConfidenceVerifierOptions o;
  o.signal = parse_confidence_signal(a.confidence_signal);
  return ConfidenceVerifier(o);
}

/// Every option key of every strategy, and the sampling fields.
inline std::vector<std::string> all_option_keys() {
  std::set<std::string> keys;
  for (const auto& [_, e] : strategy_registry()) {
    for (const auto& [k, v] : e.defaults.items()) {
      if (k == "sampling") {
        for (const auto& sk : sampling_keys()) keys.insert(sk);
      } else {
        keys.insert(k);
      }
    }
  }
  return {keys.begin(), keys.end()};
}

inline std::string flag_name(std::string key) {
  for (char& c : key) if (c == '_') c = '-';
  return "--" + key;
}

/// Registers one string flag per option key.
inline void add_option_flags(CLI::App* app, SolveArgs& a) {
  for (const auto& key : all_option_keys()) {
    app->add_option_function<std::string>(flag_name(key), [&a, key](const std::string& v) { a.flags[key] = v; },
                                           "strategy option (see `ttsearch strategies`)")
        ->group("Strategy options");
  }
}

/// A flag's text as JSON: a number, true/false, a JSON array/object, else a string.
inline Json flag_value(const std::string& text) {
  try {
    return Json::parse(text);
  } catch (const Json::exception&) {
    return Json(text);
  }
}

inline Json build_options(const StrategyEntry& e, const SolveArgs& a) {
  Json opt = e.defaults;
  if (!a.options_json.empty()) {
    Json j;
    try {
      j = Json::parse(a.options_json);
    } catch (const Json::exception& ex) {
      throw InvalidArgument(fmt::format("--options is not valid JSON: {}", ex.what()));
    }
    TTSEARCH_REQUIRE(j.is_object(), "--options must be a JSON object");
    for (const auto& [k, v] : j.items()) {
      if (k == "sampling" && v.is_object()) {
        for (const auto& [sk, sv] : v.items()) opt["sampling"][sk] = sv;
      } else {
        opt[k] = v;
      }
    }
  }
  for (const auto& [key, text] : a.flags) {
    if (opt.contains(key) && key != "sampling") {
      opt[key] = flag_value(text);
    } else if (opt.contains("sampling") && (opt["sampling"].contains(key) || std::ranges::count(sampling_keys(), key) > 0)) {
      Json v = flag_value(text);
      if (key == "stop" && v.is_string()) v = Json::array({v});
      opt["sampling"][key] = v;
    } else {
      std::vector<std::string> own;
      for (const auto& [k, _] : e.defaults.items()) own.push_back(flag_name(k));
      throw InvalidArgument(fmt::format("{} is not an option of strategy '{}' (its options: {})", flag_name(key), e.name,
                                        fmt::join(own, ", ")));
    }
  }
  // a confidence verifier reads per-token values: sample with token confidence
  if (a.verifier == "confidence") {
    TTSEARCH_REQUIRE(e.uses_verifier, "--verifier confidence: strategy '{}' uses no verifier", e.name);
    if (opt.contains("sampling") && needs_token_values(parse_confidence_signal(a.confidence_signal))) {
      const auto flag = a.flags.find("token_confidence");
      TTSEARCH_REQUIRE(flag == a.flags.end() || flag_value(flag->second) != Json(false),
                       "--verifier confidence with signal '{}' needs token_confidence = true (got --token-confidence false)", a.confidence_signal);
      opt["sampling"]["token_confidence"] = true;
    }
  }
  return opt;
}

/// The budget the flags describe (0 = no limit).
inline Budget solve_budget(const SolveArgs& a) {
  Budget budget;
  if (a.max_generated_tokens) budget.max_generated_tokens = a.max_generated_tokens;
  if (a.max_verifier_tokens) budget.max_verifier_tokens = a.max_verifier_tokens;
  if (a.max_calls) budget.max_calls = a.max_calls;
  if (a.max_seconds) budget.max_wall_time = std::chrono::duration<double>(a.max_seconds);
  return budget;
}

/// Runs the searches with a progress bar and, when `trace` is not empty, the JSONL audit writer.
template <Generator G, Verifier V>
std::vector<SearchResult> run_observed(const std::vector<SearchSpec>& specs, G& gen, V& ver, const std::string& trace) {
  std::unique_ptr<JsonlAuditWriter> writer;
  if (!trace.empty()) writer = std::make_unique<JsonlAuditWriter>(trace);
  struct ProgressObserver final : Observer {
    Progress bar;
    explicit ProgressObserver(std::size_t n) : bar("solve", n) {}
    void on_search_end(std::size_t, const SearchResult&) override { bar.tick(); }
  } progress(specs.size());
  ObserverList observers;
  observers.add(progress);
  if (writer) observers.add(*writer);
  return run_searches(std::span<const SearchSpec>(specs), gen, ver, observers);
}

/// Prints each failed search's error to stderr; returns how many failed.
inline std::size_t report_failures(const std::vector<SearchResult>& results) {
  std::size_t failed = 0;
  for (const auto& r : results) {
    if (!r.failed()) continue;
    ++failed;
    std::cerr << "error: " << r.error << '\n';
  }
  return failed;
}

/// Prints accuracy, the mean ledger and the stop reasons of a run.
inline void print_summary(const std::vector<SearchResult>& results, double correct) {
  const double n = static_cast<double>(results.size());
  ComputeLedger total;
  std::map<std::string, int> stops;
  for (const auto& r : results) {
    total += r.ledger;
    stops[std::string(to_string(r.stop_reason))]++;
  }
  std::cout << fmt::format("accuracy {:.1f}% ({} of {})\n", 100.0 * correct / n, std::lround(correct), results.size());
  std::cout << fmt::format(
      "per problem: generated tokens {:.0f}, verifier tokens {:.0f}, prompt tokens {:.0f} ({:.0f} cached), "
      "generator calls {:.1f}, verifier calls {:.1f}, nodes {:.0f}, wall {:.2f} s\n",
      static_cast<double>(total.generated_tokens) / n, static_cast<double>(total.verifier_tokens) / n,
      static_cast<double>(total.prompt_tokens) / n, static_cast<double>(total.cached_prompt_tokens) / n,
      static_cast<double>(total.generator_calls) / n, static_cast<double>(total.verifier_calls) / n,
      static_cast<double>(total.generated_steps) / n, total.total_seconds / n);
  for (const auto& [reason, count] : stops) std::cout << fmt::format("stop reason {}: {}\n", reason, count);
  if (stops.contains("failed")) {
    std::cout << fmt::format("{} of {} problems failed (errors above; counted as wrong; exit code 2)\n", stops["failed"], results.size());
  }
}

/// The problems of `--data FILE.jsonl` (at most --limit): one JSON object per line with the
/// question and answer fields; a malformed line is a ParseError naming FILE:LINE.
inline std::vector<Problem> read_problem_file(const SolveArgs& a) {
  TTSEARCH_REQUIRE(a.limit >= 0, "--limit must be >= 0 (got {})", a.limit);
  std::vector<Problem> problems;
  InputFile in(a.data);
  in.for_each(
      [&](const Json& j, std::size_t line) {
        if (a.limit && static_cast<std::int32_t>(problems.size()) >= a.limit) return;
        Problem p;
        p.question = string_field(in, j, line, a.question_field);
        p.reference = string_field(in, j, line, a.answer_field);
        p.id = j.contains(a.id_field) && j[a.id_field].is_string() ? j[a.id_field].get<std::string>() : fmt::format("line-{}", line);
        problems.push_back(std::move(p));
      },
      [](const ParseError& err) { throw err; });
  TTSEARCH_REQUIRE(!problems.empty(), "{}: no problems", in.name());
  return problems;
}

#ifdef TTSEARCH_CLI_HAVE_TORCH
/// `solve --policy DIR [--prm DIR] --data FILE.jsonl`: real models over a dataset.
inline int run_solve_models(const SolveArgs& a, const StrategyEntry& e, const Json& options) {
  TTSEARCH_REQUIRE(!a.data.empty(), "--policy needs --data FILE.jsonl (one problem per line)");
  auto confidence = solve_confidence_verifier(a);
  TTSEARCH_REQUIRE(!e.uses_verifier || !a.prm.empty() || confidence, "strategy '{}' needs a verifier: pass --prm DIR or --verifier confidence",
                   e.name);
  TTSEARCH_REQUIRE(!(confidence && !a.prm.empty()), "--verifier confidence and --prm DIR: choose one verifier");
  const std::vector<Problem> problems = read_problem_file(a);
  std::ofstream preds;  // opened before any work: a folder that does not exist fails now, not after the run
  if (!a.predictions.empty()) {
    preds.open(a.predictions);
    if (!preds) throw InvalidArgument(fmt::format("cannot write --predictions '{}'", a.predictions));
  }
  torch::GeneratorOptions gopt;
  gopt.load = {a.device, a.dtype};
  gopt.raw_prompt = a.raw_prompt;
  if (!a.prompt_format.empty()) gopt.prompt_format = a.prompt_format;
  if (!a.system_prompt.empty()) gopt.system_prompt = a.system_prompt;
  auto gen = torch::TorchGenerator::load(a.policy, gopt);
  const Budget budget = solve_budget(a);
  std::vector<SearchSpec> specs;
  for (std::size_t i = 0; i < problems.size(); ++i) specs.push_back(e.make(problems[i], options, budget, batch_seed(a.seed, i)));
  std::vector<SearchResult> results;
  if (confidence) {
    results = run_observed(specs, gen, *confidence, a.trace);
  } else if (a.prm.empty()) {
    NoVerifier none;
    results = run_observed(specs, gen, none, a.trace);
  } else {
    torch::PrmOptions popt;
    popt.load = {a.device, a.dtype};
    static const std::map<std::string, torch::RewardConvention> kConventions = {
        {"qwen-prm", torch::RewardConvention::kQwenPrm}, {"token-pair", torch::RewardConvention::kTokenPair},
        {"outcome", torch::RewardConvention::kOutcome}, {"value-head", torch::RewardConvention::kValueHead}};
    const auto conv = kConventions.find(a.prm_convention);
    TTSEARCH_REQUIRE(conv != kConventions.end(), "--prm-convention must be qwen-prm, token-pair, outcome or value-head (got '{}')",
                     a.prm_convention);
    popt.convention = conv->second;
    if (!a.prompt_format.empty()) popt.prompt_format = a.prompt_format;
    auto prm = torch::TorchPRM::load(a.prm, popt);
    results = run_observed(specs, gen, prm, a.trace);
  }
  double correct = 0;

  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    const auto g = answer::grade("\\boxed{" + r.answer + "}", *problems[i].reference);
    const bool ok = !r.answer.empty() && g.correct;
    correct += ok ? 1 : 0;
    if (preds) {
      Json line{{"id", problems[i].id}, {"answer", r.answer}, {"reference", *problems[i].reference}, {"correct", ok},
                {"text", r.text()}, {"stop_reason", to_string(r.stop_reason)}, {"ledger", r.ledger}};
      if (r.failed()) line["error"] = r.error;
      preds << line.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
    }
  }
  const std::size_t failed = report_failures(results);
  std::cout << fmt::format("strategy {} on {} problems from {} (policy {}, verifier {}, {} {})\n", e.name, results.size(), a.data,
                           a.policy, confidence ? "confidence:" + a.confidence_signal : a.prm.empty() ? "none" : a.prm, a.device, a.dtype);
  std::cout << fmt::format("options {}\n", options.dump());
  print_summary(results, correct);
  if (!a.trace.empty()) std::cout << fmt::format("trace written to {}\n", a.trace);
  if (preds) std::cout << fmt::format("predictions written to {}\n", a.predictions);
  return failed ? 2 : 0;
}
#endif

inline int run_solve(const SolveArgs& a) {
  const StrategyEntry& entry = find_strategy(a.strategy);
  if (!a.policy.empty()) {
#ifdef TTSEARCH_CLI_HAVE_TORCH
    return run_solve_models(a, entry, build_options(entry, a));
#else
    throw InvalidArgument("--policy needs a build with libtorch (ttsearch::torch)");
#endif
  }
  TTSEARCH_REQUIRE(a.domain == "simulated", "unknown domain '{}' (this build has: simulated; or pass --policy DIR)", a.domain);
  TTSEARCH_REQUIRE(a.problems >= 1, "--problems must be >= 1 (got {})", a.problems);
  const StrategyEntry& e = entry;
  const Json options = build_options(e, a);
  const Budget budget = solve_budget(a);

  const auto problems = simulated_problems(a.problems, a.seed);
  std::vector<SearchSpec> specs;
  for (std::size_t i = 0; i < problems.size(); ++i) specs.push_back(e.make(problems[i], options, budget, batch_seed(a.seed, i)));

  testing::SimulatedGenerator gen;
  auto prm = simulated_prm(a.prm_noise, a.seed);
  const auto confidence = solve_confidence_verifier(a);
  const auto results = confidence ? run_observed(specs, gen, *confidence, a.trace) : run_observed(specs, gen, prm, a.trace);

  const double correct = accuracy(results, problems) * static_cast<double>(results.size());
  const std::size_t failed = report_failures(results);
  std::cout << fmt::format("strategy {} on {} simulated problems (seed {}, {})\n", e.name, results.size(), a.seed,
                           confidence ? "verifier confidence:" + a.confidence_signal : fmt::format("PRM noise {}", a.prm_noise));
  std::cout << fmt::format("options {}\n", options.dump());
  print_summary(results, correct);
  if (!a.trace.empty()) std::cout << fmt::format("trace written to {}\n", a.trace);
  return failed ? 2 : 0;
}

inline int run_strategies() {
  for (const auto& [name, e] : strategy_registry()) {
    std::cout << fmt::format("{:<18} {}{}\n  defaults: {}\n", name, e.summary, e.uses_verifier ? "" : " (no verifier)",
                             e.defaults.dump());
  }
  return 0;
}

}  // namespace ttsearch::cli
