#pragma once
/// Answer equivalence on normalised answers (normalize.hpp).
///
/// Two answers are equivalent when, in this order:
///   1. their normalised strings are equal (case-insensitively);
///   2. both evaluate to numbers (see `evaluate_number`) within relative tolerance `rel_tol`
///      (1e-4, Qwen's `math_equal`), except that two integers must be equal exactly; when exactly one side is a percentage, x% also matches x/100
///      (so 50% == 0.5 == 50). If both are numbers this decides;
///   3. both are sequences: tuples / intervals "(a,b]" (same brackets, element by element),
///      sets "{a,b}" and bare lists "a,b" (as multisets: order ignored), matrices
///      (\begin{pmatrix} rows by \\ and cells by &, cell by cell);
///   4. both are equations "l=r" with equivalent sides (either way round), or one is "v=e" with
///      a variable name of at most two characters and e is equivalent to the other answer;
///   5. the strings are equal after removing every '{' and '}'.
///
/// What it cannot decide (there is no computer algebra system): symbolic identities such as
/// x^2-1 vs (x-1)(x+1), sin^2+cos^2 vs 1, or reordered sums with variables (1+\sqrt{2} vs
/// \sqrt{2}+1 IS decided, being numeric; a+b vs b+a is not); numeric values of functions other
/// than \sqrt, ^, \pi (no \sin, \log, e); complex numbers (6+9i compares as a string); units
/// other than the removed unit words; answers whose meaning depends on the question (a
/// multiple-choice letter vs the option's text).
#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ttsearch/answer/normalize.hpp"

namespace ttsearch::answer {

struct EquivalenceOptions {
  double rel_tol = 1e-4;  ///< relative tolerance for numeric equality (Qwen math_equal)
};

namespace detail {

/// Recursive-descent evaluator over normalised LaTeX arithmetic.
///   expr   := term (('+'|'-') term)*
///   term   := unary (('*'|'\cdot'|'\times'|'/'|'\div') unary | implicit-product unary)*
///   unary  := ('-'|'+') unary | power
///   power  := primary ('^' (group | digit))?
///   primary:= number | \frac{e}{e} | \sqrt[e]{e} | \pi | (e) | {e}
/// An integer literal directly followed by \frac{int}{int} is a mixed number (1\frac{4}{5} = 1.8).
class NumberParser {
 public:
  explicit NumberParser(std::string_view s) : s_(s) {}

  std::optional<double> parse() {
    auto v = expr();
    if (!v || pos_ != s_.size() || !std::isfinite(*v)) return std::nullopt;
    return v;
  }

 private:
  bool eat(std::string_view tok) {
    if (s_.substr(pos_, tok.size()) == tok) {
      // a command must not continue with letters (\pi vs \pix)
      if (tok.size() > 1 && tok[0] == '\\' && pos_ + tok.size() < s_.size() &&
          std::isalpha(static_cast<unsigned char>(s_[pos_ + tok.size()]))) {
        return false;
      }
      pos_ += tok.size();
      return true;
    }
    return false;
  }
  [[nodiscard]] bool at_end() const { return pos_ >= s_.size(); }
  [[nodiscard]] char peek() const { return at_end() ? '\0' : s_[pos_]; }

  std::optional<double> expr() {
    if (++depth_ > 64) return std::nullopt;
    auto v = term();
    while (v && !at_end()) {
      if (eat("+")) {
        auto r = term();
        if (!r) return std::nullopt;
        *v += *r;
      } else if (eat("-")) {
        auto r = term();
        if (!r) return std::nullopt;
        *v -= *r;
      } else {
        break;
      }
    }
    --depth_;
    return v;
  }

  bool starts_primary() const {
    const char c = peek();
    if (is_digit(c) || c == '.' || c == '(' || c == '{') return true;
    const std::string_view rest = s_.substr(pos_);
    return rest.starts_with("\\frac") || rest.starts_with("\\sqrt") || rest.starts_with("\\pi");
  }

  std::optional<double> term() {
    auto v = unary();
    while (v && !at_end()) {
      if (eat("*") || eat("\\cdot") || eat("\\times")) {
        auto r = unary();
        if (!r) return std::nullopt;
        *v *= *r;
      } else if (eat("/") || eat("\\div")) {
        auto r = unary();
        if (!r || *r == 0.0) return std::nullopt;
        *v /= *r;
      } else if (starts_primary()) {
        auto r = power();
        if (!r) return std::nullopt;
        *v *= *r;
      } else {
        break;
      }
    }
    return v;
  }

  std::optional<double> unary() {
    if (eat("-")) {
      auto v = unary();
      return v ? std::optional<double>(-*v) : std::nullopt;
    }
    if (eat("+")) return unary();
    return power();
  }

  std::optional<double> power() {
    auto base = primary();
    if (!base) return std::nullopt;
    if (eat("^")) {
      std::optional<double> e;
      if (peek() == '{' || peek() == '(') {
        e = primary();
      } else if (is_digit(peek())) {
        e = static_cast<double>(s_[pos_++] - '0');
      } else if (eat("\\pi")) {
        e = std::numbers::pi;
      } else {
        return std::nullopt;
      }
      if (!e) return std::nullopt;
      return std::pow(*base, *e);
    }
    return base;
  }

  std::optional<double> group(char open, char close) {
    if (peek() != open) return std::nullopt;
    ++pos_;
    auto v = expr();
    if (!v || peek() != close) return std::nullopt;
    ++pos_;
    return v;
  }

  std::optional<double> primary() {
    const char c = peek();
    if (is_digit(c) || c == '.') {
      const std::size_t start = pos_;
      while (is_digit(peek())) ++pos_;
      bool integer = true;
      if (peek() == '.') {
        integer = false;
        ++pos_;
        while (is_digit(peek())) ++pos_;
      }
      // scientific notation: 1e-05, 1.5E3, 1e+20 (an exponent needs digits after the optional sign)
      if ((peek() == 'e' || peek() == 'E') && pos_ > start) {
        std::size_t q = pos_ + 1;
        if (q < s_.size() && (s_[q] == '+' || s_[q] == '-')) ++q;
        if (q < s_.size() && is_digit(s_[q])) {
          integer = false;
          pos_ = q;
          while (is_digit(peek())) ++pos_;
        }
      }
      const std::string lit(s_.substr(start, pos_ - start));
      if (lit == ".") return std::nullopt;
      double v = std::strtod(lit.c_str(), nullptr);
      // mixed number: 1\frac{4}{5}
      if (integer && s_.substr(pos_).starts_with("\\frac{")) {
        const std::size_t save = pos_;
        pos_ += 5;
        auto num = integer_group();
        auto den = integer_group();
        if (num && den && *den != 0.0) return v + *num / *den;
        pos_ = save;
      }
      return v;
    }
    if (c == '(') return group('(', ')');
    if (c == '{') return group('{', '}');
    if (eat("\\frac")) {
      auto num = group('{', '}');
      auto den = num ? group('{', '}') : std::nullopt;
      if (!num || !den || *den == 0.0) return std::nullopt;
      return *num / *den;
    }
    if (eat("\\sqrt")) {
      double index = 2.0;
      if (peek() == '[') {
        auto n = group('[', ']');
        if (!n || *n == 0.0) return std::nullopt;
        index = *n;
      }
      auto arg = group('{', '}');
      if (!arg || *arg < 0.0) return std::nullopt;
      return index == 2.0 ? std::sqrt(*arg) : std::pow(*arg, 1.0 / index);
    }
    if (eat("\\pi")) return std::numbers::pi;
    return std::nullopt;
  }

  /// {digits} -> value, for mixed numbers only.
  std::optional<double> integer_group() {
    if (peek() != '{') return std::nullopt;
    std::size_t end = pos_ + 1;
    while (end < s_.size() && is_digit(s_[end])) ++end;
    if (end == pos_ + 1 || end >= s_.size() || s_[end] != '}') return std::nullopt;
    const double v = std::strtod(std::string(s_.substr(pos_ + 1, end - pos_ - 1)).c_str(), nullptr);
    pos_ = end + 1;
    return v;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

/// Splits at top-level commas (outside any (), [], {}).
inline std::vector<std::string_view> split_top_level(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == sep && depth == 0) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

/// True when s[0] opens a bracket that closes exactly at s.back().
inline bool wrapped(std::string_view s) {
  if (s.size() < 2) return false;
  const char o = s.front();
  if (o != '(' && o != '[' && o != '{') return false;
  const char cl = s.back();
  if (cl != ')' && cl != ']' && cl != '}') return false;
  int depth = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (depth == 0 && i + 1 < s.size()) return false;
  }
  return depth == 0;
}

inline bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

inline std::string strip_braces(std::string_view s) {
  std::string out;
  for (char c : s) if (c != '{' && c != '}') out += c;
  return out;
}

}  // namespace detail

/// The numeric value of a normalised answer, when it is plain arithmetic (see NumberParser).
/// A trailing '%' is NOT applied here; see `equivalent_normalized`.
inline std::optional<double> evaluate_number(std::string_view normalized) {
  if (!normalized.empty() && normalized.back() == '%') normalized.remove_suffix(1);
  if (normalized.empty()) return std::nullopt;
  return detail::NumberParser(normalized).parse();
}

/// Numeric equality: two integers (exactly representable, |x| < 2^53) are equal only when equal
/// (32349 is not 32348, 120006 is not 120000); otherwise within relative tolerance `rel_tol`
/// (decimals, fractions, roots: 0.3333 vs 1/3).
inline bool numbers_close(double a, double b, double rel_tol) {
  if (a == b) return true;
  constexpr double kExact = 9007199254740992.0;  // 2^53
  // an integer, or a value within float rounding of one (1.20006 \times 10^5 is 120006)
  const auto integral = [](double x) {
    return std::isfinite(x) && std::fabs(x) < kExact && std::fabs(x - std::round(x)) <= 1e-9 * std::max(1.0, std::fabs(x));
  };
  if (integral(a) && integral(b)) return std::round(a) == std::round(b);
  return std::fabs(a - b) <= rel_tol * std::max(std::fabs(a), std::fabs(b));
}

inline bool equivalent_normalized(std::string_view a, std::string_view b, const EquivalenceOptions& opt = {},
                                  int depth = 0);

namespace detail {

inline bool sequences_equivalent(std::string_view a, std::string_view b, const EquivalenceOptions& opt, int depth) {
  // matrices
  constexpr std::string_view kBegin = "\\begin{pmatrix}", kEnd = "\\end{pmatrix}";
  auto matrix_body = [&](std::string_view s) -> std::optional<std::string_view> {
    if (s.starts_with(kBegin) && s.ends_with(kEnd)) return s.substr(kBegin.size(), s.size() - kBegin.size() - kEnd.size());
    return std::nullopt;
  };
  if (auto ma = matrix_body(a), mb = matrix_body(b); ma && mb) {
    auto split_rows = [](std::string_view m) {
      std::vector<std::vector<std::string_view>> rows;
      std::size_t start = 0;
      while (true) {
        const std::size_t p = m.find("\\\\", start);
        std::string_view row = m.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start);
        if (!row.empty()) rows.push_back(split_top_level(row, '&'));
        if (p == std::string_view::npos) break;
        start = p + 2;
      }
      return rows;
    };
    const auto ra = split_rows(*ma), rb = split_rows(*mb);
    if (ra.size() != rb.size()) return false;
    for (std::size_t r = 0; r < ra.size(); ++r) {
      if (ra[r].size() != rb[r].size()) return false;
      for (std::size_t c = 0; c < ra[r].size(); ++c) {
        if (!equivalent_normalized(ra[r][c], rb[r][c], opt, depth + 1)) return false;
      }
    }
    return true;
  }
  const bool wa = wrapped(a), wb = wrapped(b);
  char oa = wa ? a.front() : '\0', ca = wa ? a.back() : '\0';
  char ob = wb ? b.front() : '\0', cb = wb ? b.back() : '\0';
  std::string_view ia = wa ? a.substr(1, a.size() - 2) : a;
  std::string_view ib = wb ? b.substr(1, b.size() - 2) : b;
  const auto pa = split_top_level(ia, ','), pb = split_top_level(ib, ',');
  if (pa.size() != pb.size()) return false;
  if (pa.size() < 2 && !(wa && wb)) return false;  // not sequences
  const bool set_a = !wa || oa == '{', set_b = !wb || ob == '{';
  if (set_a && set_b) {  // sets / bare lists: multiset match
    std::vector<bool> used(pb.size(), false);
    for (const auto& x : pa) {
      bool matched = false;
      for (std::size_t j = 0; j < pb.size() && !matched; ++j) {
        if (!used[j] && equivalent_normalized(x, pb[j], opt, depth + 1)) used[j] = matched = true;
      }
      if (!matched) return false;
    }
    return true;
  }
  // tuples / intervals: brackets must agree (a bare list also matches a parenthesised tuple)
  const bool brackets_ok = (wa && wb && oa == ob && ca == cb) ||
                           (!wa && wb && ob == '(' && cb == ')') || (wa && !wb && oa == '(' && ca == ')');
  if (!brackets_ok) return false;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    if (!equivalent_normalized(pa[i], pb[i], opt, depth + 1)) return false;
  }
  return true;
}

}  // namespace detail

/// A plain integer literal ("-0012", "12345678901234567") in canonical form ("-12"), else nullopt:
/// integers of any size compare digit by digit, never through a double.
inline std::optional<std::string> plain_integer(std::string_view s) {
  std::size_t i = 0;
  std::string out;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    if (s[0] == '-') out = "-";
    i = 1;
  }
  if (i >= s.size()) return std::nullopt;
  for (std::size_t k = i; k < s.size(); ++k) {
    if (s[k] < '0' || s[k] > '9') return std::nullopt;
  }
  while (i + 1 < s.size() && s[i] == '0') ++i;
  out += s.substr(i);
  if (out == "-0") out = "0";
  return out;
}

/// Equivalence of two already-normalised answers (rules at the top of this file).
inline bool equivalent_normalized(std::string_view a, std::string_view b, const EquivalenceOptions& opt, int depth) {
  if (depth > 16) return false;
  if (a.empty() || b.empty()) return a.empty() && b.empty();
  if (detail::iequal(a, b)) return true;
  if (const auto ia = plain_integer(a), ib = plain_integer(b); ia && ib) return *ia == *ib;
  const auto va = evaluate_number(a), vb = evaluate_number(b);
  if (va && vb) {
    const bool pa = a.back() == '%', pb = b.back() == '%';
    if (numbers_close(*va, *vb, opt.rel_tol)) return true;
    if (pa != pb) {
      return pa ? numbers_close(*va / 100.0, *vb, opt.rel_tol) : numbers_close(*va, *vb / 100.0, opt.rel_tol);
    }
    return false;
  }
  if (detail::sequences_equivalent(a, b, opt, depth)) return true;
  const std::size_t ea = a.find('='), eb = b.find('=');
  if (ea != std::string_view::npos && eb != std::string_view::npos && a.find('=', ea + 1) == std::string_view::npos &&
      b.find('=', eb + 1) == std::string_view::npos) {
    const auto la = a.substr(0, ea), ra = a.substr(ea + 1), lb = b.substr(0, eb), rb = b.substr(eb + 1);
    if ((equivalent_normalized(la, lb, opt, depth + 1) && equivalent_normalized(ra, rb, opt, depth + 1)) ||
        (equivalent_normalized(la, rb, opt, depth + 1) && equivalent_normalized(ra, lb, opt, depth + 1))) {
      return true;
    }
  }
  // one side "v=expr" with a short variable name: compare expr with the other side
  if ((ea == std::string_view::npos) != (eb == std::string_view::npos)) {
    const std::string_view eqn = ea != std::string_view::npos ? a : b, other = ea != std::string_view::npos ? b : a;
    const std::size_t e = std::min(ea, eb);
    if (eqn.find('=', e + 1) == std::string_view::npos) {
      if (e <= 2 && equivalent_normalized(eqn.substr(e + 1), other, opt, depth + 1)) return true;
      if (eqn.size() - e - 1 <= 2 && equivalent_normalized(eqn.substr(0, e), other, opt, depth + 1)) return true;
    }
  }
  return detail::iequal(detail::strip_braces(a), detail::strip_braces(b));
}

/// Equivalence of two raw answers (each normalised first).
inline bool answers_equivalent(std::string_view a, std::string_view b, const EquivalenceOptions& opt = {}) {
  return equivalent_normalized(normalize_answer(a), normalize_answer(b), opt);
}

/// Grades a response against a reference: extracts the response's final answer and compares it
/// with the reference (itself normalised; a reference that contains \boxed is extracted first).
struct Grade {
  std::string extracted;
  std::string normalized;
  std::string rule;
  bool correct = false;
};

inline Grade grade(std::string_view response, std::string_view reference, const EquivalenceOptions& opt = {}) {
  Grade g;
  const Extraction e = extract_answer(response);
  g.extracted = e.answer;
  g.rule = std::string(e.rule);
  g.normalized = normalize_answer(e.answer);
  std::string ref(reference);
  if (ref.find("\\boxed") != std::string::npos || ref.find("\\fbox") != std::string::npos ||
      ref.find("####") != std::string::npos) {
    ref = extract_answer(ref).answer;  // a whole reference solution: take its final answer
  }
  g.correct = e.found() && equivalent_normalized(g.normalized, normalize_answer(ref), opt);
  return g;
}

}  // namespace ttsearch::answer
