#pragma once
/// Answer equivalence on normalised answers (normalize.hpp).
///
/// Two answers are equivalent when, in this order (the first rule that decides names itself in
/// `Decision::rule`, which `ttsearch grade --explain` prints):
///   1. `string`: their normalised strings are equal (case-insensitively);
///   2. `integer`: both are integer literals: equal digit by digit (any size, never rounded);
///   3. both evaluate to numbers (see `evaluate_number`), which decides:
///      `number`: within relative tolerance `rel_tol` (1e-4, Qwen's `math_equal`), except that
///      two integers must be equal exactly; `percent`: exactly one side is a percentage and x%
///      matches x/100 (so 50% == 0.5 == 50); `precision`: one side is a decimal literal with
///      k >= 2 decimals and the other an exact value (no decimal point) that rounds to it at k
///      decimals (1.73 == \sqrt{3}, 0.333 == \frac{1}{3}; 1.7 is too coarse to claim \sqrt{3});
///   4. `decimal_comma`: one side is "d,dd" (a comma not followed by exactly three digits, so not
///      thousands) and the other a number equal to it with the comma read as a decimal point;
///   5. sequences: `matrix` (cell by cell), `tuple` / `interval` (same brackets, element by
///      element: [0,1) is not (0,1)), `set` ({a,b} and bare lists "a,b" as multisets: order
///      ignored, so "x=1,x=2" matches "2,1");
///   6. `union`: both are unions (\cup) of the same parts in any order;
///   7. `equation`: both "l=r" with equivalent sides (either way round); `variable_value`: one
///      side "v=e" with a name of at most two characters and e equivalent to the other side;
///   8. `inequality`: both are relation chains (<, >, \le, \ge, \ne) that agree once written
///      with < and \le (x>2 == 2<x); `inequality_interval`: a chain bounding a single letter on
///      one side and the interval it describes on the other (x\ge2 == [2,\infty));
///   9. `symbolic`: both parse as expressions (math.hpp) with the same value at fixed points of
///      their symbols: (x+1)^2 == x^2+2x+1, a+b == b+a, \sin^2x+\cos^2x == 1, e^{i\pi} == -1;
///      tolerance 1e-9 relative, `rel_tol` when a side has a decimal literal;
///  10. `braces`: the strings are equal after removing every '{' and '}' (only when the symbolic
///      test could not decide, and never when a side is a set).
/// Otherwise `none` (not equivalent).
///
/// Limits: no general computer algebra (identities are tested numerically, math.hpp says how);
/// \infty only compares as text; units other than the removed unit words; answers whose meaning
/// depends on the question (a multiple-choice letter vs the option's text); a bare "1,5" is a
/// list unless the other side is a single number. Time per comparison is bounded: expressions
/// over math::kMaxChars characters are not parsed, recursion stops at depth 16, sets and lists of
/// more than 64 elements are matched by exact strings. Older normalisation rules the equality
/// inherits: unit words are removed (5 cm equals 5 km), vmatrix reads as pmatrix, and strings
/// compare case-insensitively (\Gamma equals \gamma).
#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ttsearch/answer/math.hpp"
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
    bool negative = false;  // signs in a loop: "----5" must not recurse once per sign
    while (true) {
      if (eat("-")) {
        negative = !negative;
      } else if (!eat("+")) {
        break;
      }
    }
    auto v = power();
    return v && negative ? std::optional<double>(-*v) : v;
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

/// Splits `s` at `token` where it stands outside any (), [], {} (a command token such as \cup
/// must not run on into letters: "\cup" does not split "\cupcake").
inline std::vector<std::string_view> split_top_level_token(std::string_view s, std::string_view token) {
  std::vector<std::string_view> parts;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (depth == 0 && s.substr(i, token.size()) == token &&
        !(token.size() > 1 && token[0] == '\\' && std::isalpha(static_cast<unsigned char>(token[1])) &&
          i + token.size() < s.size() && std::isalpha(static_cast<unsigned char>(s[i + token.size()])))) {
      parts.push_back(s.substr(start, i - start));
      start = i + token.size();
      i = start - 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

/// Splits at top-level `sep` (outside any (), [], {}).
inline std::vector<std::string_view> split_top_level(std::string_view s, char sep) {
  return split_top_level_token(s, std::string_view(&sep, 1));
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

/// Doubles represent every integer below this (2^53) exactly, and not all above it.
inline constexpr double kExactInteger = 9007199254740992.0;

/// Numeric equality: two integers (exactly representable, |x| < 2^53) are equal only when equal
/// (32349 is not 32348, 120006 is not 120000); otherwise within relative tolerance `rel_tol`
/// (decimals, fractions, roots: 0.3333 vs 1/3).
inline bool numbers_close(double a, double b, double rel_tol) {
  if (a == b) return true;
  // an integer, or a value within float rounding of one (1.20006 \times 10^5 is 120006)
  // (a non-zero integer is at least 1: 1.6\times10^{-19} is not the integer 0)
  const auto integral = [](double x) {
    return std::isfinite(x) && std::fabs(x) < kExactInteger && (x == 0.0 || std::fabs(x) >= 0.5) &&
           std::fabs(x - std::round(x)) <= 1e-9 * std::max(1.0, std::fabs(x));
  };
  if (integral(a) && integral(b)) return std::round(a) == std::round(b);
  return std::fabs(a - b) <= rel_tol * std::max(std::fabs(a), std::fabs(b));
}

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

/// The outcome of an equivalence test and the rule that decided it (see the top of this file).
struct Decision {
  bool equal = false;
  std::string_view rule = "none";
};

inline Decision decide_equivalence(std::string_view a, std::string_view b, const EquivalenceOptions& opt = {},
                                   int depth = 0);

inline bool equivalent_normalized(std::string_view a, std::string_view b, const EquivalenceOptions& opt = {},
                                  int depth = 0) {
  return decide_equivalence(a, b, opt, depth).equal;
}

namespace detail {

/// The number of decimals of a plain decimal literal ("-1.730" -> 3), else nullopt.
inline std::optional<int> stated_decimals(std::string_view s) {
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  const std::size_t dot = s.find('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i != dot && !is_digit(s[i])) return std::nullopt;
  }
  if (dot + 1 >= s.size()) return std::nullopt;
  return static_cast<int>(s.size() - dot - 1);
}

/// True when `s` writes a value inexactly: a decimal point or scientific notation (1e+20).
inline bool inexact_literal(std::string_view s) {
  if (s.find('.') != std::string_view::npos) return true;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    if ((s[i] == 'e' || s[i] == 'E') && is_digit(s[i - 1]) &&
        (is_digit(s[i + 1]) || ((s[i + 1] == '-' || s[i + 1] == '+') && i + 2 < s.size() && is_digit(s[i + 2])))) {
      return true;
    }
  }
  return false;
}

/// Two numbers (`va` the value of `a`, `vb` of `b`): rule 3.
inline Decision numbers_decision(std::string_view a, double va, std::string_view b, double vb, const EquivalenceOptions& opt) {
  // exact values beyond 2^53 have no exact double: distinct integers there (2^{100} vs
  // 2^{100}+1) would round together, so they are not called equal
  if ((std::fabs(va) >= kExactInteger || std::fabs(vb) >= kExactInteger) && !inexact_literal(a) && !inexact_literal(b)) {
    return {false, "number"};
  }
  if (numbers_close(va, vb, opt.rel_tol)) return {true, "number"};
  const bool pa = a.back() == '%', pb = b.back() == '%';
  if (pa != pb) {
    const bool eq = pa ? numbers_close(va / 100.0, vb, opt.rel_tol) : numbers_close(va, vb / 100.0, opt.rel_tol);
    return {eq, "percent"};
  }
  // a decimal of k >= 2 decimals against an exact value: equal when the value rounds to it
  if (!pa && std::fabs(va - vb) < 0.005 && (a.find('.') == std::string_view::npos) != (b.find('.') == std::string_view::npos)) {
    const bool decimal_a = a.find('.') != std::string_view::npos;
    const auto k = stated_decimals(decimal_a ? a : b);
    if (k && *k >= 2 && !inexact_literal(decimal_a ? b : a)) {
      return {std::fabs(va - vb) <= 0.5 * std::pow(10.0, -*k) * (1.0 + 1e-9), "precision"};
    }
  }
  return {false, "number"};
}

/// "2,74" -> "2.74": one comma between digits, not followed by exactly three digits.
inline std::optional<std::string> decimal_comma(std::string_view s) {
  const std::size_t comma = s.find(',');
  if (comma == std::string_view::npos || s.find(',', comma + 1) != std::string_view::npos) return std::nullopt;
  std::string_view whole = s.substr(0, comma), frac = s.substr(comma + 1);
  if (!whole.empty() && whole.front() == '-') whole.remove_prefix(1);
  if (whole.empty() || frac.empty() || frac.size() == 3) return std::nullopt;
  for (char c : whole) if (!is_digit(c)) return std::nullopt;
  for (char c : frac) if (!is_digit(c)) return std::nullopt;
  if (frac.find_first_not_of('0') == std::string_view::npos) return std::string(s.substr(0, comma));  // 0,00 is 0, as 0.00
  std::string out(s);
  out[comma] = '.';
  return out;
}


/// A relation chain "a<b\le c": sides and operators, written with < and \le only (a chain with
/// > or \ge is reversed). Nullopt when `s` has no top-level <, >, \le, \ge, \ne, or mixes
/// directions.
struct Relation {
  std::vector<std::string_view> sides;
  std::vector<std::string_view> ops;  // "<", "\le", "\ne"
};

inline std::optional<Relation> parse_relation(std::string_view s) {
  Relation r;
  int depth = 0, up = 0, down = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (depth != 0) continue;
    std::string_view op;
    std::size_t len = 0;
    // \le etc.; spaces were removed, so "x \ge y" reads "x\gey": one letter may follow
    const auto command = [&](std::string_view name) {
      if (s.substr(i, name.size()) != name) return false;
      std::size_t run = 0;
      while (i + name.size() + run < s.size() && std::isalpha(static_cast<unsigned char>(s[i + name.size() + run]))) ++run;
      return run <= 1 && !(run == 1 && (s[i + name.size()] == 'q' || s[i + name.size()] == 'g'));
    };
    if (c == '<') { op = "<"; len = 1; ++up; }
    else if (c == '>') { op = ">"; len = 1; ++down; }
    else if (command("\\lt")) { op = "<"; len = 3; ++up; }
    else if (command("\\gt")) { op = ">"; len = 3; ++down; }
    else if (command("\\le")) { op = "\\le"; len = 3; ++up; }
    else if (command("\\ge")) { op = "\\ge"; len = 3; ++down; }
    else if (command("\\ne")) { op = "\\ne"; len = 3; }
    else continue;
    r.sides.push_back(s.substr(start, i - start));
    r.ops.push_back(op);
    start = i + len;
    i = start - 1;
  }
  if (r.ops.empty() || (up > 0 && down > 0)) return std::nullopt;
  r.sides.push_back(s.substr(start));
  for (const auto side : r.sides) if (side.empty() || side.find('=') != std::string_view::npos) return std::nullopt;
  if (down > 0) {
    std::reverse(r.sides.begin(), r.sides.end());
    std::reverse(r.ops.begin(), r.ops.end());
    for (auto& op : r.ops) op = op == ">" ? "<" : op == "\\ge" ? "\\le" : op;
  }
  return r;
}

/// The interval a chain bounding one letter describes: x<2 -> (-\infty,2), 1\le x<3 -> [1,3).
inline std::optional<std::string> relation_interval(const Relation& r) {
  const auto letter = [](std::string_view v) { return v.size() == 1 && std::isalpha(static_cast<unsigned char>(v[0])); };
  const auto open = [](std::string_view op) { return op == "<"; };
  if (std::find(r.ops.begin(), r.ops.end(), "\\ne") != r.ops.end()) return std::nullopt;
  if (r.sides.size() == 3 && letter(r.sides[1])) {
    return std::string(open(r.ops[0]) ? "(" : "[") + std::string(r.sides[0]) + "," + std::string(r.sides[2]) +
           (open(r.ops[1]) ? ")" : "]");
  }
  if (r.sides.size() != 2) return std::nullopt;
  if (letter(r.sides[0]) && !letter(r.sides[1])) {
    return "(-\\infty," + std::string(r.sides[1]) + (open(r.ops[0]) ? ")" : "]");
  }
  if (letter(r.sides[1]) && !letter(r.sides[0])) {
    return std::string(open(r.ops[0]) ? "(" : "[") + std::string(r.sides[0]) + ",\\infty)";
  }
  return std::nullopt;
}

/// Above this many elements, sets and lists are matched by exact (sorted) strings: pairwise
/// equivalence is quadratic in the element count.
inline constexpr std::size_t kMaxMatchedElements = 64;

/// Multiset match: every part of `pa` pairs with a distinct equivalent part of `pb`.
inline bool same_multiset(const std::vector<std::string_view>& pa, const std::vector<std::string_view>& pb,
                          const EquivalenceOptions& opt, int depth) {
  if (pa.size() != pb.size()) return false;
  if (pa.size() > kMaxMatchedElements) {
    auto sa = pa, sb = pb;
    std::sort(sa.begin(), sa.end());
    std::sort(sb.begin(), sb.end());
    return sa == sb;
  }
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

constexpr std::string_view kMatrixBegin = "\\begin{pmatrix}", kMatrixEnd = "\\end{pmatrix}";

inline std::optional<std::string_view> matrix_body(std::string_view s) {
  if (s.starts_with(kMatrixBegin) && s.ends_with(kMatrixEnd) && s.size() >= kMatrixBegin.size() + kMatrixEnd.size()) {
    return s.substr(kMatrixBegin.size(), s.size() - kMatrixBegin.size() - kMatrixEnd.size());
  }
  return std::nullopt;
}

inline std::vector<std::vector<std::string_view>> matrix_rows(std::string_view m) {
  std::vector<std::vector<std::string_view>> rows;
  for (const auto row : split_top_level_token(m, "\\\\")) {
    if (!row.empty()) rows.push_back(split_top_level(row, '&'));
  }
  return rows;
}

/// Rule 5: matrices, tuples, intervals, sets and bare lists. Decides only when both sides are
/// sequences of the same kind; `rule` is "" otherwise.
inline Decision sequences_decision(std::string_view a, std::string_view b, const EquivalenceOptions& opt, int depth) {
  if (auto ma = matrix_body(a), mb = matrix_body(b); ma && mb) {
    const auto ra = matrix_rows(*ma), rb = matrix_rows(*mb);
    if (ra.size() != rb.size()) return {false, "matrix"};
    for (std::size_t r = 0; r < ra.size(); ++r) {
      if (ra[r].size() != rb[r].size()) return {false, "matrix"};
      for (std::size_t c = 0; c < ra[r].size(); ++c) {
        if (!equivalent_normalized(ra[r][c], rb[r][c], opt, depth + 1)) return {false, "matrix"};
      }
    }
    return {true, "matrix"};
  }
  const bool wa = wrapped(a), wb = wrapped(b);
  const char oa = wa ? a.front() : '\0', ca = wa ? a.back() : '\0';
  const char ob = wb ? b.front() : '\0', cb = wb ? b.back() : '\0';
  const std::string_view ia = wa ? a.substr(1, a.size() - 2) : a;
  const std::string_view ib = wb ? b.substr(1, b.size() - 2) : b;
  const auto pa = split_top_level(ia, ','), pb = split_top_level(ib, ',');
  if (pa.size() != pb.size()) return {false, ""};
  if (pa.size() < 2 && !(wa && wb)) return {false, ""};  // not sequences
  const bool set_a = !wa || oa == '{', set_b = !wb || ob == '{';
  if (set_a && set_b) return {same_multiset(pa, pb, opt, depth), "set"};
  // tuples / intervals: brackets must agree (a bare list also matches a parenthesised tuple)
  const bool brackets_ok = (wa && wb && oa == ob && ca == cb) ||
                           (!wa && wb && ob == '(' && cb == ')') || (wa && !wb && oa == '(' && ca == ')');
  const std::string_view rule = (oa == '(' && ca == ')') || (ob == '(' && cb == ')') ? "tuple" : "interval";
  if (!brackets_ok) return {false, ""};
  for (std::size_t i = 0; i < pa.size(); ++i) {
    if (!equivalent_normalized(pa[i], pb[i], opt, depth + 1)) return {false, rule};
  }
  return {true, rule};
}

/// Rule 9: the numeric identity test of math.hpp on two parsed expressions (and rule 3's
/// stated precision for a decimal against a constant the number rules cannot evaluate: 2.72 = e).
inline std::optional<bool> symbolic_equal(std::string_view a, std::string_view b, const EquivalenceOptions& opt) {
  const auto pa = math::parse(a);
  if (!pa) return std::nullopt;
  const auto pb = math::parse(b);
  if (!pb) return std::nullopt;
  if (pa->symbols.empty() && pb->symbols.empty() && (stated_decimals(a) != std::nullopt) != (stated_decimals(b) != std::nullopt)) {
    const bool decimal_a = stated_decimals(a) != std::nullopt;
    const auto& exact = decimal_a ? *pb : *pa;
    const auto value = math::evaluate(exact, {});
    if (!exact.has_decimal && !inexact_literal(decimal_a ? b : a) && std::fabs(value.imag()) < 1e-12 && std::isfinite(value.real())) {
      const double decimal = std::strtod(std::string(decimal_a ? a : b).c_str(), nullptr);
      if (numbers_decision(decimal_a ? a : b, decimal, decimal_a ? b : a, value.real(), opt).equal) return true;
    }
  }
  if (pa->symbols.empty() && pb->symbols.empty()) {
    const auto x = math::evaluate(*pa, {}), y = math::evaluate(*pb, {});
    // integers too large for a double are not told apart by value (2^{100} vs 2^{100}+1)
    if (std::fabs(x.real()) >= kExactInteger || std::fabs(y.real()) >= kExactInteger) return std::nullopt;
    // two integer values compare exactly (13! is not 6227020801)
    const auto integer = [](std::complex<double> z) {
      return std::fabs(z.imag()) < 1e-12 && std::fabs(z.real()) >= 0.5 &&
             std::fabs(z.real() - std::round(z.real())) <= 1e-9 * std::fabs(z.real());
    };
    if (integer(x) && integer(y)) return std::round(x.real()) == std::round(y.real());
  }
  return math::same_value(*pa, *pb, pa->has_decimal || pb->has_decimal ? opt.rel_tol : 1e-9);
}

}  // namespace detail

/// Equivalence of two already-normalised answers, with the rule that decided (rules at the top
/// of this file).
inline Decision decide_equivalence(std::string_view a, std::string_view b, const EquivalenceOptions& opt, int depth) {
  if (depth > 16) return {false, "depth"};
  if (a.empty() || b.empty()) return {a.empty() && b.empty(), "empty"};
  if (detail::iequal(a, b)) return {true, "string"};
  if (const auto ia = plain_integer(a), ib = plain_integer(b); ia && ib) return {*ia == *ib, "integer"};
  const auto va = evaluate_number(a), vb = evaluate_number(b);
  if (va && vb) return detail::numbers_decision(a, *va, b, *vb, opt);
  // 4. decimal comma against a number
  if (va || vb) {
    const auto comma = detail::decimal_comma(va ? b : a);
    if (comma) {
      const auto vc = evaluate_number(*comma);
      if (vc && detail::numbers_decision(*comma, *vc, va ? a : b, va ? *va : *vb, opt).equal) return {true, "decimal_comma"};
    }
  }
  // 5. sequences
  if (const auto d = detail::sequences_decision(a, b, opt, depth); d.equal) return d;
  // 6. unions
  {
    const auto ua = detail::split_top_level_token(a, "\\cup"), ub = detail::split_top_level_token(b, "\\cup");
    if (ua.size() >= 2 && ub.size() >= 2 && detail::same_multiset(ua, ub, opt, depth)) return {true, "union"};
  }
  // 7. equations
  const std::size_t ea = a.find('='), eb = b.find('=');
  if (ea != std::string_view::npos && eb != std::string_view::npos && a.find('=', ea + 1) == std::string_view::npos &&
      b.find('=', eb + 1) == std::string_view::npos) {
    const auto la = a.substr(0, ea), ra = a.substr(ea + 1), lb = b.substr(0, eb), rb = b.substr(eb + 1);
    if ((equivalent_normalized(la, lb, opt, depth + 1) && equivalent_normalized(ra, rb, opt, depth + 1)) ||
        (equivalent_normalized(la, rb, opt, depth + 1) && equivalent_normalized(ra, lb, opt, depth + 1))) {
      return {true, "equation"};
    }
  }
  // one side "v=expr" with a short variable name: compare expr with the other side
  if ((ea == std::string_view::npos) != (eb == std::string_view::npos)) {
    const std::string_view eqn = ea != std::string_view::npos ? a : b, other = ea != std::string_view::npos ? b : a;
    const std::size_t e = std::min(ea, eb);
    // a name: one or two characters starting with a letter (x, k, x1; not 12 or 2x)
    const auto name = [](std::string_view v) {
      return !v.empty() && v.size() <= 2 && std::isalpha(static_cast<unsigned char>(v[0])) &&
             (v.size() == 1 || std::isalnum(static_cast<unsigned char>(v[1])));
    };
    if (eqn.find('=', e + 1) == std::string_view::npos) {
      if (name(eqn.substr(0, e)) && equivalent_normalized(eqn.substr(e + 1), other, opt, depth + 1)) {
        return {true, "variable_value"};
      }
      if (name(eqn.substr(e + 1)) && equivalent_normalized(eqn.substr(0, e), other, opt, depth + 1)) {
        return {true, "variable_value"};
      }
    }
  }
  // 8. inequalities, and an inequality against the interval it describes
  {
    const auto ra = detail::parse_relation(a), rb = detail::parse_relation(b);
    if (ra && rb && ra->ops == rb->ops && ra->sides.size() == rb->sides.size()) {
      bool same = true;
      for (std::size_t i = 0; i < ra->sides.size() && same; ++i) {
        same = equivalent_normalized(ra->sides[i], rb->sides[i], opt, depth + 1);
      }
      if (same) return {true, "inequality"};
    }
    if ((ra != std::nullopt) != (rb != std::nullopt) && detail::wrapped(ra ? b : a)) {  // against an interval, not a list
      const auto interval = detail::relation_interval(ra ? *ra : *rb);
      if (interval && equivalent_normalized(*interval, ra ? b : a, opt, depth + 1)) return {true, "inequality_interval"};
    }
  }
  // 9. symbolic identity (a "different" here is final: \sqrt{x+1} and \sqrt{x}+1 differ only in braces)
  if (const auto sym = detail::symbolic_equal(a, b, opt)) return {*sym, "symbolic"};
  // (never for sets, which the set rule decided: \{(1,2)\} is not (1,2), \{\{1,2\}\} not \{1,2\})
  const bool set_a = detail::wrapped(a) && a.front() == '{', set_b = detail::wrapped(b) && b.front() == '{';
  if (!set_a && !set_b && detail::iequal(detail::strip_braces(a), detail::strip_braces(b))) return {true, "braces"};
  return {false, "none"};
}

/// Equivalence of two raw answers (each normalised first).
inline bool answers_equivalent(std::string_view a, std::string_view b, const EquivalenceOptions& opt = {}) {
  return equivalent_normalized(normalize_answer(a), normalize_answer(b), opt);
}

/// Grades a response against a reference: extracts the response's final answer and compares it
/// with the reference (itself normalised; a reference that contains \boxed is extracted first).
struct Grade {
  std::string extracted;
  std::string normalized;            ///< the response's answer, normalised
  std::string rule;                  ///< the extraction rule (extract.hpp)
  std::string reference_normalized;  ///< the reference's answer, normalised
  std::string decided_by;            ///< the equivalence rule that decided (Decision::rule)
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
  g.reference_normalized = normalize_answer(ref);
  if (!e.found()) {
    g.decided_by = "no_answer";
    return g;
  }
  const Decision d = decide_equivalence(g.normalized, g.reference_normalized, opt);
  g.correct = d.equal;
  g.decided_by = std::string(d.rule);
  return g;
}

/// The parsed form of a normalised answer, for explanations: an S-expression of its structure
/// ((interval [ 0 1 )), (set 1 2), (< 2 x), (= x 3), (matrix (row 1 2)), (+ 1 (* 2 (sqrt 3))))
/// or (text "...") when no rule parses it.
inline std::string describe(std::string_view s, int depth = 0) {
  // (appends, not operator+ on literals: GCC 12 warns falsely about those, -Wrestrict)
  const auto quoted = [](std::string_view t) {
    std::string out = "(text \"";
    out += t;
    return out += "\")";
  };
  if (depth > 8 || s.empty()) return quoted(s);
  const auto list = [&](std::string_view head, const std::vector<std::string_view>& parts) {
    std::string out = "(";
    out += head;
    for (const auto p : parts) {
      out += ' ';
      out += describe(p, depth + 1);
    }
    return out += ')';
  };
  if (s.back() == '%' && s.size() > 1) {
    std::string out = "(percent ";
    out += describe(s.substr(0, s.size() - 1), depth + 1);
    return out += ')';
  }
  if (const auto m = detail::matrix_body(s)) {
    std::string out = "(matrix";
    for (const auto& row : detail::matrix_rows(*m)) {
      out += ' ';
      out += list("row", row);
    }
    return out += ')';
  }
  if (const auto u = detail::split_top_level_token(s, "\\cup"); u.size() >= 2) return list("union", u);
  if (detail::wrapped(s)) {
    const auto parts = detail::split_top_level(s.substr(1, s.size() - 2), ',');
    if (s.front() == '{') return list("set", parts);
    if (parts.size() >= 2) {
      if (s.front() == '(' && s.back() == ')') return list("tuple", parts);
      const auto end = [](char c) { return c == '(' || c == ')' ? "open" : "closed"; };
      std::string head = "interval ";
      head += end(s.front());
      head += '-';
      head += end(s.back());
      return list(head, parts);
    }
  }
  if (const auto parts = detail::split_top_level(s, ','); parts.size() >= 2) return list("list", parts);
  if (const auto eq = s.find('='); eq != std::string_view::npos && s.find('=', eq + 1) == std::string_view::npos) {
    return list("=", {s.substr(0, eq), s.substr(eq + 1)});
  }
  if (const auto r = detail::parse_relation(s)) {
    std::string out = "(";
    out += r->ops.front();
    for (std::size_t i = 0; i < r->sides.size(); ++i) {
      if (i > 0 && r->ops[i - 1] != r->ops.front()) {
        out += ' ';
        out += r->ops[i - 1];
      }
      out += ' ';
      out += describe(r->sides[i], depth + 1);
    }
    return out += ')';
  }
  if (const auto e = math::parse(s)) return math::to_string(*e);
  return quoted(s);
}

/// Equivalence of two raw answers with the rule that decided (each normalised first).
inline Decision explain_equivalence(std::string_view a, std::string_view b, const EquivalenceOptions& opt = {}) {
  return decide_equivalence(normalize_answer(a), normalize_answer(b), opt);
}

}  // namespace ttsearch::answer
