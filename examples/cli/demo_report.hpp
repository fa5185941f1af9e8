#pragma once
// What both demos (simulated and arithmetic) report: one row per (strategy, n) cell, printed as a
// table, written as demo.csv and plotted as demo.svg.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <ttsearch/core/result.hpp>

#include "plot.hpp"
#include "simulated_domain.hpp"

namespace ttsearch::cli {

struct DemoRow {
  std::string strategy;
  std::int32_t n;
  double accuracy, generated_tokens, verifier_tokens;  // tokens: mean per problem
  double wall_seconds = 0;  // the cell's wall time in this run
};

/// Searches that failed across a demo's cells: a demo figure with a failed search in it is
/// reported, and the demo exits 2 after writing what it computed.
struct FailureTally {
  std::size_t count = 0;
  std::string first;
  void add(std::span<const SearchResult> results) {
    for (const auto& r : results) {
      if (!r.failed()) continue;
      if (count++ == 0) first = r.strategy + ": " + r.error;
    }
  }
  /// 0, or 2 after printing how many failed and the first error.
  [[nodiscard]] int report() const {
    if (count == 0) return 0;
    std::cerr << "error: " << count << " searches failed (counted as wrong in the figures above); the first: " << first << '\n';
    return 2;
  }
};

/// One (strategy, level) row of the per-level table.
struct DemoLevelRow {
  std::string strategy;
  std::int32_t n, level;
  double accuracy, generated_tokens;  // tokens: mean per problem
};

/// The row of one cell: accuracy against the problems' references, mean generated and verifier tokens.
inline DemoRow demo_row(std::string strategy, std::int32_t n, std::span<const SearchResult> results, std::span<const Problem> problems) {
  DemoRow row{std::move(strategy), n, accuracy(results, problems), 0, 0};
  for (const auto& r : results) {
    row.generated_tokens += static_cast<double>(r.ledger.generated_tokens);
    row.verifier_tokens += static_cast<double>(r.ledger.verifier_tokens);
  }
  row.generated_tokens /= static_cast<double>(problems.size());
  row.verifier_tokens /= static_cast<double>(problems.size());
  return row;
}

/// Prints the table, writes `out_dir`/demo.csv (reference accuracies first, as rows with n = 1 and no
/// token counts) and `out_dir`/demo.svg (references as dashed lines), and says where they are.
inline void write_demo_report(const std::vector<DemoRow>& rows, const std::string& out_dir, const std::string& plot_title,
                              std::int32_t trace_n, const std::vector<std::pair<std::string, double>>& references = {}) {
  namespace fs = std::filesystem;
  std::cout << fmt::format("{:<22} {:>4} {:>9} {:>14} {:>14} {:>8}\n", "strategy", "n", "accuracy", "gen tok/prob", "ver tok/prob", "wall s");
  const std::string csv_path = (fs::path(out_dir) / "demo.csv").string();
  std::ofstream csv(csv_path);
  TTSEARCH_REQUIRE(csv.good(), "cannot write '{}'", csv_path);
  csv << "strategy,n,accuracy,generated_tokens_per_problem,verifier_tokens_per_problem,wall_seconds\n";
  for (const auto& [name, acc] : references) csv << fmt::format("{},1,{:.4f},,,\n", name, acc);
  std::vector<PlotPoint> points;
  for (const auto& r : rows) {
    std::cout << fmt::format("{:<22} {:>4} {:>8.1f}% {:>14.0f} {:>14.0f} {:>8.1f}\n", r.strategy, r.n, 100 * r.accuracy, r.generated_tokens,
                             r.verifier_tokens, r.wall_seconds);
    csv << fmt::format("{},{},{:.4f},{:.1f},{:.1f},{:.2f}\n", r.strategy, r.n, r.accuracy, r.generated_tokens, r.verifier_tokens,
                       r.wall_seconds);
    points.push_back({r.strategy, std::max(1.0, r.generated_tokens), r.accuracy});
  }
  const std::string svg_path = (fs::path(out_dir) / "demo.svg").string();
  write_svg_plot(svg_path, plot_title, points, references);
  std::cout << fmt::format("\nwrote {}, {} and {}/<strategy>.trace.jsonl (n = {}); check one with: ttsearch replay --trace FILE\n",
                           csv_path, svg_path, out_dir, trace_n);
}

/// Prints the per-level table and writes `out_dir`/demo_levels.csv and demo_levels.svg.
inline void write_level_report(const std::vector<DemoLevelRow>& rows, const std::string& out_dir) {
  namespace fs = std::filesystem;
  const std::string csv_path = (fs::path(out_dir) / "demo_levels.csv").string();
  std::ofstream csv(csv_path);
  TTSEARCH_REQUIRE(csv.good(), "cannot write '{}'", csv_path);
  csv << "strategy,n,level,accuracy,generated_tokens_per_problem\n";
  std::cout << fmt::format("\nper level (tokens follow difficulty):\n{:<22} {:>4} {:>6} {:>9} {:>14}\n", "strategy", "n", "level", "accuracy",
                           "gen tok/prob");
  std::vector<PlotPoint> points;
  for (const auto& r : rows) {
    std::cout << fmt::format("{:<22} {:>4} {:>6} {:>8.1f}% {:>14.0f}\n", r.strategy, r.n, r.level, 100 * r.accuracy, r.generated_tokens);
    csv << fmt::format("{},{},{},{:.4f},{:.1f}\n", r.strategy, r.n, r.level, r.accuracy, r.generated_tokens);
    points.push_back({r.strategy, static_cast<double>(r.level), std::max(1.0, r.generated_tokens)});
  }
  const std::string svg_path = (fs::path(out_dir) / "demo_levels.svg").string();
  write_svg_level_plot(svg_path, "Adaptive sampling: generated tokens per problem by level", points);
  std::cout << fmt::format("wrote {} and {}\n", csv_path, svg_path);
}

}  // namespace ttsearch::cli
