#pragma once
/// Budget: the limits of one search, enforced by the driver BEFORE every backend call.
///
/// Rules (never exceeded as long as backends keep their contracts):
///   - generated tokens: a generator call for requests with sum_i n_i samples is made only when
///     at least one token per sample is left; each request's max_tokens is lowered to
///     floor(remaining / sum_i n_i) when the full max_tokens could overrun, so even a call where
///     every sample runs to its limit stays within budget;
///   - verifier tokens: a verifier call is made only when its cost fits: the upper bound the
///     verifier states (VerifierWithCost::estimate_tokens; charging more is a BackendError), else
///     the generated tokens of the paths it will read;
///   - calls: generator + verifier calls of this search;
///   - deadline: wall time since the search started, checked before each call.
/// When a limit would be passed the search is told "stopped" and returns the best it has, with
/// SearchResult::stop_reason naming the limit. A search whose step was cut at a budget-lowered
/// max_tokens also reports budget:generated_tokens, even if it then finished.
#include <chrono>
#include <cstdint>
#include <optional>

#include "ttsearch/core/error.hpp"
#include "ttsearch/core/ledger.hpp"

namespace ttsearch {

struct Budget {
  // (default member initializers: `Budget{.max_calls = 5}` compiles without -Wmissing-field-initializers)
  std::optional<std::int64_t> max_generated_tokens{};  ///< unset = unlimited
  std::optional<std::int64_t> max_verifier_tokens{};   ///< unset = unlimited
  std::optional<std::int64_t> max_calls{};             ///< generator + verifier calls; unset = unlimited
  std::optional<std::chrono::duration<double>> max_wall_time{};  ///< unset = no deadline

  /// Throws InvalidArgument naming the field: every set limit must be positive (a budget of zero
  /// cannot run any search; leave the field unset for "unlimited").
  void validate() const {
    TTSEARCH_REQUIRE(!max_generated_tokens || *max_generated_tokens > 0,
                     "budget.max_generated_tokens must be > 0 (got {}); leave it unset for no limit",
                     *max_generated_tokens);
    TTSEARCH_REQUIRE(!max_verifier_tokens || *max_verifier_tokens > 0,
                     "budget.max_verifier_tokens must be > 0 (got {}); leave it unset for no limit",
                     *max_verifier_tokens);
    TTSEARCH_REQUIRE(!max_calls || *max_calls > 0, "budget.max_calls must be > 0 (got {}); leave it unset for no limit",
                     *max_calls);
    TTSEARCH_REQUIRE(!max_wall_time || max_wall_time->count() > 0,
                     "budget.max_wall_time must be > 0 s (got {}); leave it unset for no deadline",
                     max_wall_time->count());
  }

  [[nodiscard]] bool unlimited() const noexcept {
    return !max_generated_tokens && !max_verifier_tokens && !max_calls && !max_wall_time;
  }
};

/// Checks common to every call: calls and deadline. Returns the limit that stops the call.
inline std::optional<StopReason> check_call(const Budget& b, const ComputeLedger& l, double elapsed_seconds) {
  if (b.max_calls && l.calls() + 1 > *b.max_calls) return StopReason::kCalls;
  if (b.max_wall_time && elapsed_seconds >= b.max_wall_time->count()) return StopReason::kDeadline;
  return std::nullopt;
}

/// Before a generator call of `total_samples` continuations with per-request limit
/// `max_tokens`: returns the stop reason, or the (possibly lowered) per-continuation token cap.
struct GenerateGrant {
  std::optional<StopReason> stop;
  std::int64_t max_tokens_cap = 0;  ///< lower every request's max_tokens to at most this
};

inline GenerateGrant check_generate(const Budget& b, const ComputeLedger& l, double elapsed_seconds,
                                    std::int64_t total_samples, std::int64_t largest_max_tokens) {
  if (auto r = check_call(b, l, elapsed_seconds)) return {r, 0};
  std::int64_t cap = largest_max_tokens;
  if (b.max_generated_tokens) {
    const std::int64_t remaining = *b.max_generated_tokens - l.generated_tokens;
    if (total_samples <= 0 || remaining < total_samples) return {StopReason::kGeneratedTokens, 0};
    cap = std::min(cap, remaining / total_samples);
  }
  return {std::nullopt, cap};
}

/// Before a verifier call that will read `estimated_tokens` tokens.
inline std::optional<StopReason> check_verify(const Budget& b, const ComputeLedger& l, double elapsed_seconds,
                                              std::int64_t estimated_tokens) {
  if (auto r = check_call(b, l, elapsed_seconds)) return r;
  if (b.max_verifier_tokens && l.verifier_tokens + estimated_tokens > *b.max_verifier_tokens) {
    return StopReason::kVerifierTokens;
  }
  return std::nullopt;
}

inline void to_json(Json& j, const Budget& b) {
  j = Json::object();
  if (b.max_generated_tokens) j["max_generated_tokens"] = *b.max_generated_tokens;
  if (b.max_verifier_tokens) j["max_verifier_tokens"] = *b.max_verifier_tokens;
  if (b.max_calls) j["max_calls"] = *b.max_calls;
  if (b.max_wall_time) j["max_wall_seconds"] = b.max_wall_time->count();
}
inline void from_json(const Json& j, Budget& b) {
  b = Budget{};
  if (j.contains("max_generated_tokens")) b.max_generated_tokens = j["max_generated_tokens"].get<std::int64_t>();
  if (j.contains("max_verifier_tokens")) b.max_verifier_tokens = j["max_verifier_tokens"].get<std::int64_t>();
  if (j.contains("max_calls")) b.max_calls = j["max_calls"].get<std::int64_t>();
  if (j.contains("max_wall_seconds")) b.max_wall_time = std::chrono::duration<double>(j["max_wall_seconds"].get<double>());
}

}  // namespace ttsearch
