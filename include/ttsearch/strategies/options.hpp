#pragma once
/// Helpers shared by the strategies' options structs: JSON (de)serialisation with strict keys,
/// and the sampling defaults.
#include <initializer_list>
#include <string_view>
#include <type_traits>

#include "ttsearch/core/aggregate.hpp"
#include "ttsearch/core/error.hpp"
#include "ttsearch/core/types.hpp"

namespace ttsearch::detail {

/// Throws InvalidArgument when `j` is not an object or has a key outside `allowed`.
inline void check_option_keys(const Json& j, std::string_view what, std::initializer_list<std::string_view> allowed) {
  TTSEARCH_REQUIRE(j.is_object(), "{} must be a JSON object (got {})", what, j.type_name());
  for (const auto& [key, _] : j.items()) {
    bool ok = false;
    for (auto a : allowed) ok = ok || a == key;
    if (!ok) {
      std::string list;
      for (auto a : allowed) list += fmt::format("{}{}", list.empty() ? "" : ", ", a);
      throw InvalidArgument(fmt::format("{}: unknown option \"{}\" (known: {})", what, key, list));
    }
  }
}

/// Reads j[key] into `out` when present, naming the option on a type error.
template <class T>
void read_option(const Json& j, std::string_view what, const char* key, T& out) {
  if (!j.contains(key)) return;
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {  // no silent truncation or wrap-around
    out = json_integer<T>(j, key, out, what);
    return;
  }
  if constexpr (std::is_same_v<T, SamplingParams>) {
    // a partial "sampling" object overrides the strategy's own sampling defaults field by field
    // (beam search keeps its "\n\n" stop when only the temperature is given)
    if (j.at(key).is_object()) {
      Json merged = out;
      merged.update(j.at(key));
      try {
        out = merged.get<SamplingParams>();
      } catch (const Json::exception& e) {
        throw InvalidArgument(fmt::format("{}: option \"{}\" has the wrong type ({})", what, key, e.what()));
      }
      return;
    }
  }
  try {
    out = j.at(key).get<T>();
  } catch (const Json::exception& e) {
    throw InvalidArgument(fmt::format("{}: option \"{}\" has the wrong type ({})", what, key, e.what()));
  }
}

/// Whole-solution sampling (no stop string), the voting strategies' default.
inline SamplingParams whole_solution_sampling() {
  SamplingParams p;
  p.stop.clear();
  return p;
}

inline constexpr std::int32_t kMaxSamples = 1 << 20;

}  // namespace ttsearch::detail

namespace ttsearch {
inline void to_json(Json& j, Aggregation a) { j = std::string(to_string(a)); }
inline void from_json(const Json& j, Aggregation& a) { a = parse_aggregation(j.get<std::string>()); }
}  // namespace ttsearch

/// Defines to_json / from_json for an options struct from its field names: JSON keys are the
/// field names; from_json starts from the defaults, rejects unknown keys and names the option on
/// a type error (enums are read through their own from_json, which names bad values).
#define TTSEARCH_OPTION_TO(field) j[#field] = o.field;
#define TTSEARCH_OPTION_FROM(field) ::ttsearch::detail::read_option(j, what, #field, o.field);
#define TTSEARCH_OPTION_KEY(field) #field,
#define TTSEARCH_OPTIONS_JSON(Type, name, ...)                                                   \
  inline void to_json(::ttsearch::Json& j, const Type& o) {                                      \
    j = ::ttsearch::Json::object();                                                              \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(TTSEARCH_OPTION_TO, __VA_ARGS__))                   \
  }                                                                                              \
  inline void from_json(const ::ttsearch::Json& j, Type& o) {                                    \
    constexpr std::string_view what = name " options";                                           \
    ::ttsearch::detail::check_option_keys(                                                       \
        j, what, {NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(TTSEARCH_OPTION_KEY, __VA_ARGS__))}); \
    o = Type{};                                                                                  \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(TTSEARCH_OPTION_FROM, __VA_ARGS__))                 \
  }

