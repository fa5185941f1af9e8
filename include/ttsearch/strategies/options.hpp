#pragma once
/// Helpers shared by the strategies' options structs: JSON (de)serialisation with strict keys,
/// and the sampling defaults.
#include <initializer_list>
#include <string_view>

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
