#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include <ttsearch/answer/equivalence.hpp>
#include <ttsearch/answer/math.hpp>

using namespace ttsearch::answer;

TEST_CASE("math parse: the grammar's forms as S-expressions", "[answer][math]") {
  const auto form = [](std::string_view s) {
    const auto e = math::parse(s);
    return e ? math::to_string(*e) : std::string("<none>");
  };
  CHECK(form("1+2\\sqrt{3}") == "(+ 1 (* 2 (sqrt 3)))");
  CHECK(form("a-b") == "(+ a (- b))");
  CHECK(form("-x^2") == "(- (^ x 2))");
  CHECK(form("2x(x+1)") == "(* 2 x (+ x 1))");
  CHECK(form("\\frac{a}{b}") == "(/ a b)");
  CHECK(form("\\frac\\pi2") == "(/ pi 2)");
  CHECK(form("a/b/c") == "(/ (/ a b) c)");
  CHECK(form("\\sqrt[3]{x}") == "(sqrt x 3)");
  CHECK(form("\\sin^2x") == "(^ (sin x) 2)");
  CHECK(form("\\sin2x") == "(sin (* 2 x))");
  CHECK(form("\\sin(x)y") == "(* (sin x) y)");
  CHECK(form("\\log_28") == "(log 8 2)");
  CHECK(form("\\ln(x)") == "(ln x)");
  CHECK(form("sqrt(2)") == "(sqrt 2)");
  CHECK(form("x_1+x_{10}") == "(+ x_1 x_10)");
  CHECK(form("\\alpha\\beta") == "(* \\alpha \\beta)");
  CHECK(form("e^{i\\pi}") == "(^ e (* i pi))");
  CHECK(form("\\pir^2") == "(* pi (^ r 2))");
  CHECK(form("|x-1|") == "(abs (+ x (- 1)))");
  CHECK(form("5!") == "(! 5)");
  CHECK(form("\\binom{5}{2}") == "(binom 5 2)");
  CHECK(form("1.5e3") == "1.5e3");
  CHECK(form("2e") == "(* 2 e)");
  // not scalar expressions: text, relations, lists, unknown commands, unbalanced input
  CHECK(form("Evelyn") == "<none>");
  CHECK(form("x=1") == "<none>");
  CHECK(form("x<1") == "<none>");
  CHECK(form("1,2") == "<none>");
  CHECK(form("\\foo{1}") == "<none>");
  CHECK(form("(1+2") == "<none>");
  CHECK(form("\\frac{1}") == "<none>");
  CHECK(form("") == "<none>");
}

TEST_CASE("math evaluate: values / domains / flags", "[answer][math]") {
  const auto value = [](std::string_view s) { return math::evaluate(*math::parse(s), {}); };
  CHECK(value("\\sqrt[3]{-8}").real() == Approx(-2.0));
  CHECK(value("(-8)^{1/3}").real() == Approx(-2.0));
  CHECK(value("e^{i\\pi}").real() == Approx(-1.0));
  CHECK(value("\\log_{10}1000").real() == Approx(3.0));
  CHECK(value("\\binom{10}{3}").real() == Approx(120.0));
  CHECK(std::isnan(value("\\frac{1}{0}").real()));
  CHECK(std::isnan(value("\\infty").real()));
  CHECK(std::isnan(value("(-1)!").real()));
  const auto e = math::parse("0.5x+\\infty");
  REQUIRE(e);
  CHECK(e->has_decimal);
  CHECK(e->has_infinity);
  CHECK(e->symbols == std::vector<std::string>{"x"});
  CHECK(math::evaluate(*e, {}).real() != math::evaluate(*e, {}).real());  // wrong arity: NaN, no crash
}

TEST_CASE("math same_value: decided at fixed points / undecided without finite values", "[answer][math]") {
  const auto same = [](std::string_view a, std::string_view b) {
    return math::same_value(*math::parse(a), *math::parse(b), 1e-9);
  };
  CHECK(same("(a+b)^3", "a^3+3a^2b+3ab^2+b^3") == true);
  CHECK(same("\\frac{x^2-1}{x-1}", "x+1") == true);
  CHECK(same("\\sqrt{8}", "2\\sqrt{2}") == true);
  CHECK(same("\\tan x", "\\frac{\\sin x}{\\cos x}") == true);
  CHECK(same("x^2", "x^3") == false);
  CHECK(same("x", "y") == false);
  CHECK(same("\\infty", "\\infty") == std::nullopt);
  CHECK(same("\\frac{1}{0}", "1") == std::nullopt);
  // the same inputs give the same answer (fixed points, no randomness)
  for (int i = 0; i < 3; ++i) CHECK(same("xy+z", "zy+x") == false);
}

TEST_CASE("math limits: long / deep / wide inputs are refused quickly", "[answer][math]") {
  CHECK_FALSE(math::parse(std::string(math::kMaxChars + 1, '1')));
  CHECK(math::parse(std::string(math::kMaxChars, '1')));
  CHECK_FALSE(math::parse(std::string(200, '(') + "1" + std::string(200, ')')));  // nesting
  std::string wide = "1";
  for (int i = 0; i < 255; ++i) wide += "+1";
  CHECK(math::parse(wide));  // 511 characters, 256 terms: fine
  std::string nodes = "x";
  while (nodes.size() + 3 <= math::kMaxChars) nodes += "^xy";
  CHECK(math::parse(nodes));
  // pathological comparisons finish fast and fall back to the string rules
  const auto t0 = std::chrono::steady_clock::now();
  std::string tower = "2";
  for (int i = 0; i < 100; ++i) tower = "2^{" + tower + "}";
  CHECK_FALSE(answers_equivalent(tower, tower + "+1"));
  CHECK(answers_equivalent(tower, tower));
  std::string nested = "x";
  for (int i = 0; i < 40; ++i) nested = "\\sqrt{" + nested + "+1}";
  CHECK_FALSE(answers_equivalent(nested, nested + "+1"));
  std::string sets = "1";
  for (int i = 0; i < 16; ++i) sets = "\\{" + sets + "," + sets + "\\}";
  CHECK_FALSE(answers_equivalent(sets.substr(0, 4000), sets.substr(0, 4001)));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}
