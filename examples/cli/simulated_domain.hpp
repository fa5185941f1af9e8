#pragma once
// The simulated domain as the CLI uses it (solve and demo): one task, one PRM, one scorer.
#include <span>
#include <vector>

#include <ttsearch/answer/equivalence.hpp>
#include <ttsearch/testing/simulated.hpp>

namespace ttsearch::cli {

/// 4-8 steps, per-step accuracy 0.55-0.95: hard enough that search has something to fix.
inline std::vector<Problem> simulated_problems(std::int32_t count, std::uint64_t seed) {
  testing::SimulatedTaskOptions task;
  task.num_problems = count;
  task.seed = seed;
  task.min_steps = 4;
  task.max_steps = 8;
  task.min_step_accuracy = 0.55;
  task.max_step_accuracy = 0.95;
  return testing::make_simulated_problems(task);
}

inline testing::SimulatedPrm simulated_prm(double noise, std::uint64_t seed) {
  return testing::SimulatedPrm(testing::SimulatedPrmOptions{.noise = noise, .good = 0.75, .bad = 0.25, .outcome = false, .seed = seed});
}

/// Fraction of results whose answer is equivalent to the problem's reference.
inline double accuracy(std::span<const SearchResult> results, std::span<const Problem> problems) {
  double correct = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    correct += answer::equivalent_normalized(results[i].answer, *problems[i].reference) ? 1 : 0;
  }
  return results.empty() ? 0.0 : correct / static_cast<double>(results.size());
}

}  // namespace ttsearch::cli
