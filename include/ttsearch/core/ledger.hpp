#pragma once
/// ComputeLedger: what one search spent, and StopReason: why it ended.
/// The ledger is a plain record every layer reports, so it lives in core; the limits and their
/// enforcement are in ttsearch/budget/.
#include <cstdint>
#include <string_view>

#include "ttsearch/core/types.hpp"

namespace ttsearch {

struct ComputeLedger {
  std::int64_t prompt_tokens = 0;           ///< prompt + prefix tokens presented to the generator
  std::int64_t cached_prompt_tokens = 0;    ///< of those, served from the generator's prefix cache
  std::int64_t generated_tokens = 0;        ///< tokens the generator produced
  std::int64_t verifier_tokens = 0;         ///< tokens the verifier processed
  std::int64_t generator_calls = 0;         ///< batched generator calls this search took part in
  std::int64_t verifier_calls = 0;          ///< batched verifier calls this search took part in
  std::int64_t generated_steps = 0;         ///< continuations produced
  std::int64_t scored_paths = 0;            ///< paths scored
  double generate_seconds = 0.0;            ///< wall time inside generator calls
  double verify_seconds = 0.0;              ///< wall time inside verifier calls
  double total_seconds = 0.0;               ///< wall time of the whole search

  [[nodiscard]] std::int64_t calls() const noexcept { return generator_calls + verifier_calls; }
  /// Wall time spent outside backend calls (the search's own work).
  [[nodiscard]] double search_seconds() const noexcept {
    const double s = total_seconds - generate_seconds - verify_seconds;
    return s > 0 ? s : 0.0;
  }

  ComputeLedger& operator+=(const ComputeLedger& o) noexcept {
    prompt_tokens += o.prompt_tokens;
    cached_prompt_tokens += o.cached_prompt_tokens;
    generated_tokens += o.generated_tokens;
    verifier_tokens += o.verifier_tokens;
    generator_calls += o.generator_calls;
    verifier_calls += o.verifier_calls;
    generated_steps += o.generated_steps;
    scored_paths += o.scored_paths;
    generate_seconds += o.generate_seconds;
    verify_seconds += o.verify_seconds;
    total_seconds += o.total_seconds;
    return *this;
  }
};

inline void to_json(Json& j, const ComputeLedger& l) {
  j = Json{{"prompt_tokens", l.prompt_tokens},       {"cached_prompt_tokens", l.cached_prompt_tokens},
           {"generated_tokens", l.generated_tokens}, {"verifier_tokens", l.verifier_tokens},
           {"generator_calls", l.generator_calls},   {"verifier_calls", l.verifier_calls},
           {"generated_steps", l.generated_steps},   {"scored_paths", l.scored_paths},
           {"generate_seconds", l.generate_seconds}, {"verify_seconds", l.verify_seconds},
           {"total_seconds", l.total_seconds}};
}
inline void from_json(const Json& j, ComputeLedger& l) {
  l.prompt_tokens = detail::json_integer<std::int64_t>(j, "prompt_tokens", 0, "ledger");
  l.cached_prompt_tokens = detail::json_integer<std::int64_t>(j, "cached_prompt_tokens", 0, "ledger");
  l.generated_tokens = detail::json_integer<std::int64_t>(j, "generated_tokens", 0, "ledger");
  l.verifier_tokens = detail::json_integer<std::int64_t>(j, "verifier_tokens", 0, "ledger");
  l.generator_calls = detail::json_integer<std::int64_t>(j, "generator_calls", 0, "ledger");
  l.verifier_calls = detail::json_integer<std::int64_t>(j, "verifier_calls", 0, "ledger");
  l.generated_steps = detail::json_integer<std::int64_t>(j, "generated_steps", 0, "ledger");
  l.scored_paths = detail::json_integer<std::int64_t>(j, "scored_paths", 0, "ledger");
  l.generate_seconds = j.value("generate_seconds", 0.0);
  l.verify_seconds = j.value("verify_seconds", 0.0);
  l.total_seconds = j.value("total_seconds", 0.0);
}

/// Why a search ended. kGeneratedTokens .. kDeadline are budget stops: the search returned the
/// best it had when the named limit would have been passed. kFailed: a backend or the strategy
/// failed for this search (SearchResult::error says why); the other searches of the run go on.
enum class StopReason : std::uint8_t {
  kCompleted,
  kGeneratedTokens,
  kVerifierTokens,
  kCalls,
  kDeadline,
  kFailed,
};

constexpr std::string_view to_string(StopReason r) noexcept {
  switch (r) {
    case StopReason::kCompleted: return "completed";
    case StopReason::kGeneratedTokens: return "budget:generated_tokens";
    case StopReason::kVerifierTokens: return "budget:verifier_tokens";
    case StopReason::kCalls: return "budget:calls";
    case StopReason::kDeadline: return "budget:deadline";
    case StopReason::kFailed: return "failed";
  }
  return "?";
}

inline StopReason parse_stop_reason(std::string_view s) {
  for (auto r : {StopReason::kCompleted, StopReason::kGeneratedTokens, StopReason::kVerifierTokens,
                 StopReason::kCalls, StopReason::kDeadline, StopReason::kFailed}) {
    if (to_string(r) == s) return r;
  }
  throw ParseError(fmt::format("unknown stop reason '{}'", s));
}

constexpr bool is_budget_stop(StopReason r) noexcept { return r != StopReason::kCompleted && r != StopReason::kFailed; }

}  // namespace ttsearch
