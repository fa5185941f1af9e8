#pragma once
/// Grouping many answers into equivalence classes.
///
/// Answers are first merged by exact normalised string (a hash map, O(n)); the distinct strings
/// are then compared, in first-seen order, with the representative (first member) of each class
/// found so far (O(u * c) equivalence tests for u distinct strings and c classes). Numeric values
/// and canonical integers are computed once per distinct string. Classes and their members are in
/// first-seen order, so results are deterministic. Because numeric tolerance is not transitive, an
/// answer joins the FIRST class whose representative it matches.
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "ttsearch/answer/equivalence.hpp"

namespace ttsearch::answer {

struct AnswerGroups {
  std::vector<std::int32_t> group_of;              ///< group index of each input answer
  std::vector<std::vector<std::int32_t>> members;  ///< input indices of each group, ascending
  std::vector<std::string> representative;         ///< the first member's normalised answer
  [[nodiscard]] std::size_t size() const noexcept { return members.size(); }
};

/// Groups already-normalised answers. An empty answer ("no answer found") only ever groups with
/// other empty answers.
inline AnswerGroups group_normalized(std::span<const std::string> normalized, const EquivalenceOptions& opt = {}) {
  AnswerGroups g;
  g.group_of.assign(normalized.size(), -1);
  std::unordered_map<std::string_view, std::int32_t> exact;  // distinct string -> group
  exact.reserve(normalized.size() / 4 + 16);
  struct Rep {
    std::string_view text;
    std::optional<double> value;
    std::optional<std::string> integer;  // plain_integer(text), computed once
  };
  std::vector<Rep> reps;
  for (std::size_t i = 0; i < normalized.size(); ++i) {
    const std::string_view s = normalized[i];
    auto it = exact.find(s);
    std::int32_t group = -1;
    if (it != exact.end()) {
      group = it->second;
    } else {
      const auto value = evaluate_number(s);
      auto integer = plain_integer(s);
      for (std::size_t r = 0; r < reps.size() && group < 0; ++r) {
        const Rep& rep = reps[r];
        bool eq;
        if (integer && rep.integer) {
          eq = *integer == *rep.integer;  // integers of any size, digit by digit
        } else if (value && rep.value) {  // fast path: both numbers, most pairs rejected by value alone
          const bool maybe = numbers_close(*value, *rep.value, opt.rel_tol) || s.back() == '%' || rep.text.back() == '%' ||
                             std::fabs(*value - *rep.value) < 0.005;  // (the percent and precision rules)
          eq = maybe && detail::numbers_decision(s, *value, rep.text, *rep.value, opt).equal;
        } else {
          eq = equivalent_normalized(s, rep.text, opt);
        }
        if (eq) group = static_cast<std::int32_t>(r);
      }
      if (group < 0) {
        group = static_cast<std::int32_t>(reps.size());
        reps.push_back({s, value, std::move(integer)});
        g.members.emplace_back();
        g.representative.emplace_back(s);
      }
      exact.emplace(s, group);
    }
    g.group_of[i] = group;
    g.members[static_cast<std::size_t>(group)].push_back(static_cast<std::int32_t>(i));
  }
  return g;
}

}  // namespace ttsearch::answer
