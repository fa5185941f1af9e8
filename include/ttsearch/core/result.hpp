#pragma once
/// SearchResult: what every strategy returns.
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "ttsearch/core/ledger.hpp"
#include "ttsearch/core/tree.hpp"

namespace ttsearch {

/// One complete (or budget-truncated) solution the strategy considered for its final choice.
struct Candidate {
  NodeId leaf = kNoNode;
  std::string answer;              ///< extracted and normalised final answer ("" if none found)
  std::vector<double> step_scores; ///< the verifier's scores for the path (empty if unscored)
  double score = 0.0;              ///< aggregated score (0 when unscored)
  std::int64_t tokens = 0;         ///< generated tokens of the path
};

struct SearchResult {
  std::string strategy;
  std::string answer;                ///< the final answer ("" when nothing was produced)
  std::vector<std::string> answers;  ///< ranked answers (Best-of-Majority returns top-k); answers[0] == answer
  NodeId chosen = kNoNode;           ///< leaf of the chosen path (kNoNode when none)
  std::vector<Candidate> candidates;
  SearchTree tree;
  ComputeLedger ledger;
  StopReason stop_reason = StopReason::kCompleted;
  std::uint64_t seed = 0;
  /// Why the search failed ("" when it did not): a backend call for it threw or broke its
  /// contract, or the strategy threw. A failed search has stop_reason kFailed, no answer, and the
  /// tree and ledger it had reached. The batch drivers return it among the others' results.
  std::string error;
  /// The exception behind `error` (solve() rethrows it; not written to traces).
  std::exception_ptr failure;

  [[nodiscard]] bool failed() const noexcept { return stop_reason == StopReason::kFailed; }

  /// The chosen path's text ("" when none).
  [[nodiscard]] std::string text() const { return chosen == kNoNode ? std::string{} : tree.path(chosen).text(); }
};

}  // namespace ttsearch
