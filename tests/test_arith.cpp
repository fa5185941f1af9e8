// The arithmetic domain: expressions, canonical solutions, the step checker and its Verifier.
#include <catch2/catch.hpp>

#include <set>

#include <ttsearch/domains/arith.hpp>

using namespace ttsearch;
using namespace ttsearch::arith;

TEST_CASE("arith: expressions parse only in the task's exact format", "[arith]") {
  CHECK(parse_expr("4 - (6 + 8 * 2)").has_value());
  CHECK(parse_expr("5 - -7").has_value());
  CHECK(parse_expr("(-3 + 4) * 2").has_value());
  CHECK(parse_expr("-18").has_value());
  for (const char* bad : {"", "4-6", "4  - 6", "( 4 - 6)", "4 - (6", "4 - 6)", "4 -", "04 + 1", "4 + * 5", "4 5", "5 -7",
                          "4 / 2", "1234567 + 1", "4 - (6 + 8 * 2) "}) {
    INFO(bad);
    CHECK_FALSE(parse_expr(bad).has_value());
  }
  CHECK(to_string(*parse_expr("(-3 + 4) * (2 - -1)")) == "(-3 + 4) * (2 - -1)");
}

TEST_CASE("arith: canonical solutions follow the innermost-group / multiplication-first order", "[arith]") {
  const auto p = solve("4 - (6 + 8 * 2)");
  REQUIRE(p.has_value());
  CHECK(p->level == 3);
  CHECK(p->answer == -18);
  CHECK(p->steps == std::vector<std::string>{"8 * 2 = 16, so 4 - (6 + 16)", "6 + 16 = 22, so 4 - 22", "4 - 22 = -18, so -18"});
  CHECK(p->solution() == "8 * 2 = 16, so 4 - (6 + 16)\n\n6 + 16 = 22, so 4 - 22\n\n4 - 22 = -18, so -18\n\nThe answer is \\boxed{-18}");
  // left to right without "*", parentheses of a finished group dropped
  const auto q = solve("9 - 2 + (3 - 5) * 2");
  REQUIRE(q.has_value());
  CHECK(q->steps.front() == "3 - 5 = -2, so 9 - 2 + -2 * 2");
  CHECK(q->steps[1] == "-2 * 2 = -4, so 9 - 2 + -4");
  CHECK(q->answer == 3);
  CHECK_FALSE(solve("9 * 9 * 9", 100).has_value());  // an intermediate >= the limit
  CHECK(solve("9 * 9 * 9")->answer == 729);
}

TEST_CASE("arith: random problems have the level's operations / operands 1-9 / values in range", "[arith]") {
  Rng rng(7);
  for (std::int32_t level = 1; level <= 7; ++level) {
    for (int i = 0; i < 50; ++i) {
      const auto p = random_problem(rng, level);
      CHECK(p.level == level);
      CHECK(std::abs(p.answer) < 100);
      const auto tokens = parse_expr(p.expression);
      REQUIRE(tokens.has_value());
      for (const Token& t : *tokens) {
        if (t.kind == Token::Kind::kNumber) CHECK((t.value >= 1 && t.value <= 9));
      }
      const auto c = check_solution(p.expression, p.solution());
      CHECK(c.correct);
      CHECK(std::all_of(c.prefix.begin(), c.prefix.end(), [](bool b) { return b; }));
      CHECK(c.steps.size() == static_cast<std::size_t>(level + 1));
    }
  }
  CHECK_THROWS_WITH(random_problem(rng, 0), Catch::Contains("level"));
}

TEST_CASE("arith: test splits are seeded / distinct and per level", "[arith]") {
  const std::vector<std::int32_t> levels{2, 5};
  const auto a = make_test_split(levels, 20, 123), b = make_test_split(levels, 20, 123), c = make_test_split(levels, 20, 124);
  REQUIRE(a.size() == 40);
  std::set<std::string> seen;
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].expression == b[i].expression);
    CHECK(a[i].level == (i < 20 ? 2 : 5));
    seen.insert(a[i].expression);
  }
  CHECK(seen.size() == 40);
  std::size_t same = 0;
  for (std::size_t i = 0; i < a.size(); ++i) same += a[i].expression == c[i].expression;
  CHECK(same < 10);
}

TEST_CASE("arith: the checker labels hand-made wrong steps", "[arith]") {
  const std::string e = "4 - (6 + 8 * 2)";
  SECTION("a wrong product, carried on consistently") {
    const auto c = check_solution(e, "8 * 2 = 18, so 4 - (6 + 18)\n\n6 + 18 = 24, so 4 - 24\n\n4 - 24 = -20, so -20\n\nThe answer is \\boxed{-20}");
    CHECK(c.local == std::vector<bool>{false, true, true, false});
    CHECK(c.prefix == std::vector<bool>{false, false, false, false});
    CHECK(c.answer == -20);
    CHECK_FALSE(c.correct);
    CHECK(c.truth == -18);
  }
  SECTION("precedence violated: right arithmetic, wrong value") {
    const auto c = check_solution(e, "6 + 8 = 14, so 4 - (14 * 2)\n\n");
    CHECK(c.local == std::vector<bool>{false});
  }
  SECTION("a copying slip in the rewrite") {
    const auto c = check_solution(e, "8 * 2 = 16, so 4 - (6 + 61)\n\n");
    CHECK(c.local == std::vector<bool>{false});
  }
  SECTION("a valid non-canonical order is accepted") {
    const auto c = check_solution("(1 + 2) * (3 + 4)", "3 + 4 = 7, so (1 + 2) * 7\n\n1 + 2 = 3, so 3 * 7\n\n3 * 7 = 21, so 21\n\nThe answer is \\boxed{21}");
    CHECK(c.prefix == std::vector<bool>{true, true, true, true});
    CHECK(c.correct);
  }
  SECTION("right answer after a wrong step: outcome correct, process not") {
    const auto c = check_solution("2 + 3", "2 + 3 = 6, so 6\n\nThe answer is \\boxed{5}");
    CHECK(c.local == std::vector<bool>{false, true});
    CHECK(c.prefix == std::vector<bool>{false, false});
    CHECK(c.correct);
  }
  SECTION("malformed text, truncated steps and a partial solution") {
    CHECK(check_solution(e, "eight times two").local == std::vector<bool>{false});
    CHECK(check_solution(e, "8 * 2 = 16, so 4 - (6 +").local == std::vector<bool>{false});
    const auto partial = check_solution(e, "8 * 2 = 16, so 4 - (6 + 16)\n\n");
    CHECK(partial.steps.size() == 1);
    CHECK(partial.prefix == std::vector<bool>{true});
    CHECK_FALSE(partial.answer.has_value());
    CHECK_FALSE(partial.correct);
    CHECK(check_solution(e, "The answer is \\boxed{x}").local == std::vector<bool>{false});
    CHECK(check_solution(e, "").steps.empty());
    CHECK(check_solution(e, "99999999999 * 99999999999 = 1, so 1\n\n").local == std::vector<bool>{false});
  }
  CHECK_THROWS_WITH(check_solution("4 -", ""), Catch::Contains("not an expression"));
}

TEST_CASE("arith: the step checker is a Verifier with exact prefix labels", "[arith]") {
  const auto p = *solve("4 - (6 + 8 * 2)");
  const Problem prob = to_problem(p, "x");
  CHECK(prob.question == p.expression);
  CHECK(prob.reference == "-18");
  SearchTree tree;
  auto root = tree.root();
  const auto step = [](std::string text) {
    Step s;
    s.text = std::move(text);
    s.num_tokens = 5;
    return s;
  };
  auto n1 = tree.add_child(root, step("8 * 2 = 16, so 4 - (6 + 16)\n\n"));
  auto n2 = tree.add_child(n1, step("6 + 16 = 23, so 4 - 23\n\n"));
  std::vector<ScoreRequest> reqs{{&prob, tree.path(n1)}, {&prob, tree.path(n2)}};
  const auto s = StepChecker{}.score(reqs);
  CHECK(s.scores[0] == std::vector<double>{1.0});
  CHECK(s.scores[1] == std::vector<double>{1.0, 0.0});
}
