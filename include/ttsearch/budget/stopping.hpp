#pragma once
/// Adaptive stopping rules (../shared/reference/budget.md section 2): pure functions of the
/// answers seen so far, shared by the adaptive strategies and their replay.
///
/// Adaptive-Consistency, Beta criterion (Aggarwal et al., EMNLP 2023): with a and b the counts of
/// the two most frequent answers (b = 0 when there is one), the posterior probability that the
/// leader is the mode under a uniform Beta prior is
///   P = int_{1/2}^{1} x^a (1-x)^b dx / B(a+1, b+1) = P(Bin(a+b+1, 1/2) <= a)
///     = 2^{-(a+b+1)} sum_{j=0}^{a} C(a+b+1, j);
/// sampling stops once P >= threshold (0.95). At 0.95 unanimous answers stop after 4 samples, one
/// dissenter needs 6 agreeing, two need 8.
///
/// ESC (Li et al., ICLR 2024): samples come in windows of w (5); sampling stops at the first window
/// whose w answers are all equivalent (and non-empty).
///
/// DeepConf consensus (Fu et al. 2025): beta = V(a*) / sum_a V(a) over the confidence-weighted vote;
/// stop once beta >= tau (0.95).
#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ttsearch/answer/group.hpp"
#include "ttsearch/core/error.hpp"

namespace ttsearch {

/// P(Bin(a + b + 1, 1/2) <= a), computed in log space (exact to double rounding for any a, b).
inline double beta_stop_probability(std::int64_t a, std::int64_t b) {
  TTSEARCH_REQUIRE(a >= 0 && b >= 0, "beta_stop_probability: counts must be >= 0 (got {}, {})", a, b);
  const std::int64_t n = a + b + 1;
  // sum_{j=0}^{a} C(n, j) / 2^n with a running log term and log-sum-exp
  const double log_half_n = -static_cast<double>(n) * std::log(2.0);
  double max_term = -INFINITY;
  std::vector<double> terms;
  terms.reserve(static_cast<std::size_t>(a + 1));
  for (std::int64_t j = 0; j <= a; ++j) {
    const double t = std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(j) + 1) -
                     std::lgamma(static_cast<double>(n - j) + 1) + log_half_n;
    terms.push_back(t);
    max_term = std::max(max_term, t);
  }
  double s = 0;
  for (double t : terms) s += std::exp(t - max_term);
  return std::min(1.0, std::exp(max_term + std::log(s)));
}

/// The smallest number of samples after which the Beta rule can stop (all of them agreeing).
inline std::int64_t beta_min_samples(double threshold, std::int64_t cap) {
  for (std::int64_t a = 1; a <= cap; ++a) {
    if (beta_stop_probability(a, 0) >= threshold) return a;
  }
  return cap;
}

/// Counts of the two largest answer groups among `answers` (normalised; "" = no answer, which
/// never counts: samples without an answer do not settle anything).
struct TopTwo {
  std::int64_t a = 0;
  std::int64_t b = 0;
};

inline TopTwo top_two_counts(std::span<const std::string> answers) {
  const auto groups = answer::group_normalized(answers);
  std::vector<std::int64_t> counts;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (groups.representative[g].empty()) continue;  // "no answer" never leads the vote
    counts.push_back(static_cast<std::int64_t>(groups.members[g].size()));
  }
  std::sort(counts.begin(), counts.end(), std::greater<>());
  TopTwo t;
  if (!counts.empty()) t.a = counts[0];
  if (counts.size() > 1) t.b = counts[1];
  return t;
}

/// Adaptive-Consistency's Beta criterion on the answers so far.
inline bool beta_should_stop(std::span<const std::string> answers, double threshold) {
  if (answers.empty()) return false;
  const TopTwo t = top_two_counts(answers);
  if (t.a == 0) return false;
  return beta_stop_probability(t.a, t.b) >= threshold;
}

/// ESC: true when the `window` answers ending at `end` (exclusive) are all equivalent and not empty.
inline bool esc_window_unanimous(std::span<const std::string> answers, std::size_t end, std::size_t window) {
  if (window == 0 || end < window || end > answers.size()) return false;
  const auto w = answers.subspan(end - window, window);
  for (const auto& a : w) {
    if (a.empty()) return false;
  }
  return answer::group_normalized(w).size() == 1;
}

}  // namespace ttsearch
