#pragma once
/// Answer normalisation: Qwen2.5-Math's `strip_string` (formats.md section 6.2), in order, with
/// these deliberate differences (each fixes a bug of the Python rule):
///   - "and" and "or" are replaced as WORDS by ',' (Qwen deletes every substring "and", turning
///     "1 and 2" into "12" and mangling \land; "x = 1 or x = 2" lists two answers);
///   - a percent sign is kept as a trailing '%' so equivalence can compare 50% with 0.5 exactly
///     once; Qwen deletes it and then tries x100 and /100 on every number;
///   - "j" is not rewritten to "i" (it breaks answers that use j as a variable);
///   - unit words are a short, unambiguous list (no single letters such as "m"), removed with a
///     power written after them ("15\mbox{ cm}^2" is 15, not 15^2);
///   - "percent" is a percent sign, the degree sign ° is removed like ^\circ, and LaTeX's 1{,}000
///     is 1,000;
///   - "k=v" keeps v only when k is a name (x=5 is 5; 2=x stays 2=x);
///   - text that normalises to nothing ("percent", "and") stays itself, not "no answer".
/// Thousands separators ("1,000") are removed when the whole answer is one such number.
#include <array>
#include <cctype>
#include <string>
#include <string_view>

#include "ttsearch/answer/extract.hpp"

namespace ttsearch::answer {

namespace detail {

inline bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

/// Replaces `word` by `to` wherever it stands as a whole word (not inside a longer word and not
/// right after a backslash, so LaTeX commands are never touched).
inline void replace_word(std::string& s, std::string_view word, std::string_view to) {
  std::size_t pos = 0;
  while ((pos = s.find(word, pos)) != std::string::npos) {
    const bool left_ok = pos == 0 || (!is_word_char(s[pos - 1]) && s[pos - 1] != '\\');
    const std::size_t end = pos + word.size();
    const bool right_ok = end >= s.size() || !is_word_char(s[end]);
    if (left_ok && right_ok) {
      s.replace(pos, word.size(), to);
      pos += to.size();
    } else {
      pos = end;
    }
  }
}

/// Removes the whole word `unit` with a power written after it (cm^2, cm^{3}).
inline void remove_unit(std::string& s, std::string_view unit) {
  std::size_t pos = 0;
  while ((pos = s.find(unit, pos)) != std::string::npos) {
    const bool left_ok = pos == 0 || (!is_word_char(s[pos - 1]) && s[pos - 1] != '\\');
    std::size_t end = pos + unit.size();
    if (!left_ok || (end < s.size() && is_word_char(s[end]))) {
      pos = end;
      continue;
    }
    // the power may follow a closing brace: \text{ cm}^2
    const std::size_t p = end < s.size() && s[end] == '}' ? end + 1 : end;
    std::size_t power = 0;
    if (p + 1 < s.size() && s[p] == '^' && is_digit(s[p + 1])) {
      power = 2;
    } else if (p + 3 < s.size() && s.compare(p, 2, "^{") == 0 && is_digit(s[p + 2]) && s[p + 3] == '}') {
      power = 4;
    }
    s.erase(p, power);
    s.erase(pos, end - pos);
  }
}

/// Replaces every `\cmd{X}` by `X` (brace-matched), for cmd in text, textbf, mbox, mathrm, ...
inline void unwrap_command(std::string& s, std::string_view cmd) {
  const std::string needle = std::string("\\") + std::string(cmd) + "{";
  std::size_t pos = 0;
  while ((pos = s.find(needle, pos)) != std::string::npos) {
    const std::size_t open = pos + needle.size() - 1;
    const std::size_t close = match_brace(s, open);
    if (close == std::string::npos) break;
    std::string inner = s.substr(open + 1, close - open - 1);
    s.replace(pos, close - pos + 1, inner);
    pos += inner.size();
  }
}

/// `\frac12` -> `\frac{1}{2}`, `\frac1{72}` -> `\frac{1}{72}`, `\frac{1}2` -> `\frac{1}{2}`.
inline std::string fix_fracs(const std::string& s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 5, "\\frac") == 0 && (i + 5 >= s.size() || !std::isalpha(static_cast<unsigned char>(s[i + 5])))) {
      out += "\\frac";
      i += 5;
      for (int arg = 0; arg < 2 && i < s.size(); ++arg) {
        if (s[i] == '{') {
          const std::size_t close = match_brace(s, i);
          if (close == std::string::npos) break;
          out.append(s, i, close - i + 1);
          i = close + 1;
        } else if (s[i] == '\\') {
          break;  // a command argument (\frac\pi2): leave as is
        } else {
          out += '{';
          out += s[i++];
          out += '}';
        }
      }
    } else {
      out += s[i++];
    }
  }
  return out;
}

inline bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) if (!is_digit(c)) return false;
  return true;
}

/// "int/int" -> "\frac{a}{b}" (whole string only, as Qwen does).
inline std::string fix_a_slash_b(const std::string& s) {
  const std::size_t slash = s.find('/');
  if (slash == std::string::npos || s.find('/', slash + 1) != std::string::npos) return s;
  std::string_view a = std::string_view(s).substr(0, slash);
  std::string_view b = std::string_view(s).substr(slash + 1);
  bool neg = false;
  if (!a.empty() && a.front() == '-') { neg = true; a.remove_prefix(1); }
  if (!all_digits(a) || !all_digits(b)) return s;
  return std::string(neg ? "-" : "") + "\\frac{" + std::string(a) + "}{" + std::string(b) + "}";
}

/// `\sqrt2` -> `\sqrt{2}`, `\sqrtx` -> `\sqrt{x}` (Qwen: \sqrt(\w+)).
inline std::string fix_sqrt(const std::string& s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 5, "\\sqrt") == 0 && i + 5 < s.size() && is_word_char(s[i + 5])) {
      std::size_t j = i + 5;
      while (j < s.size() && is_word_char(s[j])) ++j;
      out += "\\sqrt{" + s.substr(i + 5, j - i - 5) + "}";
      i = j;
    } else {
      out += s[i++];
    }
  }
  return out;
}

/// Drops an all-zero decimal part: "2.0" -> "2", "2.00x" -> "2x", "2.50" unchanged.
inline std::string drop_zero_decimals(const std::string& s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '.' && i > 0 && is_digit(s[i - 1])) {
      std::size_t j = i + 1;
      while (j < s.size() && s[j] == '0') ++j;
      if (j > i + 1 && (j >= s.size() || !is_digit(s[j]))) {  // ".000" then a non-digit or end
        i = j;
        continue;
      }
      if (j == i + 1 && (j >= s.size() || !is_digit(s[j]))) {  // "2." followed by a non-digit
        i = j;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

/// The whole string as one thousands-separated number ("1,234,567.5") -> commas removed.
inline std::string drop_thousands_commas(const std::string& s) {
  std::string_view v = s;
  if (!v.empty() && v.front() == '-') v.remove_prefix(1);
  const std::size_t dot = v.find('.');
  std::string_view whole = v.substr(0, dot);
  if (whole.find(',') == std::string_view::npos) return s;
  std::size_t group = 0;
  bool first = true;
  for (std::size_t i = 0; i <= whole.size(); ++i) {
    if (i == whole.size() || whole[i] == ',') {
      if ((first && (group == 0 || group > 3)) || (!first && group != 3)) return s;
      first = false;
      group = 0;
    } else if (!is_digit(whole[i])) {
      return s;
    } else {
      ++group;
    }
  }
  if (dot != std::string_view::npos && !all_digits(v.substr(dot + 1))) return s;
  std::string out;
  for (char c : s) if (c != ',') out += c;
  return out;
}

inline constexpr std::array<std::string_view, 21> kNumberWords = {
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty"};

/// Unit and filler words removed after a quantity (bounded words only).
inline constexpr std::array<std::string_view, 43> kUnitWords = {
    "degrees", "degree", "cm", "centimeters", "centimeter", "meters", "meter", "mm", "km",
    "inches", "inch", "feet", "foot", "ft", "miles", "mile", "mph", "kg", "grams", "gram",
    "pounds", "pound", "hours", "hour", "minutes", "minute", "seconds", "days", "weeks",
    "dollars", "dollar", "cents", "cent", "units", "unit", "sq", "square", "cubic", "points",
    "ways", "students", "people", "years"};

}  // namespace detail

/// Normalises an extracted answer for comparison (see the file comment for the rules).
inline std::string normalize_answer(std::string_view input) {
  using detail::replace_all;
  std::string s(detail::trim(input));
  replace_all(s, "{,}", ",");                   // LaTeX thousands: 1{,}000
  replace_all(s, "\xc2\xb0", "");              // the degree sign (UTF-8), as ^\circ below
  detail::replace_word(s, "percent", "\\%");   // "50 percent" is 50%, not the unit-free 50
  // 1. newlines, trailing '.', "\!"
  replace_all(s, "\n", "");
  while (!s.empty() && s.back() == '.') s.pop_back();
  replace_all(s, "\\!", "");
  // 2. matrices
  for (std::string_view env : {"array", "bmatrix", "vmatrix", "matrix*", "matrix"}) {
    // \begin{array}{cc} -> \begin{pmatrix}
    const std::string begin = std::string("\\begin{") + std::string(env) + "}";
    std::size_t pos;
    while ((pos = s.find(begin)) != std::string::npos) {
      std::size_t after = pos + begin.size();
      if (env == "array" && after < s.size() && s[after] == '{') {
        const std::size_t close = detail::match_brace(s, after);
        if (close != std::string::npos) after = close + 1;
      }
      s.replace(pos, after - pos, "\\begin{pmatrix}");
    }
    replace_all(s, std::string("\\end{") + std::string(env) + "}", "\\end{pmatrix}");
  }
  // 3. frac variants and relations
  replace_all(s, "\\tfrac", "\\frac");
  replace_all(s, "\\dfrac", "\\frac");
  replace_all(s, "\\cfrac", "\\frac");
  replace_all(s, "\\neq", "\\ne");
  replace_all(s, "\\leq", "\\le");
  replace_all(s, "\\geq", "\\ge");
  // 4. \left \right, escaped braces
  replace_all(s, "\\left", "");
  replace_all(s, "\\right", "");
  replace_all(s, "\\{", "{");
  replace_all(s, "\\}", "}");
  // boxed inside an answer ("\boxed{5}" given as the answer itself)
  detail::unwrap_command(s, "boxed");
  // 5. a trailing \text{...} (units), unless it is the whole answer
  if (const auto t = s.rfind("\\text{"); t != std::string::npos && t > 0) {
    const std::size_t close = detail::match_brace(s, t + 5);
    if (close == s.size() - 1) {
      // only a unit after a quantity: the head must hold a digit and not end in a relation
      std::string head(detail::trim(std::string_view(s).substr(0, t)));
      const bool quantity = head.find_first_of("0123456789") != std::string::npos &&
                            head.back() != '=' && head.back() != ',';
      if (quantity) s = head;
    }
  }
  // LaTeX spacing commands
  replace_all(s, "\\\\", "\x01");  // protect "\\" (matrix rows) from the "\ " rule
  for (std::string_view sp : {"\\qquad", "\\quad", "\\,", "\\;", "\\:", "\\ ", "~"}) replace_all(s, sp, " ");
  replace_all(s, "\x01", "\\\\");
  // 6. unit words with their power (cm^2: only when something is left)
  for (std::string_view unit : detail::kUnitWords) {
    std::string t = s;
    detail::remove_unit(t, unit);
    if (!detail::trim(t).empty()) s = t;
  }
  // 7. degrees and dollar signs, \( \)
  replace_all(s, "^{\\circ}", "");
  replace_all(s, "^\\circ", "");
  replace_all(s, "\\circ", "");
  replace_all(s, "\\$", "");
  replace_all(s, "$", "");
  replace_all(s, "\\(", "");
  replace_all(s, "\\)", "");
  // 8. number words (the whole answer only)
  {
    const std::string low = detail::lower(detail::trim(s));
    for (std::size_t i = 0; i < detail::kNumberWords.size(); ++i) {
      if (low == detail::kNumberWords[i]) s = std::to_string(i);
    }
  }
  // 9. \text{X} -> X; x= / x\in prefixes; empty set; all reals
  for (std::string_view cmd : {"text", "textbf", "textit", "mbox", "mathrm", "mathbf", "operatorname"}) {
    detail::unwrap_command(s, cmd);
  }
  replace_all(s, "\\emptyset", "{}");
  replace_all(s, "\\varnothing", "{}");
  // 10. percent: normalised to one trailing '%'
  bool percent = false;
  for (std::string_view p : {"\\%", "%"}) {
    if (s.find(p) != std::string::npos) {
      percent = true;
      replace_all(s, p, "");
    }
  }

  detail::replace_word(s, "and", ",");
  detail::replace_word(s, "or", ",");  // "x = 1 or x = 2": several answers
  // 11. " ." -> " 0.", "{." -> "{0."
  replace_all(s, " .", " 0.");
  replace_all(s, "{.", "{0.");
  // 13. infinity
  replace_all(s, "infinity", "\\infty");
  if (s.find("\\infty") == std::string::npos) detail::replace_word(s, "inf", "\\infty");
  // 21. all spaces (done before the k=v rule so "x = 5" is seen as "x=5")
  {
    std::string t;
    for (char c : s) if (!std::isspace(static_cast<unsigned char>(c))) t += c;
    s = t;
  }
  while (s.find(",,") != std::string::npos) replace_all(s, ",,", ",");
  if (!s.empty() && s.front() == ',') s.erase(0, 1);
  if (!s.empty() && s.back() == ',') s.pop_back();
  // 19. "k=v" with a short left side that is a name (x=5, k_1... not 2=x) -> v
  if (const auto eq = s.find('='); eq != std::string::npos && eq <= 2 && eq > 0 &&
                                      std::isalpha(static_cast<unsigned char>(s[0])) &&
                                      s.find('=', eq + 1) == std::string::npos) {
    s = s.substr(eq + 1);
  }
  for (std::string_view pre : {"x\\in", "y\\in", "z\\in", "x\\to", "y\\to", "z\\to"}) {
    if (s.rfind(pre, 0) == 0) s.erase(0, pre.size());
  }
  if (s == "(-\\infty,\\infty)") s = "\\mathbb{R}";
  if (s == "+\\infty") s = "\\infty";
  // 17. zero decimals; 18. leading '.'
  s = detail::drop_zero_decimals(s);
  if (!s.empty() && s.front() == '.') s = "0" + s;
  if (s.size() > 1 && s[0] == '-' && s[1] == '.') s = "-0" + s.substr(1);
  s = detail::drop_thousands_commas(s);
  // 20. sqrt, 22. fracs, 23. a/b
  s = detail::fix_sqrt(s);
  s = detail::fix_fracs(s);
  s = detail::fix_a_slash_b(s);
  if (percent && !s.empty()) s += '%';
  // text that normalises to nothing ("percent", "and") stays itself, not "no answer"
  if (s.empty()) {
    for (char c : detail::trim(input)) if (!std::isspace(static_cast<unsigned char>(c))) s += c;
  }
  return s;
}

}  // namespace ttsearch::answer
