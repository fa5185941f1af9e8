#pragma once
// What the arithmetic trainer (arith_train) and the demo (ttsearch demo) share: the test split,
// the prompt and PRM input formats, and where the shipped models live.
#include <string>
#include <unordered_set>
#include <vector>

#include <ttsearch/core/concepts.hpp>
#include <ttsearch/domains/arith.hpp>

namespace ttsearch::arith_models {

/// The test split of the shipped models: 50 problems per level 2..7, seed 2026 (never trained on).
inline constexpr std::uint64_t kTestSeed = 2026;
inline constexpr std::int32_t kTestPerLevel = 50;
inline const std::vector<std::int32_t> kTestLevels = {2, 3, 4, 5, 6, 7};

inline std::vector<arith::ArithProblem> test_split(std::int32_t per_level = kTestPerLevel,
                                                   const std::vector<std::int32_t>& levels = kTestLevels) {
  return arith::make_test_split(levels, per_level, kTestSeed);
}

/// Expressions of the full test split (training data skips them).
inline std::unordered_set<std::string> test_expressions() {
  std::unordered_set<std::string> out;
  for (const auto& p : test_split()) out.insert(p.expression);
  return out;
}

/// The tokenizer's pre-tokenizer: each digit alone (numbers are read digit by digit), newline
/// runs alone (so a step boundary is a token boundary), everything else in runs that BPE merges.
inline constexpr const char* kSplitPattern = R"(\p{N}|\n+|[^\p{N}\n]+)";
inline constexpr const char* kEos = "<|endoftext|>";
inline constexpr const char* kStepTag = "<extra_0>";

/// The prompt of the policy and the PRM: the expression and a blank line.
inline std::string prompt_format() { return std::string(arith::kPromptFormat); }

/// The PRM's input for `steps` (the Qwen2.5-Math-PRM layout without a chat template, exactly
/// what TorchPRM builds with prompt_format): prompt, then each step followed by the tag.
inline std::string prm_input(const std::string& expression, const std::vector<std::string>& steps) {
  std::string s = expression + std::string(arith::kStepSeparator);
  for (const auto& st : steps) {
    if (!st.empty()) s += st + kStepTag;
  }
  return s;
}

/// Longest whole solution sampled (a level-7 solution is about 130 tokens).
inline constexpr std::int64_t kMaxSolutionTokens = 256;

/// One request per problem for whole solutions (no stop string): `samples` each at `temperature`
/// (0 = greedy); request i's seed is seeds(i).
template <class SeedFn>
std::vector<GenerateRequest> solution_requests(std::span<const Problem> problems, std::int32_t samples, double temperature, SeedFn seeds) {
  std::vector<GenerateRequest> out;
  for (std::size_t i = 0; i < problems.size(); ++i) {
    GenerateRequest r;
    r.problem = &problems[i];
    r.num_samples = samples;
    r.params.temperature = temperature;
    r.params.max_tokens = kMaxSolutionTokens;
    r.seed = seeds(i);
    out.push_back(r);
  }
  return out;
}

/// Greedy solutions, one request per problem.
inline std::vector<GenerateRequest> greedy_requests(std::span<const Problem> problems) {
  return solution_requests(problems, 1, 0.0, [](std::size_t) { return std::uint64_t{0}; });
}

#ifdef TTSEARCH_ARITH_MODELS_DIR
/// The folder holding the shipped policy/ and prm/.
inline std::string default_models_dir() { return TTSEARCH_ARITH_MODELS_DIR; }
#endif

}  // namespace ttsearch::arith_models
