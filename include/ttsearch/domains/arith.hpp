#pragma once
/// The multi-step arithmetic domain: problems, canonical solutions, a step checker, seeded
/// splits, and the checker as a rule-based Verifier (a perfect extrinsic verifier).
///
/// A problem is an integer expression over + - * with `level` operations, operands 1..9 and every
/// intermediate value of its canonical evaluation below `max_abs_value` in magnitude, printed with
/// only the parentheses it needs (a right operand of equal precedence keeps them):
///   4 - (6 + 8 * 2)
/// Canonical order: the leftmost innermost parenthesised group first; inside it the first "*",
/// otherwise the first operation. A step rewrites the whole expression; "(c)" loses its parentheses;
/// negative numbers are written "-7" (so "5 - -7"). The solution is the steps, each followed by
/// "\n\n", then the answer line:
///   8 * 2 = 16, so 4 - (6 + 16)\n\n6 + 16 = 22, so 4 - 22\n\n4 - 22 = -18, so -18\n\nThe answer is \boxed{-18}
/// The prompt a policy sees is the expression followed by "\n\n" (kPromptFormat).
///
/// The checker reads any solution text. A step "a op b = c, so E" is locally correct when
/// a op b == c, E is the previous written expression with one occurrence of "a op b" (or
/// "(a op b)") replaced by c, and E has the previous expression's value (which rejects precedence
/// violations). Any valid order is accepted, not only the canonical one. The answer line is a step
/// too, correct when its boxed value is the true value. A step's prefix label is "every step so far
/// is correct" (Math-Shepherd's hard label with an exact oracle). Calibration of this task on this
/// machine: ../shared/reference/arith.md.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "ttsearch/core/concepts.hpp"
#include "ttsearch/core/error.hpp"
#include "ttsearch/core/rng.hpp"

namespace ttsearch::arith {

/// What goes before the solution: the expression and a blank line ("{question}" is replaced).
inline constexpr std::string_view kPromptFormat = "{question}\n\n";
inline constexpr std::string_view kStepSeparator = "\n\n";

struct TaskOptions {
  std::int64_t min_operand = 1;
  std::int64_t max_operand = 9;
  std::int64_t max_abs_value = 100;  ///< every canonical intermediate |v| < this

  void validate() const {
    TTSEARCH_REQUIRE(min_operand >= 0 && max_operand >= min_operand, "arith: need 0 <= min_operand <= max_operand (got {}, {})",
                     min_operand, max_operand);
    TTSEARCH_REQUIRE(max_abs_value > max_operand, "arith: max_abs_value must exceed max_operand (got {})", max_abs_value);
  }
};

/// One lexical token of an expression.
struct Token {
  enum class Kind : std::uint8_t { kNumber, kOp, kOpen, kClose } kind = Kind::kNumber;
  std::int64_t value = 0;  ///< kNumber
  char op = 0;             ///< kOp: '+', '-' or '*'
  friend bool operator==(const Token&, const Token&) = default;
};
using Expr = std::vector<Token>;

namespace detail {

inline bool apply_op(std::int64_t a, char op, std::int64_t b, std::int64_t& out) noexcept {
  switch (op) {
    case '+': return !__builtin_add_overflow(a, b, &out);
    case '-': return !__builtin_sub_overflow(a, b, &out);
    case '*': return !__builtin_mul_overflow(a, b, &out);
    default: return false;
  }
}

inline int precedence(char op) noexcept { return op == '*' ? 2 : 1; }

inline constexpr std::size_t kMaxDigits = 6;  // longer numbers are not expressions of this task

}  // namespace detail

/// Writes an expression in the task's spacing: "4 - (6 + -2) * 3".
inline std::string to_string(std::span<const Token> e) {
  std::string s;
  for (std::size_t i = 0; i < e.size(); ++i) {
    const Token& t = e[i];
    if (i > 0 && t.kind != Token::Kind::kClose && e[i - 1].kind != Token::Kind::kOpen) s += ' ';
    switch (t.kind) {
      case Token::Kind::kNumber: s += std::to_string(t.value); break;
      case Token::Kind::kOp: s += t.op; break;
      case Token::Kind::kOpen: s += '('; break;
      case Token::Kind::kClose: s += ')'; break;
    }
  }
  return s;
}

/// Lexes and validates an expression written in the task's exact format (spacing included,
/// no leading zeros, balanced parentheses, numbers and operators alternating). nullopt otherwise.
inline std::optional<Expr> parse_expr(std::string_view s) {
  Expr out;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ') { ++i; continue; }
    if (c == '(') { out.push_back({Token::Kind::kOpen}); ++i; continue; }
    if (c == ')') { out.push_back({Token::Kind::kClose}); ++i; continue; }
    const bool neg_number = c == '-' && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9';
    if ((c >= '0' && c <= '9') || neg_number) {
      std::size_t j = i + (neg_number ? 1 : 0);
      const std::size_t d0 = j;
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
      if (j - d0 > detail::kMaxDigits || (j - d0 > 1 && s[d0] == '0')) return std::nullopt;
      std::int64_t v = 0;
      std::from_chars(s.data() + d0, s.data() + j, v);
      out.push_back({Token::Kind::kNumber, neg_number ? -v : v});
      i = j;
      continue;
    }
    if (c == '+' || c == '-' || c == '*') { out.push_back({Token::Kind::kOp, 0, c}); ++i; continue; }
    return std::nullopt;
  }
  if (out.empty() || to_string(out) != s) return std::nullopt;  // spacing must be canonical
  int depth = 0;
  bool expect_number = true;
  for (const Token& t : out) {
    switch (t.kind) {
      case Token::Kind::kOpen:
        if (!expect_number) return std::nullopt;
        ++depth;
        break;
      case Token::Kind::kClose:
        if (expect_number || --depth < 0) return std::nullopt;
        break;
      case Token::Kind::kOp:
        if (expect_number) return std::nullopt;
        expect_number = true;
        break;
      case Token::Kind::kNumber:
        if (!expect_number) return std::nullopt;
        expect_number = false;
        break;
    }
  }
  if (depth != 0 || expect_number) return std::nullopt;
  return out;
}

/// One reduction: `a op b = c`, and the expression after it.
struct Reduction {
  std::int64_t a = 0, b = 0, c = 0;
  char op = 0;
  Expr next;
};

/// The canonical next reduction of a valid expression with at least one operation; nullopt on
/// arithmetic overflow.
inline std::optional<Reduction> canonical_step(const Expr& e) {
  std::size_t lo = 0, hi = e.size();
  std::optional<std::size_t> open;
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (e[i].kind == Token::Kind::kOpen) open = i;
    if (e[i].kind == Token::Kind::kClose) {
      lo = *open + 1;
      hi = i;
      break;
    }
  }
  std::size_t k = lo + 1;  // the first operation of the group, unless there is a "*"
  for (std::size_t j = lo + 1; j < hi; j += 2) {
    if (e[j].op == '*') { k = j; break; }
  }
  Reduction r;
  r.a = e[k - 1].value;
  r.op = e[k].op;
  r.b = e[k + 1].value;
  if (!detail::apply_op(r.a, r.op, r.b, r.c)) return std::nullopt;
  const Token c{Token::Kind::kNumber, r.c};
  if (hi - lo == 3 && lo > 0) {  // "(a op b)" -> c
    r.next.assign(e.begin(), e.begin() + static_cast<std::ptrdiff_t>(lo - 1));
    r.next.push_back(c);
    r.next.insert(r.next.end(), e.begin() + static_cast<std::ptrdiff_t>(hi + 1), e.end());
  } else {
    r.next.assign(e.begin(), e.begin() + static_cast<std::ptrdiff_t>(k - 1));
    r.next.push_back(c);
    r.next.insert(r.next.end(), e.begin() + static_cast<std::ptrdiff_t>(k + 2), e.end());
  }
  return r;
}

/// The value of a valid expression (canonical evaluation); nullopt on overflow.
inline std::optional<std::int64_t> evaluate(Expr e) {
  while (e.size() > 1) {
    auto r = canonical_step(e);
    if (!r) return std::nullopt;
    e = std::move(r->next);
  }
  return e.empty() ? std::nullopt : std::optional<std::int64_t>(e[0].value);
}

/// The expressions obtained from `prev` by replacing one occurrence of "a op b" (or "(a op b)") with c.
inline std::vector<Expr> reductions(const Expr& prev, std::int64_t a, char op, std::int64_t b, std::int64_t c) {
  std::vector<Expr> out;
  const Token tc{Token::Kind::kNumber, c};
  for (std::size_t k = 1; k + 1 < prev.size(); ++k) {
    if (prev[k].kind != Token::Kind::kOp || prev[k].op != op) continue;
    if (prev[k - 1] != Token{Token::Kind::kNumber, a} || prev[k + 1] != Token{Token::Kind::kNumber, b}) continue;
    Expr next;
    if (k >= 2 && prev[k - 2].kind == Token::Kind::kOpen && k + 2 < prev.size() && prev[k + 2].kind == Token::Kind::kClose) {
      next.assign(prev.begin(), prev.begin() + static_cast<std::ptrdiff_t>(k - 2));
      next.push_back(tc);
      next.insert(next.end(), prev.begin() + static_cast<std::ptrdiff_t>(k + 3), prev.end());
    } else {
      next.assign(prev.begin(), prev.begin() + static_cast<std::ptrdiff_t>(k - 1));
      next.push_back(tc);
      next.insert(next.end(), prev.begin() + static_cast<std::ptrdiff_t>(k + 2), prev.end());
    }
    out.push_back(std::move(next));
  }
  return out;
}

/// A problem with its canonical solution.
struct ArithProblem {
  std::int32_t level = 0;  ///< number of operations
  std::string expression;
  std::vector<std::string> steps;  ///< "a op b = c, so E" (without the separator)
  std::int64_t answer = 0;

  /// The canonical solution text (what follows the prompt): steps, then the answer line.
  [[nodiscard]] std::string solution() const {
    std::string s;
    for (const auto& st : steps) s += st + std::string(kStepSeparator);
    return s + answer_line(answer);
  }
  static std::string answer_line(std::int64_t v) { return fmt::format("The answer is \\boxed{{{}}}", v); }
};

namespace detail {

struct Node {
  bool leaf = true;
  std::int64_t value = 0;
  char op = 0;
  std::int32_t left = -1, right = -1;
};

inline std::int32_t random_tree(std::vector<Node>& nodes, std::int32_t ops, Rng& rng, const TaskOptions& o) {
  Node n;
  if (ops == 0) {
    n.value = rng.uniform_int(o.min_operand, o.max_operand);
  } else {
    static constexpr char kOps[] = {'+', '-', '*'};
    const auto k = static_cast<std::int32_t>(rng.uniform_int(0, ops - 1));
    n.leaf = false;
    n.op = kOps[rng.uniform_int(0, 2)];
    n.left = random_tree(nodes, k, rng, o);
    n.right = random_tree(nodes, ops - 1 - k, rng, o);
  }
  nodes.push_back(n);
  return static_cast<std::int32_t>(nodes.size() - 1);
}

inline std::string tree_string(const std::vector<Node>& nodes, std::int32_t i) {
  const Node& n = nodes[static_cast<std::size_t>(i)];
  if (n.leaf) return std::to_string(n.value);
  const Node& l = nodes[static_cast<std::size_t>(n.left)];
  const Node& r = nodes[static_cast<std::size_t>(n.right)];
  std::string ls = tree_string(nodes, n.left), rs = tree_string(nodes, n.right);
  if (!l.leaf && precedence(l.op) < precedence(n.op)) ls = "(" + ls + ")";
  if (!r.leaf && precedence(r.op) <= precedence(n.op)) rs = "(" + rs + ")";
  return ls + " " + n.op + " " + rs;
}

}  // namespace detail

/// Solves `expression` canonically; nullopt when it is not a valid expression or an intermediate
/// value reaches `max_abs_value` (0 = no limit) or overflows.
inline std::optional<ArithProblem> solve(std::string_view expression, std::int64_t max_abs_value = 0) {
  auto e = parse_expr(expression);
  if (!e) return std::nullopt;
  ArithProblem p;
  p.expression = std::string(expression);
  while (e->size() > 1) {
    auto r = canonical_step(*e);
    if (!r || (max_abs_value > 0 && std::abs(r->c) >= max_abs_value)) return std::nullopt;
    ++p.level;
    p.steps.push_back(fmt::format("{} {} {} = {}, so {}", r->a, r->op, r->b, r->c, to_string(r->next)));
    *e = std::move(r->next);
  }
  p.answer = (*e)[0].value;
  return p;
}

/// A random problem with `level` operations (resampled until every intermediate is in range).
inline ArithProblem random_problem(Rng& rng, std::int32_t level, const TaskOptions& o = {}) {
  TTSEARCH_REQUIRE(level >= 1 && level <= 64, "arith: level must be in [1, 64] (got {})", level);
  o.validate();
  for (;;) {
    std::vector<detail::Node> nodes;
    const auto root = detail::random_tree(nodes, level, rng, o);
    if (auto p = solve(detail::tree_string(nodes, root), o.max_abs_value)) return *p;
  }
}

/// A seeded test split: `per_level` distinct problems for each level; depends only on its arguments.
inline std::vector<ArithProblem> make_test_split(std::span<const std::int32_t> levels, std::int32_t per_level, std::uint64_t seed,
                                                 const TaskOptions& o = {}) {
  TTSEARCH_REQUIRE(per_level >= 0, "arith: per_level must be >= 0 (got {})", per_level);
  std::vector<ArithProblem> out;
  for (std::int32_t level : levels) {
    Rng rng = Rng(seed).split(static_cast<std::uint64_t>(level));
    std::unordered_set<std::string> seen;
    std::int32_t have = 0, tries = 0;
    while (have < per_level) {
      TTSEARCH_REQUIRE(++tries < 1000 * (per_level + 1), "arith: level {} has fewer than {} distinct problems", level, per_level);
      auto p = random_problem(rng, level, o);
      if (!seen.insert(p.expression).second) continue;
      out.push_back(std::move(p));
      ++have;
    }
  }
  return out;
}

/// The checker's verdict on one solution text.
struct CheckedSolution {
  std::vector<std::string> steps;  ///< the pieces between separators (the answer line included)
  std::vector<bool> local;         ///< each step correct on its own
  std::vector<bool> prefix;        ///< every step up to this one correct
  std::optional<std::int64_t> answer;  ///< the boxed value of an answer line, when one was reached
  bool correct = false;            ///< answer == the true value
  std::int64_t truth = 0;
};

/// Labels every step of `completion` (the text after the prompt) for the problem `expression`.
/// A trailing separator is ignored (a partial solution); text after the answer line is ignored.
/// Throws InvalidArgument when `expression` itself is not a valid expression.
inline CheckedSolution check_solution(std::string_view expression, std::string_view completion) {
  auto start = parse_expr(expression);
  TTSEARCH_REQUIRE(start.has_value(), "arith: \"{}\" is not an expression of this task", expression);
  auto truth = evaluate(*start);
  TTSEARCH_REQUIRE(truth.has_value(), "arith: \"{}\" overflows", expression);
  CheckedSolution out;
  out.truth = *truth;
  std::optional<Expr> prev = std::move(start);
  std::size_t pos = 0;
  while (pos < completion.size()) {
    const std::size_t e = completion.find(kStepSeparator, pos);
    const std::string_view part = completion.substr(pos, e == std::string_view::npos ? std::string_view::npos : e - pos);
    pos = e == std::string_view::npos ? completion.size() : e + kStepSeparator.size();
    out.steps.emplace_back(part);
    // the answer line: "The answer is \boxed{v}"
    constexpr std::string_view kAns = "The answer is \\boxed{";
    if (part.starts_with(kAns) && part.ends_with('}')) {
      const auto inner = part.substr(kAns.size(), part.size() - kAns.size() - 1);
      const auto v = parse_expr(inner);
      const bool number = v && v->size() == 1;
      if (number) out.answer = (*v)[0].value;
      out.local.push_back(number && (*v)[0].value == out.truth);
      break;
    }
    // a step: "a op b = c, so E"
    bool ok = false;
    std::optional<Expr> next;
    const std::size_t eq = part.find(" = "), so = part.find(", so ");
    if (eq != std::string_view::npos && so != std::string_view::npos && so > eq) {
      const auto lhs = parse_expr(part.substr(0, eq));
      const auto rhs = parse_expr(part.substr(eq + 3, so - eq - 3));
      next = parse_expr(part.substr(so + 5));
      if (lhs && lhs->size() == 3 && (*lhs)[0].kind == Token::Kind::kNumber && (*lhs)[2].kind == Token::Kind::kNumber && rhs &&
          rhs->size() == 1 && next && prev) {
        const std::int64_t a = (*lhs)[0].value, b = (*lhs)[2].value, c = (*rhs)[0].value;
        const char op = (*lhs)[1].op;
        std::int64_t value = 0;
        if (detail::apply_op(a, op, b, value) && value == c) {
          const auto candidates = reductions(*prev, a, op, b, c);
          if (std::find(candidates.begin(), candidates.end(), *next) != candidates.end()) {
            const auto before = evaluate(*prev), after = evaluate(*next);
            ok = before && after && *before == *after;
          }
        }
      }
    }
    out.local.push_back(ok);
    prev = std::move(next);
  }
  if (!out.steps.empty() && out.steps.back().empty() && !out.answer) {  // a trailing separator
    out.steps.pop_back();
    out.local.pop_back();
  }
  bool all = true;
  for (bool l : out.local) out.prefix.push_back(all = all && l);
  out.correct = out.answer && *out.answer == out.truth;
  return out;
}

/// The checker as a Verifier: step j of a path scores 1 when steps 1..j are all correct, else 0
/// (an exact process reward; the answer line scores the final answer). The problem's question is
/// its expression.
struct StepChecker {
  Scoring score(std::span<const ScoreRequest> requests) const {
    Scoring out;
    out.scores.reserve(requests.size());
    for (const auto& r : requests) {
      TTSEARCH_REQUIRE(r.problem != nullptr, "arith checker: a request has no problem");
      const auto c = check_solution(r.problem->question, r.path.text());
      std::vector<double> s;
      for (bool ok : c.prefix) s.push_back(ok ? 1.0 : 0.0);
      if (s.empty()) s.push_back(1.0);  // nothing written yet: nothing wrong yet
      out.scores.push_back(std::move(s));
    }
    return out;
  }
};
static_assert(Verifier<StepChecker>);

/// The problem as the search framework sees it: question = the expression, reference = the answer.
inline Problem to_problem(const ArithProblem& p, std::string id) {
  Problem out;
  out.id = std::move(id);
  out.question = p.expression;
  out.reference = std::to_string(p.answer);
  out.meta = Json{{"level", p.level}};
  return out;
}

}  // namespace ttsearch::arith
