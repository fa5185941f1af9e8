#pragma once
/// Aggregation of a path's per-step verifier scores into one number.
///   last: s_T (search-and-learn's default)   min: min_t s_t   prod: prod_t s_t   mean: (1/T) sum_t s_t
#include <algorithm>
#include <numeric>
#include <span>
#include <string_view>

#include "ttsearch/core/error.hpp"

namespace ttsearch {

enum class Aggregation : std::uint8_t { kLast, kMin, kProd, kMean };

constexpr std::string_view to_string(Aggregation a) noexcept {
  switch (a) {
    case Aggregation::kLast: return "last";
    case Aggregation::kMin: return "min";
    case Aggregation::kProd: return "prod";
    case Aggregation::kMean: return "mean";
  }
  return "?";
}

inline Aggregation parse_aggregation(std::string_view s) {
  if (s == "last") return Aggregation::kLast;
  if (s == "min") return Aggregation::kMin;
  if (s == "prod") return Aggregation::kProd;
  if (s == "mean") return Aggregation::kMean;
  throw InvalidArgument(fmt::format("unknown aggregation '{}' (expected last, min, prod or mean)", s));
}

/// Aggregates `scores`; throws InvalidArgument when there are none (an unscored path has no value).
inline double aggregate(std::span<const double> scores, Aggregation how) {
  TTSEARCH_REQUIRE(!scores.empty(), "cannot aggregate an empty list of step scores");
  switch (how) {
    case Aggregation::kLast: return scores.back();
    case Aggregation::kMin: return *std::min_element(scores.begin(), scores.end());
    case Aggregation::kProd:
      return std::accumulate(scores.begin(), scores.end(), 1.0, std::multiplies<>());
    case Aggregation::kMean:
      return std::accumulate(scores.begin(), scores.end(), 0.0) / static_cast<double>(scores.size());
  }
  return scores.back();
}

}  // namespace ttsearch
