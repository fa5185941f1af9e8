#pragma once
/// Plain value types shared by every layer: Problem, Step, FinishReason, SamplingParams.
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ttsearch/core/error.hpp"

namespace ttsearch {

using Json = nlohmann::json;

/// One problem to solve. `reference` is the ground-truth answer when known (for evaluation);
/// strategies never read it. `meta` carries domain data for backends (e.g. the simulated domain).
struct Problem {
  std::string id;
  std::string question;
  std::optional<std::string> reference;
  Json meta = Json::object();
};

/// Why a generated step ended.
enum class FinishReason : std::uint8_t {
  kStop,    ///< a stop string matched (the step is a partial solution)
  kEos,     ///< the model emitted end-of-sequence (the solution is complete)
  kLength,  ///< max tokens per step reached (truncated)
  kLowConfidence,  ///< stopped by SamplingParams::confidence_stop (DeepConf-online): no answer, tokens charged
};

constexpr std::string_view to_string(FinishReason r) noexcept {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kEos: return "eos";
    case FinishReason::kLength: return "length";
    case FinishReason::kLowConfidence: return "confidence";
  }
  return "?";
}

inline FinishReason parse_finish_reason(std::string_view s) {
  if (s == "stop") return FinishReason::kStop;
  if (s == "eos") return FinishReason::kEos;
  if (s == "length") return FinishReason::kLength;
  if (s == "confidence") return FinishReason::kLowConfidence;
  throw ParseError(fmt::format("unknown finish reason '{}' (expected stop, eos, length or confidence)", s));
}

/// One generated step: a piece of solution text with its tokens.
/// `num_tokens` is authoritative for accounting; when `token_ids` is non-empty it must equal its
/// size (a backend without a tokenizer, e.g. a remote server, may give the count only).
struct Step {
  std::string text;
  std::vector<std::int32_t> token_ids;
  std::int64_t num_tokens = 0;
  double logprob = 0.0;  ///< summed log-probability of the step's tokens under the policy
  FinishReason finish = FinishReason::kStop;
  /// Per token, when SamplingParams::token_confidence was on (else empty): the sampled token's
  /// log-prob (temperature 1) and the DeepConf confidence -mean(top-k log-probs) (core/confidence.hpp).
  std::vector<float> token_logprobs;
  std::vector<float> token_confidences;

  /// True when the step ends the solution (EOS or truncation): nothing follows it.
  [[nodiscard]] bool is_final() const noexcept { return finish != FinishReason::kStop; }
};

/// Sampling parameters of one generation request. Defaults follow search-and-learn
/// (T = 0.8, top_p = 1, max_tokens = 2048, stop "\n\n" for step-level search).
struct SamplingParams {
  double temperature = 0.8;  ///< 0 = greedy
  double top_p = 1.0;        ///< nucleus mass in (0, 1]
  std::int32_t top_k = 0;    ///< 0 = off
  double min_p = 0.0;        ///< in [0, 1); 0 = off
  std::int64_t max_tokens = 2048;        ///< per continuation
  std::vector<std::string> stop = {};    ///< stop strings; empty = run to EOS (a whole solution)
  bool include_stop_in_output = true;    ///< keep the matched stop string in the step text
  /// Record per-token log-probs and DeepConf confidences on each Step (off: nothing is computed).
  bool token_confidence = false;
  std::int32_t confidence_topk = 20;     ///< k of the token confidence (DeepConf: 20)
  /// DeepConf-online early stop (needs token_confidence): a sample ends with finish "confidence"
  /// once the mean confidence of its last `confidence_window` tokens falls below this. Unset = off.
  std::optional<double> confidence_stop = std::nullopt;
  std::int64_t confidence_window = 2048; ///< tokens per group (DeepConf: 2048)

  /// Throws InvalidArgument naming the first bad field.
  void validate() const {
    TTSEARCH_REQUIRE(std::isfinite(temperature) && temperature >= 0.0,
                     "sampling.temperature must be finite and >= 0 (got {})", temperature);
    TTSEARCH_REQUIRE(top_p > 0.0 && top_p <= 1.0, "sampling.top_p must be in (0, 1] (got {})", top_p);
    TTSEARCH_REQUIRE(top_k >= 0, "sampling.top_k must be >= 0 (got {})", top_k);
    TTSEARCH_REQUIRE(min_p >= 0.0 && min_p < 1.0, "sampling.min_p must be in [0, 1) (got {})", min_p);
    TTSEARCH_REQUIRE(max_tokens > 0, "sampling.max_tokens must be > 0 (got {})", max_tokens);
    for (const auto& s : stop) {
      TTSEARCH_REQUIRE(!s.empty(), "sampling.stop must not contain an empty string");
    }
    TTSEARCH_REQUIRE(confidence_topk >= 1, "sampling.confidence_topk must be >= 1 (got {})", confidence_topk);
    TTSEARCH_REQUIRE(confidence_window >= 1, "sampling.confidence_window must be >= 1 (got {})", confidence_window);
    TTSEARCH_REQUIRE(!confidence_stop || std::isfinite(*confidence_stop), "sampling.confidence_stop must be finite (got {})",
                     confidence_stop.value_or(0.0));
    TTSEARCH_REQUIRE(!confidence_stop || token_confidence, "sampling.confidence_stop needs sampling.token_confidence = true");
  }

  /// Step-level sampling: stop after "\n\n" (kept in the output).
  static SamplingParams step(double temperature = 0.8, std::int64_t max_tokens = 2048) {
    SamplingParams p;
    p.temperature = temperature;
    p.max_tokens = max_tokens;
    p.stop = {"\n\n"};
    return p;
  }
};

namespace detail {

/// j[key] as an integer of type T when present (else `fallback`): a JSON integer within T's range,
/// never a fraction, a float or a wrapped value. Throws InvalidArgument naming `what`.`key`.
template <class T>
T json_integer(const Json& j, const char* key, T fallback, std::string_view what) {
  if (!j.contains(key)) return fallback;
  const Json& v = j.at(key);
  if (!v.is_number_integer()) {
    throw InvalidArgument(fmt::format("{}.{} must be an integer (got {})", what, key, v.dump()));
  }
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
      throw InvalidArgument(fmt::format("{}.{} is out of range (got {}, largest {})", what, key, u, std::numeric_limits<T>::max()));
    }
    return static_cast<T>(u);
  }
  const auto i = v.get<std::int64_t>();
  bool ok;
  if (i < 0) {
    if constexpr (std::is_unsigned_v<T>) ok = false;
    else ok = i >= static_cast<std::int64_t>(std::numeric_limits<T>::min());
  } else {
    ok = static_cast<std::uint64_t>(i) <= static_cast<std::uint64_t>(std::numeric_limits<T>::max());
  }
  if (!ok) {
    throw InvalidArgument(fmt::format("{}.{} is out of range (got {}, range [{}, {}])", what, key, i, std::numeric_limits<T>::min(),
                                      std::numeric_limits<T>::max()));
  }
  return static_cast<T>(i);
}

}  // namespace detail

inline void to_json(Json& j, const SamplingParams& p) {
  j = Json{{"temperature", p.temperature}, {"top_p", p.top_p},       {"top_k", p.top_k},
           {"min_p", p.min_p},             {"max_tokens", p.max_tokens}, {"stop", p.stop},
           {"include_stop_in_output", p.include_stop_in_output}};
  // the confidence fields only when used: traces and cache keys of runs without them are unchanged
  if (p.token_confidence) {
    j["token_confidence"] = true;
    j["confidence_topk"] = p.confidence_topk;
    j["confidence_window"] = p.confidence_window;
  }
  if (p.confidence_stop) j["confidence_stop"] = *p.confidence_stop;
}
inline void from_json(const Json& j, SamplingParams& p) {
  SamplingParams d;
  p.temperature = j.value("temperature", d.temperature);
  p.top_p = j.value("top_p", d.top_p);
  p.top_k = detail::json_integer(j, "top_k", d.top_k, "sampling");
  p.min_p = j.value("min_p", d.min_p);
  p.max_tokens = detail::json_integer(j, "max_tokens", d.max_tokens, "sampling");
  p.stop = j.value("stop", d.stop);
  p.include_stop_in_output = j.value("include_stop_in_output", d.include_stop_in_output);
  p.token_confidence = j.value("token_confidence", d.token_confidence);
  p.confidence_topk = detail::json_integer(j, "confidence_topk", d.confidence_topk, "sampling");
  p.confidence_window = detail::json_integer(j, "confidence_window", d.confidence_window, "sampling");
  p.confidence_stop = d.confidence_stop;
  if (j.contains("confidence_stop") && !j["confidence_stop"].is_null()) {
    // a per-round value DeepConf-online derives from its warm-up; as an option it would cut every
    // strategy's traces and let the cut ones vote
    throw InvalidArgument("sampling.confidence_stop is not an option: deepconf-online sets it from its warm-up");
  }
}

inline void to_json(Json& j, const Problem& p) {
  j = Json{{"id", p.id}, {"question", p.question}};
  if (p.reference) j["reference"] = *p.reference;
  if (!p.meta.empty()) j["meta"] = p.meta;
}
inline void from_json(const Json& j, Problem& p) {
  p.id = j.value("id", std::string{});
  p.question = j.value("question", std::string{});
  if (j.contains("reference") && j["reference"].is_string()) p.reference = j["reference"].get<std::string>();
  p.meta = j.value("meta", Json::object());
}

}  // namespace ttsearch
