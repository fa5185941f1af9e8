#pragma once
// `ttsearch demo`: accuracy against compute for every strategy on the simulated domain.
// Each (strategy, n) cell runs every problem's search in lockstep (one generator call and one
// verifier call per round for all problems), prints accuracy and tokens per problem, writes a
// CSV and, at the largest n, one audit trace per strategy.
#include <chrono>
#include <filesystem>
#include <iostream>

#include <ttsearch/strategies/registry.hpp>
#include <ttsearch/trace/jsonl.hpp>

#include "demo_report.hpp"
#include "progress.hpp"
#include "simulated_domain.hpp"

namespace ttsearch::cli {

struct DemoArgs {
  std::int32_t problems = 200;
  std::int32_t max_n = 64;
  std::uint64_t seed = 0;
  double prm_noise = 1.5;
  std::string out_dir = "ttsearch-demo";
};

/// The options of `strategy` at size n ("samples-equivalent": n samples, n beams, width n, n simulations).
inline Json demo_options(const std::string& strategy, std::int32_t n) {
  if (strategy == "beam" || strategy == "dvts") return Json{{"n", n}, {"beam_width", std::min(n, 4)}};
  if (strategy == "rebase") return Json{{"width", n}};
  if (strategy == "mcts") return Json{{"num_simulations", n}, {"expansion_width", 2}};
  return Json{{"n", n}};
}

inline DemoRow demo_cell(const std::string& name, std::int32_t n, std::span<const Problem> problems, std::uint64_t seed,
                         double noise, Observer* trace, FailureTally& failures) {
  const StrategyEntry& e = find_strategy(name);
  testing::SimulatedGenerator gen;
  auto prm = simulated_prm(noise, seed);
  std::vector<SearchSpec> specs;
  for (std::size_t i = 0; i < problems.size(); ++i) specs.push_back(e.make(problems[i], demo_options(name, n), Budget{}, batch_seed(seed, i)));
  NullObserver none;
  const auto results = trace ? run_searches(std::span<const SearchSpec>(specs), gen, prm, *trace)
                             : run_searches(std::span<const SearchSpec>(specs), gen, prm, none);
  failures.add(results);
  return demo_row(name, n, results, problems);
}

inline int run_demo(const DemoArgs& a) {
  TTSEARCH_REQUIRE(a.problems >= 1, "--problems must be >= 1 (got {})", a.problems);
  TTSEARCH_REQUIRE(a.max_n >= 1 && a.max_n <= 4096, "--max-n must be in [1, 4096] (got {})", a.max_n);
  TTSEARCH_REQUIRE(!std::filesystem::exists(a.out_dir) || std::filesystem::is_directory(a.out_dir), "--out {} exists and is not a folder",
                   a.out_dir);
  const auto problems = simulated_problems(a.problems, a.seed);
  std::filesystem::create_directories(a.out_dir);

  std::vector<std::int32_t> ns;
  for (std::int32_t n = 1; n <= a.max_n; n *= 2) ns.push_back(n);
  const std::vector<std::string> strategies = {"best-of-n", "majority", "weighted-majority", "best-of-majority",
                                               "beam", "dvts", "rebase", "mcts"};
  std::vector<DemoRow> rows;
  FailureTally failures;
  Progress progress("demo (simulated domain)", strategies.size() * ns.size());
  for (const auto& name : strategies) {
    for (std::int32_t n : ns) {
      std::unique_ptr<JsonlAuditWriter> trace;
      if (n == ns.back()) trace = std::make_unique<JsonlAuditWriter>((std::filesystem::path(a.out_dir) / (name + ".trace.jsonl")).string());
      const auto t0 = std::chrono::steady_clock::now();
      rows.push_back(demo_cell(name, n, problems, a.seed, a.prm_noise, trace.get(), failures));
      rows.back().wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      progress.tick();
    }
  }
  std::cout << fmt::format("\nSimulated domain: {} problems (4-8 steps, step accuracy 0.55-0.95), PRM logit noise {}, seed {}\n",
                           a.problems, a.prm_noise, a.seed);
  write_demo_report(rows, a.out_dir, "Simulated domain: accuracy vs generated tokens", ns.back());
  return failures.report();
}

}  // namespace ttsearch::cli
