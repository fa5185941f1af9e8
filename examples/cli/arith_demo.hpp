#pragma once
// `ttsearch demo` on the arithmetic domain: the shipped policy and PRM (examples/arith/, trained
// by arith_train) searched with every strategy at 1..max_n samples-equivalent on the test split.
// Prints accuracy against generated and verifier tokens, writes a CSV, an SVG plot and, at the
// largest n, one audit trace per strategy.
//
// Sample-based strategies at several n draw the same samples (a request's sample i depends only on
// its seed and i), so a memoising generator serves the smaller n from the largest n's samples; the
// ledgers still charge every token as generated, so the compute columns are what a fresh run costs.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>

#include <ttsearch/domains/arith.hpp>
#include <ttsearch/strategies/registry.hpp>
#include <ttsearch/torch/device.hpp>
#include <ttsearch/torch/runtime.hpp>
#include <ttsearch/trace/jsonl.hpp>
#include <ttsearch/verifiers/confidence.hpp>

#include "../arith/arith_models.hpp"
#include "demo_report.hpp"
#include "progress.hpp"

namespace ttsearch::cli {

struct ArithDemoArgs {
  std::string models;                       // folder with policy/ and prm/
  std::vector<std::int32_t> levels = {6, 7};
  std::int32_t per_level = 50;              // test problems per level (the test split has 50)
  std::int32_t max_n = 64;
  double temperature = 1.0;
  std::string verifier = "prm";             // prm | checker: the verifier of the PRM-guided strategies
  // NAME+confidence: the strategy guided by ConfidenceVerifier (the policy's own log-probs) instead
  std::vector<std::string> strategies = {"best-of-n", "majority", "weighted-majority", "best-of-majority", "beam", "dvts", "rebase", "mcts",
                                         "best-of-n+confidence", "beam+confidence", "deepconf", "adaptive-consistency", "esc",
                                         "deepconf-online"};
  std::string confidence_signal = "mean-logprob";  // the ConfidenceVerifier's signal
  std::vector<std::int32_t> level_table = {2, 3, 4, 5, 6, 7};  // levels of the per-level table (adaptive strategies); empty = none
  std::uint64_t seed = 0;
  std::string out_dir = "ttsearch-demo";
  int threads = 1;                          // CPU threads (libtorch + OpenBLAS); 0 = their defaults
};

/// The adaptive strategies: one point each at the tokens they actually spent, and the per-level table.
inline bool is_adaptive(const std::string& name) {
  return name == "adaptive-consistency" || name == "esc" || name == "deepconf-online";
}

/// "beam+confidence" -> {"beam", true}.
inline std::pair<std::string, bool> demo_strategy(const std::string& name) {
  constexpr std::string_view kSuffix = "+confidence";
  if (name.size() > kSuffix.size() && name.ends_with(kSuffix)) return {name.substr(0, name.size() - kSuffix.size()), true};
  return {name, false};
}

/// Memoises whole generations by (problem, prefix, sampling, seed): a request for k samples is
/// served from an earlier request for >= k samples (sample i depends only on the seed and i).
template <Generator G>
class MemoGenerator {
 public:
  explicit MemoGenerator(G& inner) : inner_(inner) {}
  Generation generate(std::span<const GenerateRequest> requests) {
    Generation out;
    out.outputs.resize(requests.size());
    out.usage.resize(requests.size());
    std::vector<GenerateRequest> missing;
    std::vector<std::size_t> where;
    std::vector<std::string> keys;
    for (std::size_t r = 0; r < requests.size(); ++r) {
      keys.push_back(key(requests[r]));
      const auto it = memo_.find(keys.back());
      if (it != memo_.end() && it->second.steps.size() >= static_cast<std::size_t>(requests[r].num_samples)) continue;
      missing.push_back(requests[r]);
      where.push_back(r);
    }
    if (!missing.empty()) {
      Generation g = inner_.generate(missing);
      for (std::size_t k = 0; k < missing.size(); ++k) {
        Entry e{std::move(g.outputs[k]), g.usage.empty() ? RequestUsage{} : g.usage[k]};
        memo_[keys[where[k]]] = std::move(e);
      }
    }
    for (std::size_t r = 0; r < requests.size(); ++r) {
      const Entry& e = memo_.at(keys[r]);
      const auto n = static_cast<std::size_t>(requests[r].num_samples);
      out.outputs[r].assign(e.steps.begin(), e.steps.begin() + static_cast<std::ptrdiff_t>(n));
      const auto per = e.steps.empty() ? 0 : e.usage.prompt_tokens / static_cast<std::int64_t>(e.steps.size());
      out.usage[r] = {per * static_cast<std::int64_t>(n), std::min(e.usage.cached_prompt_tokens, per * static_cast<std::int64_t>(n))};
    }
    return out;
  }

 private:
  struct Entry {
    std::vector<Step> steps;
    RequestUsage usage;
  };
  static std::string key(const GenerateRequest& r) {
    return fmt::format("{}\x1f{}\x1f{}\x1f{}\x1f{}", r.problem->id, r.problem->question, r.prefix.text(), Json(r.params).dump(), r.seed);
  }
  G& inner_;
  std::map<std::string, Entry> memo_;
};

/// Memoises whole verifier calls, for strategies that score each cell's samples in one call
/// (best-of-n, weighted majority and Best-of-Majority at the same n score the same paths in the
/// same order): a call equal to an earlier one (the same problems and path texts, in order) gets
/// that call's scores and token counts, which is what the fresh call costs; any other call goes to
/// the verifier. (Per path it would be wrong: a path's token count depends on its whole call.)
template <Verifier V>
class MemoVerifier {
 public:
  explicit MemoVerifier(V& inner) : inner_(inner) {}
  Scoring score(std::span<const ScoreRequest> requests) {
    std::string key;
    for (const auto& r : requests) key += fmt::format("{}\x1f{}\x1f{}\x1e", r.problem->id, r.problem->question, r.path.text());
    const auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    Scoring out = inner_.score(requests);
    memo_.emplace(std::move(key), out);
    return out;
  }

 private:
  V& inner_;
  std::map<std::string, Scoring> memo_;
};

/// The strategies whose verifier calls MemoVerifier may serve (one scoring of the cell's samples).
inline bool scores_samples_once(const std::string& name) {
  return name == "best-of-n" || name == "weighted-majority" || name == "best-of-majority";
}

/// The options of `strategy` at size n for the arithmetic models. Whole-solution sampling records
/// token confidence for every strategy (the same samples then serve the votes, DeepConf and the
/// adaptive rules' first rounds); step sampling only where a confidence verifier reads it.
inline Json arith_demo_options(const std::string& strategy, std::int32_t n, double temperature, bool confidence = false) {
  const Json whole = {{"temperature", temperature}, {"top_p", 1.0}, {"max_tokens", arith_models::kMaxSolutionTokens}, {"token_confidence", true}};
  // at most 10 steps of 48 tokens (a level-7 solution has 8): paths stay inside the 512-token context
  Json step = {{"temperature", temperature}, {"max_tokens", 48}, {"stop", {"\n\n"}}};
  if (confidence) step["token_confidence"] = true;
  // DeepConf's group is 2048 tokens of 10k-token traces; these solutions have ~100 tokens: 32
  constexpr std::int64_t kWindow = 32;
  if (strategy == "beam" || strategy == "dvts") return Json{{"n", n}, {"beam_width", std::min(n, 4)}, {"num_iterations", 10}, {"sampling", step}};
  if (strategy == "rebase") return Json{{"width", n}, {"max_depth", 10}, {"sampling", step}};
  if (strategy == "mcts") return Json{{"num_simulations", n}, {"expansion_width", 2}, {"max_depth", 10}, {"sampling", step}};
  if (strategy == "deepconf") return Json{{"n", n}, {"window", kWindow}, {"sampling", whole}};
  if (strategy == "adaptive-consistency") return Json{{"max_samples", n}, {"sampling", whole}};
  if (strategy == "esc") return Json{{"window", std::min(n, 5)}, {"max_samples", n}, {"sampling", whole}};
  if (strategy == "deepconf-online") {
    // the warm-up is a quarter of the budget up to DeepConf's 16, so every n has an online phase
    return Json{{"warmup", std::min(16, std::max(1, n / 4))}, {"max_samples", n}, {"window", kWindow}, {"sampling", whole}};
  }
  return Json{{"n", n}, {"sampling", whole}};
}

inline int run_arith_demo(const ArithDemoArgs& a) {
  namespace fs = std::filesystem;
  TTSEARCH_REQUIRE(a.per_level >= 1 && a.per_level <= arith_models::kTestPerLevel, "--per-level must be in [1, {}] (got {})",
                   arith_models::kTestPerLevel, a.per_level);
  TTSEARCH_REQUIRE(a.max_n >= 1 && a.max_n <= 4096, "--max-n must be in [1, 4096] (got {})", a.max_n);
  TTSEARCH_REQUIRE(a.verifier == "prm" || a.verifier == "checker", "--verifier must be prm or checker (got '{}')", a.verifier);
  TTSEARCH_REQUIRE(!fs::exists(a.out_dir) || fs::is_directory(a.out_dir), "--out {} exists and is not a folder", a.out_dir);
  for (auto l : a.levels) TTSEARCH_REQUIRE(l >= 2 && l <= 7, "--levels must be in 2..7 (the test split's levels; got {})", l);
  for (auto l : a.level_table) TTSEARCH_REQUIRE(l >= 2 && l <= 7, "--level-table must be in 2..7 (got {})", l);
  for (const auto& s : a.strategies) {  // unknown names fail before any work
    const auto [base, guided] = demo_strategy(s);
    const StrategyEntry& e = find_strategy(base);
    TTSEARCH_REQUIRE(!guided || e.uses_verifier, "--strategies {}: {} uses no verifier, so nothing would be guided by confidence", s, base);
  }
  ConfidenceVerifierOptions copt;
  copt.signal = parse_confidence_signal(a.confidence_signal);
  ConfidenceVerifier confidence(copt);
  if (a.threads > 0) torch::set_num_threads(a.threads);
  const fs::path policy_dir = fs::path(a.models) / "policy", prm_dir = fs::path(a.models) / "prm";
  torch::GeneratorOptions gopt;
  gopt.prompt_format = arith_models::prompt_format();
  gopt.prefix_cache_tokens = 1 << 20;
  auto policy = torch::TorchGenerator::load(policy_dir.string(), gopt);
  MemoGenerator<torch::TorchGenerator> gen(policy);
  std::optional<torch::TorchPRM> prm;
  if (a.verifier == "prm") {
    torch::PrmOptions popt;
    popt.prompt_format = arith_models::prompt_format();
    popt.prefix_cache_tokens = 1 << 20;
    prm.emplace(torch::TorchPRM::load(prm_dir.string(), popt));
  }
  arith::StepChecker checker;
  std::optional<MemoVerifier<torch::TorchPRM>> memo_prm;
  if (prm) memo_prm.emplace(*prm);
  auto make_problems = [](const std::vector<arith::ArithProblem>& split) {
    std::vector<Problem> out;
    for (std::size_t i = 0; i < split.size(); ++i) out.push_back(arith::to_problem(split[i], fmt::format("L{}-{}", split[i].level, i)));
    return out;
  };
  const auto problems = make_problems(arith_models::test_split(a.per_level, a.levels));
  fs::create_directories(a.out_dir);

  std::vector<std::int32_t> ns;
  for (std::int32_t n = 1; n <= a.max_n; n *= 4) ns.push_back(n);
  if (ns.back() != a.max_n) ns.push_back(a.max_n);
  std::vector<std::int32_t> other_levels;  // per-level table levels not in the main run
  std::size_t adaptive = 0;
  for (const auto& s : a.strategies) adaptive += is_adaptive(s);
  for (auto l : a.level_table) {
    if (std::find(a.levels.begin(), a.levels.end(), l) == a.levels.end()) other_levels.push_back(l);
  }
  Progress progress(fmt::format("demo ({} problems)", problems.size()), a.strategies.size() * ns.size() + 1 + (adaptive && !other_levels.empty()));
  // greedy decoding: the baseline every strategy should beat
  double greedy = 0;
  {
    const auto g = policy.generate(arith_models::greedy_requests(problems));
    for (std::size_t i = 0; i < problems.size(); ++i) greedy += arith::check_solution(problems[i].question, g.outputs[i][0].text).correct;
    greedy /= static_cast<double>(problems.size());
    progress.tick();
  }
  FailureTally failures;
  // one cell: the strategy at size n on `probs`, with a trace when `trace_path` is set
  auto run_cell = [&](const std::string& name, std::int32_t n, std::span<const Problem> probs, const std::string& trace_path) {
    const auto [base, guided] = demo_strategy(name);
    const StrategyEntry& e = find_strategy(base);
    std::vector<SearchSpec> specs;
    for (std::size_t i = 0; i < probs.size(); ++i) {
      specs.push_back(e.make(probs[i], arith_demo_options(base, n, a.temperature, guided), Budget{}, batch_seed(a.seed, i)));
    }
    if (prm) prm->clear_cache();  // verifier tokens as a fresh run pays them (the cache works within the cell)
    std::unique_ptr<JsonlAuditWriter> trace;
    if (!trace_path.empty()) trace = std::make_unique<JsonlAuditWriter>(trace_path);
    NullObserver none;
    const std::span<const SearchSpec> sp(specs);
    auto run_with = [&](auto& verifier) {
      auto results = trace ? run_searches(sp, gen, verifier, *trace) : run_searches(sp, gen, verifier, none);
      failures.add(results);
      return results;
    };
    if (guided) return run_with(confidence);
    if (prm && scores_samples_once(base)) return run_with(*memo_prm);
    if (prm) return run_with(*prm);
    return run_with(checker);
  };
  std::vector<DemoRow> rows;
  std::map<std::string, std::vector<SearchResult>> at_max_n;  // adaptive strategies' results at the largest n
  for (const auto& name : a.strategies) {
    for (auto it = ns.rbegin(); it != ns.rend(); ++it) {  // largest n first: smaller n reuse its samples
      const std::int32_t n = *it;
      const auto t0 = std::chrono::steady_clock::now();
      auto results = run_cell(name, n, problems, n == a.max_n ? (fs::path(a.out_dir) / (name + ".trace.jsonl")).string() : std::string{});
      rows.push_back(demo_row(name, n, results, problems));
      rows.back().wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (n == a.max_n && is_adaptive(name)) at_max_n[name] = std::move(results);
      progress.tick();
    }
  }
  // tokens per problem by level: the adaptive strategies at the largest n, on every level of the table
  std::vector<DemoLevelRow> level_rows;
  if (adaptive && !a.level_table.empty()) {
    const auto extra = make_problems(other_levels.empty() ? std::vector<arith::ArithProblem>{} : arith_models::test_split(a.per_level, other_levels));
    for (const auto& name : a.strategies) {
      if (!is_adaptive(name)) continue;
      std::vector<SearchResult> extra_results;
      if (!extra.empty()) extra_results = run_cell(name, a.max_n, extra, {});
      for (auto level : a.level_table) {
        const bool main = std::find(a.levels.begin(), a.levels.end(), level) != a.levels.end();
        const auto& probs = main ? problems : extra;
        const auto& res = main ? at_max_n[name] : extra_results;
        std::vector<SearchResult> sel;
        std::vector<Problem> sel_problems;
        for (std::size_t i = 0; i < probs.size(); ++i) {
          if (probs[i].id.starts_with(fmt::format("L{}-", level))) {
            sel.push_back(res[i]);
            sel_problems.push_back(probs[i]);
          }
        }
        const DemoRow r = demo_row(name, a.max_n, sel, sel_problems);
        level_rows.push_back({name, a.max_n, level, r.accuracy, r.generated_tokens});
      }
    }
    if (!other_levels.empty()) progress.tick();
  }
  std::stable_sort(rows.begin(), rows.end(), [&](const DemoRow& x, const DemoRow& y) {
    const auto ix = std::find(a.strategies.begin(), a.strategies.end(), x.strategy) - a.strategies.begin();
    const auto iy = std::find(a.strategies.begin(), a.strategies.end(), y.strategy) - a.strategies.begin();
    return ix != iy ? ix < iy : x.n < y.n;
  });
  std::string levels;
  for (auto l : a.levels) levels += (levels.empty() ? "" : ",") + std::to_string(l);
  std::cout << fmt::format("\nArithmetic domain: {} test problems (levels {}, {} each), policy {}, verifier {}, confidence signal {}, T = {}, seed {}\n",
                           problems.size(), levels, a.per_level, policy_dir.string(),
                           a.verifier == "prm" ? prm_dir.string() : "the exact step checker", a.confidence_signal, a.temperature, a.seed);
  std::cout << fmt::format("BLAS: {}; CPU GEMM for layers >= 2^18 weights: {}\n", torch::blas_info(), torch::cpu_gemm());  // the PRM-guided figures can depend on its kernel (README)
  std::cout << fmt::format("greedy decoding: {:.1f}%\n", 100 * greedy);
  write_demo_report(rows, a.out_dir, fmt::format("Arithmetic L{}: accuracy vs generated tokens ({} verifier)", levels, a.verifier), a.max_n,
                    {{"greedy", greedy}});
  if (!level_rows.empty()) write_level_report(level_rows, a.out_dir);
  return failures.report();
}

}  // namespace ttsearch::cli
