#include <catch2/catch.hpp>

#include <chrono>

#include <fmt/format.h>

#include <ttsearch/answer/group.hpp>

using namespace ttsearch::answer;

TEST_CASE("extraction: the last boxed with nested braces / fbox / boxed space", "[answer][extract]") {
  CHECK(extract_answer("First \\boxed{1}, then \\boxed{\\frac{1}{2}}.").answer == "\\frac{1}{2}");
  CHECK(extract_answer("so $\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}$").answer == "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}");
  CHECK(extract_answer("\\boxed{\\{1, 2\\}}").answer == "\\{1, 2\\}");  // escaped braces are not structure
  CHECK(extract_answer("the result \\fbox{7}").answer == "7");
  CHECK(extract_answer("$\\boxed 5$ done").answer == "5");
  CHECK(extract_answer("\\boxed{3} and later \\fbox{4}").answer == "4");  // the later one wins
  const auto e = extract_answer("unbalanced \\boxed{12 and the answer is 11");
  CHECK(e.answer == "11");  // an unbalanced box falls through to the next rule
  CHECK(e.rule == "answer_is");
}

TEST_CASE("extraction: Minerva / GSM8K / 'the answer is' / 'A:' / last number", "[answer][extract]") {
  auto minerva = extract_answer("Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.");
  CHECK(minerva.answer == "\\frac{3}{4}");
  CHECK(minerva.rule == "minerva");
  auto gsm = extract_answer("16 - 3 - 4 = 9\n9 * 2 = 18\n#### 18");
  CHECK(gsm.answer == "18");
  CHECK(gsm.rule == "gsm8k");
  CHECK(extract_answer("So the answer is $\\$36$.").answer == "\\$36");
  CHECK(extract_answer("The answer is 12. Next we check it.").answer == "12");
  CHECK(extract_answer("We find THE ANSWER IS: 3.5").answer == "3.5");
  CHECK(extract_answer("Therefore the final answer is 17.").answer == "17");
  auto a = extract_answer("Q: what is 2+2?\nA: 4\n");
  CHECK(a.answer == "4");
  CHECK(a.rule == "a_colon");
  auto n = extract_answer("we get 1,234 apples and then -5.5 more");
  CHECK(n.answer == "-5.5");
  CHECK(n.rule == "last_number");
  CHECK(extract_answer("a total of 1,234,567 items").answer == "1234567");
  CHECK(extract_answer("list 1,2,3").answer == "3");  // "1,2" is not a thousands separator
  auto none = extract_answer("no digits here");
  CHECK_FALSE(none.found());
  CHECK(none.answer.empty());
  CHECK(extract_answer("The answer is 5 ки").answer == "5");  // Math-Shepherd step tag removed
}

TEST_CASE("normalisation follows Qwen strip_string / with its bugs fixed", "[answer][normalize]") {
  CHECK(normalize_answer("\\dfrac{1}{2}") == "\\frac{1}{2}");
  CHECK(normalize_answer("\\tfrac12") == "\\frac{1}{2}");
  CHECK(normalize_answer("3/4") == "\\frac{3}{4}");
  CHECK(normalize_answer("\\left( 3, \\frac{\\pi}{2} \\right)") == "(3,\\frac{\\pi}{2})");
  CHECK(normalize_answer("145^\\circ") == "145");
  CHECK(normalize_answer("\\$18.90") == "18.90");
  CHECK(normalize_answer("2.0") == "2");
  CHECK(normalize_answer("2.50") == "2.50");
  CHECK(normalize_answer(".5") == "0.5");
  CHECK(normalize_answer("x = 5") == "5");
  CHECK(normalize_answer("x \\in [-2,7]") == "[-2,7]");
  CHECK(normalize_answer("10\\text{ cm}") == "10");
  CHECK(normalize_answer("10 cm") == "10");
  CHECK(normalize_answer("\\text{Evelyn}") == "Evelyn");
  CHECK(normalize_answer("\\text{(C)}") == "(C)");
  CHECK(normalize_answer("five") == "5");
  CHECK(normalize_answer("50\\%") == "50%");
  CHECK(normalize_answer("1,000") == "1000");
  CHECK(normalize_answer("1,2") == "1,2");  // a list, not a thousands separator
  CHECK(normalize_answer("\\sqrt2") == "\\sqrt{2}");
  CHECK(normalize_answer("1 and 2") == "1,2");         // Qwen would give "12"
  CHECK(normalize_answer("p \\land q") == "p\\landq");  // \land survives (Qwen deletes "and")
  CHECK(normalize_answer("\\begin{bmatrix} 1 & 2 \\end{bmatrix}") == "\\begin{pmatrix}1&2\\end{pmatrix}");
  CHECK(normalize_answer("(-\\infty, \\infty)") == "\\mathbb{R}");
  CHECK(normalize_answer("\\emptyset") == "{}");
  CHECK(normalize_answer("3\\,000") == "3000");
}

TEST_CASE("numeric evaluation of LaTeX arithmetic", "[answer][equivalence]") {
  CHECK(*evaluate_number("\\frac{1}{2}") == Approx(0.5));
  CHECK(*evaluate_number("-\\frac{24}{25}") == Approx(-0.96));
  CHECK(*evaluate_number("2\\sqrt{2}") == Approx(2 * std::sqrt(2.0)));
  CHECK(*evaluate_number("\\sqrt[3]{27}") == Approx(3));
  CHECK(*evaluate_number("288\\pi") == Approx(288 * M_PI));
  CHECK(*evaluate_number("1\\frac{4}{5}") == Approx(1.8));  // mixed number
  CHECK(*evaluate_number("2^{10}") == Approx(1024));
  CHECK(*evaluate_number("11\\sqrt{5}+11") == Approx(11 * std::sqrt(5.0) + 11));
  CHECK(*evaluate_number("\\frac{\\sqrt{3}}{2}") == Approx(std::sqrt(3.0) / 2));
  CHECK(*evaluate_number("3\\cdot4") == Approx(12));
  CHECK_FALSE(evaluate_number("x+1"));
  CHECK_FALSE(evaluate_number("6+9i"));
  CHECK_FALSE(evaluate_number("\\frac{1}{0}"));
  CHECK_FALSE(evaluate_number("(1,2)"));
  CHECK_FALSE(evaluate_number(""));
  CHECK_FALSE(evaluate_number("\\infty"));
}

TEST_CASE("equivalence: numbers / fractions / percent / tuples / intervals / sets / matrices", "[answer][equivalence]") {
  CHECK(answers_equivalent("\\frac{1}{2}", "0.5"));
  CHECK(answers_equivalent("1/2", "\\dfrac{1}{2}"));
  CHECK(answers_equivalent("0.33333", "\\frac{1}{3}"));  // within 1e-4 relative
  CHECK(answers_equivalent("0.333", "\\frac{1}{3}"));        // stated precision: 1/3 rounds to 0.333
  CHECK_FALSE(answers_equivalent("0.334", "\\frac{1}{3}"));  // ... not to 0.334
  CHECK_FALSE(answers_equivalent("0.3", "\\frac{1}{3}"));    // one decimal is too coarse to claim it
  CHECK(answers_equivalent("50\\%", "0.5"));
  CHECK(answers_equivalent("50%", "50"));
  CHECK_FALSE(answers_equivalent("50", "0.5"));  // x100 only when a percent sign is present
  CHECK(answers_equivalent("2\\sqrt{2}", "\\sqrt{8}"));
  CHECK(answers_equivalent("1+\\sqrt{2}", "\\sqrt{2}+1"));
  CHECK(answers_equivalent("(1, 2)", "(1,2)"));
  CHECK(answers_equivalent("(0.5, 2)", "(\\frac{1}{2}, 2)"));
  CHECK_FALSE(answers_equivalent("(1,2)", "(2,1)"));   // tuples are ordered
  CHECK_FALSE(answers_equivalent("[0,1)", "[0,1]"));   // interval ends differ
  CHECK(answers_equivalent("[0, \\frac{1}{2})", "[0,0.5)"));
  CHECK(answers_equivalent("\\{1,2\\}", "\\{2,1\\}"));  // sets are not
  CHECK(answers_equivalent("3, 5, 7", "7,5,3"));       // lists of solutions are not
  CHECK(answers_equivalent("1,2", "(1,2)"));
  CHECK(answers_equivalent("\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}",
                           "\\begin{pmatrix} 0.2 \\\\ -3.6 \\end{pmatrix}"));
  CHECK_FALSE(answers_equivalent("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}"));
  CHECK(answers_equivalent("y = -2x", "-2x"));
  CHECK(answers_equivalent("y=2x+1", "2x+1=y"));
  CHECK(answers_equivalent("\\text{Evelyn}", "evelyn"));
  CHECK(answers_equivalent("10\\text{ cm}", "10"));
  CHECK(answers_equivalent("x^2", "x^{2}"));
  CHECK_FALSE(answers_equivalent("3", "4"));
  CHECK_FALSE(answers_equivalent("", "0"));
}

// One TEST_CASE per class of free-form output; every equal case failed on the grader before the
// parsed representation (math.hpp) and the rules it feeds, each not-equal case guards a merge.
TEST_CASE("extraction: the last math span wins over a bare number / the right side of its last =", "[answer][extract]") {
  auto k = extract_answer("Thus $k = \\frac{1}{3}$");
  CHECK(k.answer == "\\frac{1}{3}");
  CHECK(k.rule == "math_span");
  CHECK(extract_answer("We obtain \\(\\frac{10}{9}\\)").answer == "\\frac{10}{9}");
  CHECK(extract_answer("So \\[ x = 2\\sqrt{3} \\] in all 4 cases").answer == "2\\sqrt{3}");
  CHECK(extract_answer("so $$a = b = 17$$").answer == "17");
  CHECK(extract_answer("roots $x=1, x=2$").answer == "x=1, x=2");  // a list stays whole
  CHECK(extract_answer("first $y=3$ then $z = \\{1,2\\}$.").answer == "\\{1,2\\}");  // the LAST span
  // money is not math: "$5 and $10" (space before the second $), "$5$10"? no: digit after the closing $
  auto money = extract_answer("She paid $5 and $10 in total, 15");
  CHECK(money.answer == "15");
  CHECK(money.rule == "last_number");
  CHECK(extract_answer("costs \\$3 then $x=4$").answer == "4");  // \$ is not a delimiter
  CHECK(grade("Thus $k = \\frac{1}{3}$", "\\frac{1}{3}").correct);
  CHECK_FALSE(grade("Thus $k = \\frac{1}{3}$", "3").correct);
  CHECK_FALSE(grade("We obtain \\(\\frac{10}{9}\\)", "9").correct);
  // higher-priority rules still win
  CHECK(extract_answer("$x = 1$ so \\boxed{2}").rule == "boxed");
  CHECK(extract_answer("$x = 1$ and the answer is 3.").rule == "answer_is");
}

TEST_CASE("equivalence: LaTeX forms", "[answer][equivalence]") {
  CHECK(answers_equivalent("\\frac13", "\\frac{1}{3}"));
  CHECK(answers_equivalent("\\sqrt3", "\\sqrt{3}"));
  CHECK(answers_equivalent("\\cfrac{2}{3}", "\\tfrac23"));
  CHECK(answers_equivalent("\\left( 1, 2 \\right)", "(1,2)"));
  CHECK(answers_equivalent("5\\text{ meters}", "5"));
  CHECK(answers_equivalent("\\textbf{12}", "12"));
  CHECK(answers_equivalent("25\\%", "25 percent"));
  CHECK(answers_equivalent("30^\\circ", "30"));
  CHECK(answers_equivalent("2\\pi", "\\pi \\cdot 2"));
  CHECK(answers_equivalent("\\frac{\\pi}{2}", "\\frac\\pi2"));
  CHECK(answers_equivalent("\\pi r^2", "r^2\\pi"));  // "\pir^2" once spaces are gone
  CHECK_FALSE(answers_equivalent("\\frac13", "\\frac{1}{4}"));
  CHECK_FALSE(answers_equivalent("3\\pi", "2\\pi"));
  CHECK_FALSE(answers_equivalent("\\pi r^2", "2\\pi r"));
}

TEST_CASE("equivalence: numbers with separators / decimal comma / leading dot / currency and units", "[answer][equivalence]") {
  CHECK(answers_equivalent("1 000", "1000"));
  CHECK(answers_equivalent("1,000,000", "1000000"));
  const auto comma = explain_equivalence("2,74", "2.74");
  CHECK(comma.equal);
  CHECK(comma.rule == "decimal_comma");
  CHECK(answers_equivalent(".4", "0.4"));
  CHECK(answers_equivalent("\\$5.00", "5"));
  CHECK(grade("The answer is 5 dollars.", "5").correct);
  CHECK(extract_answer("It costs 2,74 euros.").answer == "2.74");    // a decimal comma in prose
  CHECK(extract_answer("we get -0,5 here").answer == "-0.5");
  CHECK(extract_answer("list 1,2,3").answer == "3");                 // a list, not 2.3
  CHECK(extract_answer("pairs 1,23,4").answer == "4");
  CHECK(extract_answer("then 1,234,56").answer == "56");            // after a thousands comma: no
  CHECK(extract_answer("1,234 apples").answer == "1234");
  CHECK_FALSE(answers_equivalent("2,74", "274"));
  CHECK_FALSE(answers_equivalent("2,74", "2.75"));
  CHECK_FALSE(answers_equivalent("1 000", "100"));
  CHECK(answers_equivalent("1,2", "1.2"));   // against a single number, "1,2" reads as a decimal comma...
  CHECK(answers_equivalent("1,2", "2,1"));   // ...against a list it is a list
  // distinct integers are never equal, of any size and written as expressions too
  CHECK_FALSE(answers_equivalent("32349", "32348"));
  CHECK_FALSE(answers_equivalent("2^{100}", "2^{100}+1"));
  CHECK_FALSE(answers_equivalent("10^{20}", "10^{20}+1"));
}

TEST_CASE("equivalence: intervals / unions / sets / tuples / matrices", "[answer][equivalence]") {
  CHECK(answers_equivalent("[0,1)", "[0, 1)"));
  CHECK_FALSE(answers_equivalent("[0,1)", "(0,1)"));
  CHECK(answers_equivalent("(-\\infty,0)\\cup(1,\\infty)", "(1,\\infty) \\cup (-\\infty, 0)"));
  CHECK_FALSE(answers_equivalent("(-\\infty,0]\\cup(1,\\infty)", "(-\\infty,0)\\cup(1,\\infty)"));
  CHECK_FALSE(answers_equivalent("(-\\infty,0)\\cup(1,\\infty)", "(-\\infty,0)"));
  CHECK(answers_equivalent("\\{1,2\\}", "\\{2,1\\}"));
  CHECK_FALSE(answers_equivalent("\\{1,2\\}", "\\{1,3\\}"));
  CHECK(answers_equivalent("(1,\\frac12)", "(1,0.5)"));
  CHECK_FALSE(answers_equivalent("(1,2)", "(2,1)"));
  CHECK(answers_equivalent("\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}"));
  CHECK_FALSE(answers_equivalent("\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}", "\\begin{pmatrix}1&3\\\\2&4\\end{pmatrix}"));
  CHECK(answers_equivalent("\\begin{pmatrix}x+1\\\\2x\\end{pmatrix}", "\\begin{pmatrix}1+x\\\\x+x\\end{pmatrix}"));
}

TEST_CASE("equivalence: inequalities / equations / several answers", "[answer][equivalence]") {
  const auto flip = explain_equivalence("x > 2", "2 < x");
  CHECK(flip.equal);
  CHECK(flip.rule == "inequality");
  CHECK(answers_equivalent("x \\geq 2", "2 \\le x"));
  CHECK(answers_equivalent("-1 < x \\le 3", "3 \\geq x > -1"));
  CHECK(answers_equivalent("x \\ge 2", "[2, \\infty)"));
  CHECK(answers_equivalent("1 \\le x < 3", "[1,3)"));
  CHECK(answers_equivalent("x < \\frac12", "(-\\infty, 0.5)"));
  CHECK_FALSE(answers_equivalent("x > 2", "x < 2"));
  CHECK_FALSE(answers_equivalent("x > 2", "x \\ge 2"));
  CHECK_FALSE(answers_equivalent("x \\ge 2", "(2, \\infty)"));
  CHECK_FALSE(answers_equivalent("x < 2 ", "2 > x > 0"));
  CHECK(answers_equivalent("x = 1, 2", "1, 2"));
  CHECK(answers_equivalent("x = 1 \\text{ or } x = 2", "2, 1"));
  CHECK(answers_equivalent("x=1, x=2", "2, 1"));
  CHECK_FALSE(answers_equivalent("x = 1, 3", "1, 2"));
  CHECK(answers_equivalent("y = 2x + 1", "y = 1 + 2x"));
  CHECK_FALSE(answers_equivalent("y = 2x + 1", "y = 2x - 1"));
}

TEST_CASE("equivalence: symbolic identities / stated precision", "[answer][equivalence]") {
  const auto sym = explain_equivalence("(x+1)^2", "x^2+2x+1");
  CHECK(sym.equal);
  CHECK(sym.rule == "symbolic");
  CHECK(answers_equivalent("2\\sqrt{3}+1", "1+2\\sqrt{3}"));
  CHECK(answers_equivalent("11(\\sqrt{5}+1)", "11\\sqrt{5}+11"));
  CHECK(answers_equivalent("x^2-1", "(x-1)(x+1)"));
  CHECK(answers_equivalent("a+b", "b+a"));
  CHECK(answers_equivalent("\\sin^2 x + \\cos^2 x", "1"));
  CHECK(answers_equivalent("e^{0}", "1"));
  CHECK(answers_equivalent("e^{i\\pi}", "-1"));
  CHECK(answers_equivalent("\\log_2 8", "3"));
  CHECK(answers_equivalent("\\frac{x}{2}", "0.5x"));
  CHECK(answers_equivalent("\\frac{a}{b}/c", "\\frac{a}{bc}"));
  CHECK(answers_equivalent("\\binom{5}{2}", "10"));
  CHECK(answers_equivalent("5!", "120"));
  CHECK(answers_equivalent("1.73", "\\sqrt{3}"));
  CHECK_FALSE(answers_equivalent("1.7", "\\sqrt{3}"));
  CHECK_FALSE(answers_equivalent("(x+1)^2", "x^2+x+1"));
  CHECK_FALSE(answers_equivalent("a-b", "b-a"));
  CHECK_FALSE(answers_equivalent("x^2", "y^2"));
  CHECK_FALSE(answers_equivalent("\\sin x", "\\cos x"));
  CHECK_FALSE(answers_equivalent("2x", "2x+10^{-6}"));
  // text is not a product of letters
  CHECK_FALSE(answers_equivalent("listen", "silent"));
  CHECK(answers_equivalent("\\text{Evelyn}", "Evelyn"));
}

TEST_CASE("equivalence: the deciding rule is reported / equal answers stay symmetric", "[answer][equivalence]") {
  CHECK(explain_equivalence("7", "7").rule == "string");
  CHECK(explain_equivalence("7", "8").rule == "integer");
  CHECK(explain_equivalence("50\\%", "0.5").rule == "percent");
  CHECK(explain_equivalence("\\{1,2\\}", "\\{2,1\\}").rule == "set");
  CHECK(explain_equivalence("[0,\\frac12)", "[0,0.5)").rule == "interval");
  CHECK(explain_equivalence("(-\\infty,0)\\cup(1,\\infty)", "(1,\\infty)\\cup(-\\infty,0)").rule == "union");
  CHECK(explain_equivalence("x\\ge2", "[2,\\infty)").rule == "inequality_interval");
  CHECK(explain_equivalence("1.73", "\\sqrt3").rule == "precision");
  CHECK(explain_equivalence("x", "y").rule == "symbolic");  // decided: different
  CHECK(explain_equivalence("Evelyn", "Bob").rule == "none");
  const std::vector<std::string> answers = {"x>2", "2<x", "(x+1)^2", "x^2+2x+1", "2,74", "2.74", "[2,\\infty)", "x\\ge2",
                                            "1.73", "\\sqrt3", "a\\cupb", "(1,2)\\cup(3,4)", "\\log_28", "e^{i\\pi}"};
  for (const auto& a : answers) {
    for (const auto& b : answers) CHECK(answers_equivalent(a, b) == answers_equivalent(b, a));
  }
}

TEST_CASE("equivalence: what an audit found merged or missed", "[answer][equivalence]") {
  // a symbolic "different" is final: the braces rule does not overrule it
  CHECK_FALSE(answers_equivalent("\\sqrt{x+1}", "\\sqrt{x}+1"));
  CHECK_FALSE(answers_equivalent("2^{x+1}", "2^x+1"));
  CHECK_FALSE(answers_equivalent("\\frac{1}{2x}", "\\frac{1}{2}x"));
  CHECK_FALSE(answers_equivalent("\\{(1,2)\\}", "(1,2)"));
  CHECK(answers_equivalent("x^{2}", "x^2"));
  // integer values compare exactly, also through expressions
  CHECK_FALSE(answers_equivalent("13!", "6227020801"));
  CHECK(answers_equivalent("13!", "6227020800"));
  CHECK_FALSE(answers_equivalent("\\binom{40}{20}", "137846528821"));
  // words are text
  CHECK_FALSE(answers_equivalent("IV", "VI"));
  CHECK_FALSE(answers_equivalent("(iv)", "(vi)"));
  CHECK_FALSE(answers_equivalent("no", "on"));
  CHECK_FALSE(answers_equivalent("ii", "-1"));
  CHECK_FALSE(answers_equivalent("sine", "\\sin e"));
  // points below 1 and above 2: identities that hold only on a short range are not identities
  CHECK_FALSE(answers_equivalent("|x-1|", "x-1"));
  CHECK_FALSE(answers_equivalent("|2x-1|", "2x-1"));
  CHECK_FALSE(answers_equivalent("\\sqrt{x-2}", "i\\sqrt{2-x}"));
  // principal branches: -4 is -4+0i
  CHECK(answers_equivalent("\\sqrt{-4}", "2i"));
  CHECK_FALSE(answers_equivalent("\\sqrt{-4}", "-2i"));
  CHECK(answers_equivalent("\\sqrt{-1}", "i"));
  // \sin^{-1} is arcsin; a function's argument stops at the next function
  CHECK(answers_equivalent("\\sin^{-1}(x)", "\\arcsin x"));
  CHECK_FALSE(answers_equivalent("\\sin^{-1}(x)", "\\frac{1}{\\sin x}"));
  CHECK_FALSE(answers_equivalent("\\sin x\\cos x", "\\sin(x\\cos x)"));
  CHECK(answers_equivalent("2\\sin x\\cos x", "\\sin 2x"));
  // tiny values are not the integer 0
  CHECK_FALSE(answers_equivalent("1.6\\times10^{-19}", "9.1\\times10^{-31}"));
  CHECK_FALSE(answers_equivalent("10^{-20}", "0"));
  CHECK_FALSE(answers_equivalent("10^{-10}", "10^{-12}"));
  // a bracketed pair is not a decimal comma; 2=x is not x
  CHECK(extract_answer("The point is (3,4)").answer != "3.4");
  CHECK_FALSE(answers_equivalent("2=x", "3=x"));
  // forms that were missed
  CHECK(answers_equivalent("50 percent", "\\frac12"));
  CHECK(answers_equivalent("1{,}000", "1000"));
  CHECK(answers_equivalent("\\begin{matrix}1&2\\end{matrix}", "\\begin{pmatrix}1&2\\end{pmatrix}"));
  CHECK(answers_equivalent("+\\infty", "\\infty"));
  CHECK(extract_answer("so $\\pi \\approx 3.14$").answer == "3.14");
  CHECK(answers_equivalent("1,33", "\\frac43"));
  CHECK(answers_equivalent("((((((((((((((((((x))))))))))))))))))", "x"));
  CHECK(answers_equivalent("\\sin^2x+\\cos^2x-1", "0"));
  // a second audit: thresholds above 2, cancellation relative to the terms, underflow, names
  CHECK_FALSE(answers_equivalent("|x-3|", "3-x"));
  CHECK_FALSE(answers_equivalent("\\sqrt{x^2-6x+9}", "3-x"));
  CHECK_FALSE(answers_equivalent("\\{\\{1,2\\}\\}", "\\{1,2\\}"));
  CHECK_FALSE(answers_equivalent("x^{99999999999}", "x^{99999999998}"));
  CHECK_FALSE(answers_equivalent("2+e^{-14}", "2"));
  CHECK_FALSE(answers_equivalent("\\cos(\\frac{1}{1000})", "1"));
  CHECK_FALSE(answers_equivalent("e^{-30}", "0"));
  CHECK_FALSE(answers_equivalent("\\frac{x}{10^{13}}", "\\frac{x}{10^{14}}"));
  CHECK_FALSE(answers_equivalent("0,00", "\\frac{1}{300}"));
  CHECK_FALSE(answers_equivalent("1<x<3", "1,3"));        // an inequality is an interval, not a list
  CHECK(answers_equivalent("1<x<3", "(1,3)"));
  CHECK_FALSE(answers_equivalent("1=2", "2"));
  CHECK_FALSE(answers_equivalent("12=x", "x"));
  CHECK_FALSE(answers_equivalent("5\\text{ cm}^2", "25"));  // the unit goes with its power
  CHECK(answers_equivalent("5\\text{ cm}^2", "5"));
  CHECK_FALSE(answers_equivalent("percent", "\\%"));
  CHECK(answers_equivalent("2.72", "e"));                 // stated precision against a constant
  CHECK_FALSE(answers_equivalent("2.71", "e"));
  CHECK(answers_equivalent("60\xc2\xb0", "60"));
}

TEST_CASE("equivalence: long inputs stay fast and never crash", "[answer][equivalence]") {
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(answers_equivalent(std::string(400000, '-') + "5", "5"));  // signs in a loop, not recursion
  std::string forward, backward;
  for (int i = 0; i < 2000; ++i) {
    forward += fmt::format("{}x_{{{}}}", i ? "," : "", i);
    backward += fmt::format("{}x_{{{}}}", i ? "," : "", 1999 - i);
  }
  CHECK(answers_equivalent(forward, backward));  // 2000 elements: matched by sorted strings
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}

TEST_CASE("grade --explain: both parsed forms", "[answer][grade]") {
  const auto g = grade("\\boxed{x \\geq 2}", "[2, \\infty)");
  CHECK(g.correct);
  CHECK(g.decided_by == "inequality_interval");
  CHECK(describe(g.normalized) == "(\\le 2 x)");
  CHECK(describe(g.reference_normalized) == "(interval closed-open 2 infty)");
  CHECK(describe("(x+1)^2") == "(^ (+ x 1) 2)");
  CHECK(describe("\\frac{1}{3}") == "(/ 1 3)");
  CHECK(describe("{1,2}") == "(set 1 2)");
  CHECK(describe("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}") == "(matrix (row 1 2) (row 3 4))");
  CHECK(describe("25%") == "(percent 25)");
  CHECK(describe("Evelyn") == "(text \"Evelyn\")");
  CHECK(grade("no answer here", "5").decided_by == "no_answer");
}

TEST_CASE("grade: response against reference", "[answer][grade]") {
  auto g = grade("So the answer is $\\boxed{\\dfrac{3}{4}}$.", "\\frac34");
  CHECK(g.correct);
  CHECK(g.extracted == "\\dfrac{3}{4}");
  CHECK(g.normalized == "\\frac{3}{4}");
  CHECK(grade("#### 18", "Janet sells 9 eggs.\n#### 18").correct);  // a whole GSM8K reference
  CHECK_FALSE(grade("no answer", "5").correct);
  CHECK_FALSE(grade("The answer is 6", "5").correct);
}

TEST_CASE("grouping into equivalence classes / first-seen order", "[answer][group]") {
  const std::vector<std::string> raw = {"\\frac{1}{2}", "3", "0.5", "", "1/2", "\\sqrt{9}", "x", "", "4"};
  std::vector<std::string> norm;
  for (const auto& r : raw) norm.push_back(normalize_answer(r));
  const auto g = group_normalized(norm);
  REQUIRE(g.size() == 5);
  CHECK(g.members[0] == std::vector<std::int32_t>{0, 2, 4});
  CHECK(g.members[1] == std::vector<std::int32_t>{1, 5});
  CHECK(g.members[2] == std::vector<std::int32_t>{3, 7});  // empty answers group together
  CHECK(g.members[3] == std::vector<std::int32_t>{6});
  CHECK(g.members[4] == std::vector<std::int32_t>{8});
  CHECK(g.representative[0] == "\\frac{1}{2}");
  CHECK(g.group_of == std::vector<std::int32_t>{0, 1, 0, 2, 0, 1, 3, 2, 4});
}
