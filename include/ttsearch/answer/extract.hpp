#pragma once
/// Final-answer extraction from a solution text.
///
/// Rules, first match wins (the order of Qwen2.5-Math's `extract_answer`, which search-and-learn
/// uses, with GSM8K and "A:" forms added):
///   1. Minerva: the text between "final answer is $" and "$. I hope"
///   2. the LAST \boxed{...} or \fbox{...} (nested braces kept; also "\boxed 5")
///   3. GSM8K: the text after the last "#### " up to the end of its line
///   4. after the last "the answer is" (any case), then after the last "final answer is"
///   5. after the last "A: " at the start of a line, to the end of that line
///   6. `math_span`: the last math span, \(...\), \[...\], $$...$$ or $...$ (a single $ follows
///      Pandoc's rule: no space right inside either $, no digit right after the closing one, so
///      "$5 and $10" is money, not math); of a span without top-level commas, the right-hand
///      side of its last top-level '=' or \approx ("$k = \frac{1}{3}$" gives \frac{1}{3};
///      "$x=1, x=2$" is kept whole)
///   7. the last number in the text (commas in numbers such as 1,000 removed; a decimal comma as
///      in "2,74", one or two digits not followed by another ",digit", reads as a decimal point)
/// The extracted string is trimmed, a leading ':' and trailing '.' are dropped and an enclosing
/// $...$ is removed. It is NOT normalised: see normalize.hpp.
#include <cctype>
#include <optional>
#include <string>
#include <string_view>

namespace ttsearch::answer {

struct Extraction {
  std::string answer;      ///< the extracted answer, "" when no rule matched
  std::string_view rule;   ///< which rule matched: minerva, boxed, gsm8k, answer_is, a_colon, math_span, last_number, none
  [[nodiscard]] bool found() const noexcept { return rule != "none"; }
};

namespace detail {

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

/// Given s[open] == '{', the index of the matching '}', or npos when unbalanced.
inline std::size_t match_brace(std::string_view s, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
      ++i;  // escaped brace: not structural
      continue;
    }
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  return std::string_view::npos;
}

/// Trims, drops a leading ':' and trailing '.', removes an enclosing $...$.
inline std::string clean(std::string_view s) {
  s = trim(s);
  while (!s.empty() && s.front() == ':') s = trim(s.substr(1));
  while (!s.empty() && (s.back() == '.' || s.back() == '/')) {
    // keep a trailing '.' that belongs to a number? A number never ends in '.', so drop it.
    s.remove_suffix(1);
    s = trim(s);
  }
  if (s.size() >= 2 && s.front() == '$' && s.back() == '$') s = trim(s.substr(1, s.size() - 2));
  if (s.size() >= 4 && s.substr(0, 2) == "\\(" && s.substr(s.size() - 2) == "\\)") s = trim(s.substr(2, s.size() - 4));
  return std::string(s);
}

/// The tail after an "answer is" marker: a $...$ span if it starts with one, else to the end of
/// the line, cut at the end of the sentence (". " or ".\n").
inline std::string answer_tail(std::string_view rest) {
  rest = trim(rest);
  while (!rest.empty() && rest.front() == ':') rest = trim(rest.substr(1));
  if (!rest.empty() && rest.front() == '$') {
    const bool display = rest.size() > 1 && rest[1] == '$';
    const std::size_t start = display ? 2 : 1;
    std::size_t close = rest.find('$', start);
    while (close != std::string_view::npos && rest[close - 1] == '\\') close = rest.find('$', close + 1);  // skip \$
    if (close != std::string_view::npos) return clean(rest.substr(start, close - start));
  }
  const std::size_t nl = rest.find('\n');
  if (nl != std::string_view::npos) rest = rest.substr(0, nl);
  const std::size_t sentence = rest.find(". ");
  if (sentence != std::string_view::npos) rest = rest.substr(0, sentence);
  return clean(rest);
}

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// True when s[i] == ',' separates thousands: exactly three digits follow it.
inline bool thousands_comma(std::string_view s, std::size_t i) {
  if (i + 3 >= s.size()) return false;
  if (!is_digit(s[i + 1]) || !is_digit(s[i + 2]) || !is_digit(s[i + 3])) return false;
  return i + 4 >= s.size() || !is_digit(s[i + 4]);
}

/// True when s[i] == ',' is a decimal comma ("2,74"): one or two digits follow and end the
/// number, and it is not part of a list ("1,2,3": no comma-digit before `start` or after) or a
/// bracketed pair ("(3,4)").
inline bool decimal_comma(std::string_view s, std::size_t i, std::size_t start) {
  std::size_t k = i + 1;
  while (k < s.size() && is_digit(s[k])) ++k;
  const std::size_t digits = k - i - 1;
  if (digits < 1 || digits > 2) return false;
  if (k + 1 < s.size() && s[k] == ',' && is_digit(s[k + 1])) return false;
  if (k < s.size() && (s[k] == ')' || s[k] == ']')) return false;  // a pair: (3,4)
  std::size_t before = start;
  if (before > 0 && s[before - 1] == '-') --before;
  if (before > 0 && (s[before - 1] == '(' || s[before - 1] == '[' || s[before - 1] == '{')) return false;
  return !(start >= 2 && s[start - 1] == ',' && is_digit(s[start - 2]));
}

/// The last number in `s` (-?digits with optional thousands commas and decimals), commas removed;
/// a decimal comma ("2,74") reads as a decimal point.
inline std::optional<std::string> last_number(std::string_view s) {
  std::optional<std::string> found;
  std::size_t i = 0;
  while (i < s.size()) {
    if (is_digit(s[i]) || (s[i] == '.' && i + 1 < s.size() && is_digit(s[i + 1]))) {
      std::size_t start = i;
      std::string num;
      if (start > 0 && s[start - 1] == '-') num = "-";
      bool seen_dot = false;
      while (i < s.size()) {
        if (is_digit(s[i])) {
          num += s[i++];
        } else if (s[i] == ',' && !seen_dot && thousands_comma(s, i)) {
          ++i;  // thousands separator: exactly three digits follow
        } else if (s[i] == ',' && !seen_dot && i - start == num.size() - (num[0] == '-' ? 1 : 0) &&
                   decimal_comma(s, i, start)) {  // (no thousands comma before it)
          seen_dot = true;  // decimal comma
          num += '.';
          ++i;
        } else if (s[i] == '.' && !seen_dot && i + 1 < s.size() && is_digit(s[i + 1])) {
          seen_dot = true;
          num += s[i++];
        } else {
          break;
        }
      }
      found = num;
    } else {
      ++i;
    }
  }
  return found;
}

/// The content of the last math span of `s` (rule 6 at the top of this file), or nullopt.
inline std::optional<std::string_view> last_math_span(std::string_view s) {
  std::optional<std::string_view> last;
  std::size_t i = 0;
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (i < s.size()) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '(' || s[i + 1] == '[')) {
      const std::size_t e = s.find(s[i + 1] == '(' ? "\\)" : "\\]", i + 2);
      if (e == std::string_view::npos) {
        i += 2;
        continue;
      }
      last = s.substr(i + 2, e - i - 2);
      i = e + 2;
    } else if (s[i] == '\\') {
      i += 2;  // an escaped character (\$ is money)
    } else if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '$') {
      const std::size_t e = s.find("$$", i + 2);
      if (e == std::string_view::npos) {
        i += 2;
        continue;
      }
      last = s.substr(i + 2, e - i - 2);
      i = e + 2;
    } else if (s[i] == '$' && i + 1 < s.size() && !space(s[i + 1])) {
      std::size_t e = i + 1;
      while (e < s.size() && s[e] != '$') e += s[e] == '\\' ? 2 : 1;
      if (e < s.size() && !space(s[e - 1]) && !(e + 1 < s.size() && is_digit(s[e + 1]))) {
        last = s.substr(i + 1, e - i - 1);
        i = e + 1;
      } else {
        ++i;
      }
    } else {
      ++i;
    }
  }
  return last;
}

/// The answer in a math span: the right-hand side of its last top-level '=' or \approx when the
/// span has no top-level comma, else the whole span.
inline std::string_view math_span_answer(std::string_view span) {
  int depth = 0;
  std::size_t rhs = std::string_view::npos;
  for (std::size_t i = 0; i < span.size(); ++i) {
    const char c = span[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (depth == 0 && c == ',') return span;
    if (depth == 0 && c == '=') rhs = i + 1;
    if (depth == 0 && span.substr(i).starts_with("\\approx")) rhs = i + 7;
  }
  return rhs == std::string_view::npos ? span : span.substr(rhs);
}

}  // namespace detail

/// The content of the last \boxed{...} / \fbox{...} in `text`, or nullopt.
inline std::optional<std::string> last_boxed(std::string_view text) {
  const std::size_t b = text.rfind("\\boxed");
  const std::size_t f = text.rfind("\\fbox");
  std::size_t idx = b;
  std::size_t len = 6;
  if (b == std::string_view::npos || (f != std::string_view::npos && f > b)) {
    idx = f;
    len = 5;
  }
  if (idx == std::string_view::npos) return std::nullopt;
  std::size_t pos = idx + len;
  if (pos < text.size() && text[pos] == '{') {
    const std::size_t close = detail::match_brace(text, pos);
    if (close == std::string_view::npos) return std::nullopt;
    return std::string(detail::trim(text.substr(pos + 1, close - pos - 1)));
  }
  if (pos < text.size() && text[pos] == ' ') {  // "\boxed 5$": up to '$' or end of line
    std::string_view rest = text.substr(pos + 1);
    const std::size_t end = rest.find_first_of("$\n");
    return std::string(detail::trim(rest.substr(0, end)));
  }
  return std::nullopt;
}

/// Extracts the final answer of `text` (see the rules at the top of this file).
inline Extraction extract_answer(std::string_view input) {
  std::string text(input);
  detail::replace_all(text, "ки", "");
  const std::string_view s = text;

  // 1. Minerva.
  if (const auto a = s.find("final answer is $"); a != std::string_view::npos) {
    const std::size_t start = a + 17;
    if (const auto b = s.find("$. I hope", start); b != std::string_view::npos) {
      std::string_view inner = s.substr(start, b - start);
      if (auto boxed = last_boxed(inner)) return {detail::clean(*boxed), "minerva"};
      return {detail::clean(inner), "minerva"};
    }
  }
  // 2. \boxed / \fbox.
  if (auto boxed = last_boxed(s)) return {detail::clean(*boxed), "boxed"};
  // 3. GSM8K "#### ".
  if (const auto h = s.rfind("####"); h != std::string_view::npos) {
    std::string_view rest = s.substr(h + 4);
    const std::size_t nl = rest.find('\n');
    auto a = detail::clean(rest.substr(0, nl));
    if (!a.empty()) return {a, "gsm8k"};
  }
  // 4. "the answer is" / "final answer is".
  const std::string low = detail::lower(s);
  for (std::string_view marker : {std::string_view("the answer is"), std::string_view("final answer is")}) {
    if (const auto m = low.rfind(marker); m != std::string::npos) {
      auto a = detail::answer_tail(s.substr(m + marker.size()));
      if (!a.empty()) return {a, "answer_is"};
    }
  }
  // 5. "A: " at a line start.
  for (std::size_t pos = s.rfind("A: "); pos != std::string_view::npos;
       pos = pos == 0 ? std::string_view::npos : s.rfind("A: ", pos - 1)) {
    if (pos == 0 || s[pos - 1] == '\n') {
      std::string_view rest = s.substr(pos + 3);
      auto a = detail::clean(rest.substr(0, rest.find('\n')));
      if (!a.empty()) return {a, "a_colon"};
      break;
    }
    if (pos == 0) break;
  }
  // 6. The last math span.
  if (const auto span = detail::last_math_span(s)) {
    auto a = detail::clean(detail::math_span_answer(*span));
    if (!a.empty()) return {a, "math_span"};
  }
  // 7. The last number.
  if (auto n = detail::last_number(s)) return {*n, "last_number"};
  return {"", "none"};
}

}  // namespace ttsearch::answer
