#include <catch2/catch.hpp>

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
  CHECK_FALSE(answers_equivalent("0.333", "\\frac{1}{3}"));  // 1e-3 off
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

TEST_CASE("equivalence: what it cannot decide (no CAS)", "[answer][equivalence]") {
  // These are mathematically equal but not decided; the header documents them.
  CHECK_FALSE(answers_equivalent("x^2-1", "(x-1)(x+1)"));
  CHECK_FALSE(answers_equivalent("a+b", "b+a"));
  CHECK_FALSE(answers_equivalent("\\sin^2x+\\cos^2x", "1"));
  CHECK_FALSE(answers_equivalent("e^{0}", "1"));
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
