#pragma once
// `ttsearch vote`: offline re-ranking of sampled responses (search-and-learn's scoring script,
// for completions produced by any system). For n = 1, 2, 4, ... it takes each problem's FIRST n
// responses (so one run at N gives every smaller n, and DVTS groups stay intact) and applies
// best-of-N, majority, weighted majority and Best-of-Majority, plus pass@n (any correct).
#include <iostream>
#include <map>

#include <ttsearch/answer/equivalence.hpp>
#include <ttsearch/strategies/selection.hpp>

#include "jsonl_input.hpp"

namespace ttsearch::cli {

struct VoteArgs {
  std::string input = "-";
  std::string responses_field = "responses";
  std::string scores_field = "scores";
  std::string reference_field = "reference";
  std::string aggregation = "last";
  std::string weight = "sum";
  std::string bom_reward = "max";
  double alpha = 0.1;
  std::int32_t max_n = 0;  // 0 = the smallest response count over all problems
  bool json = false;
  bool keep_going = false;
};

struct VoteProblem {
  std::vector<Candidate> candidates;  // all responses, in order
  std::vector<bool> correct;          // per candidate
  std::string reference;
};

inline int run_vote(const VoteArgs& a) {
  const Aggregation agg = parse_aggregation(a.aggregation);
  const GroupWeight weight = parse_group_weight(a.weight);
  const GroupWeight reward = parse_group_weight(a.bom_reward);
  TTSEARCH_REQUIRE(weight != GroupWeight::kCount, "--weight must be sum, mean or max");
  TTSEARCH_REQUIRE(reward != GroupWeight::kCount, "--bom-reward must be sum, mean or max");
  TTSEARCH_REQUIRE(a.alpha > 0 && a.alpha <= 1, "--alpha must be in (0, 1] (got {})", a.alpha);
  TTSEARCH_REQUIRE(a.max_n >= 0, "--max-n must be >= 0 (got {})", a.max_n);
  InputFile in(a.input);
  std::vector<VoteProblem> problems;
  bool have_scores = true;
  std::size_t errors = 0;
  in.for_each(
      [&](const Json& j, std::size_t line) {
        VoteProblem p;
        p.reference = string_field(in, j, line, a.reference_field);
        if (!j.contains(a.responses_field) || !j[a.responses_field].is_array() || j[a.responses_field].empty()) {
          throw in.error(line, fmt::format("field \"{}\" must be a non-empty array of strings", a.responses_field));
        }
        const Json& rs = j[a.responses_field];
        const Json* sc = j.contains(a.scores_field) ? &j[a.scores_field] : nullptr;
        if (sc && (!sc->is_array() || sc->size() != rs.size())) {
          throw in.error(line, fmt::format("field \"{}\" must be an array with one entry per response ({} responses)",
                                           a.scores_field, rs.size()));
        }
        if (!sc) have_scores = false;
        for (std::size_t i = 0; i < rs.size(); ++i) {
          if (!rs[i].is_string()) throw in.error(line, fmt::format("response {} is not a string", i));
          const std::string text = rs[i].get<std::string>();
          Candidate c;
          c.leaf = static_cast<NodeId>(i);
          const auto e = answer::extract_answer(text);
          c.answer = e.found() ? answer::normalize_answer(e.answer) : std::string{};
          if (sc) {
            const Json& s = (*sc)[i];
            if (s.is_number()) {
              c.step_scores = {s.get<double>()};
            } else if (s.is_array() && !s.empty()) {
              for (const auto& v : s) {
                if (!v.is_number()) throw in.error(line, fmt::format("scores of response {} must be numbers", i));
                c.step_scores.push_back(v.get<double>());
              }
            } else {
              throw in.error(line, fmt::format("scores of response {} must be a number or a non-empty array of numbers", i));
            }
            for (double v : c.step_scores) {
              if (!std::isfinite(v)) throw in.error(line, fmt::format("scores of response {} contain a non-finite value", i));
            }
            c.score = aggregate(c.step_scores, agg);
          }
          p.correct.push_back(answer::grade(text, p.reference).correct);
          p.candidates.push_back(std::move(c));
        }
        problems.push_back(std::move(p));
      },
      [&](const ParseError& e) {
        if (!a.keep_going) throw e;  // main prints it
        ++errors;
        std::cerr << "ttsearch vote: " << e.what() << '\n';
      });
  if (problems.empty()) throw InvalidArgument(fmt::format("{}: no problems to vote on", in.name()));
  std::size_t min_n = problems.front().candidates.size();
  for (const auto& p : problems) min_n = std::min(min_n, p.candidates.size());
  const std::size_t top = a.max_n > 0 ? std::min<std::size_t>(static_cast<std::size_t>(a.max_n), min_n) : min_n;

  std::vector<std::string> rules = {"pass@n", "majority"};
  if (have_scores) rules.insert(rules.end(), {"best-of-n", "weighted-majority", "best-of-majority"});
  std::map<std::string, std::map<std::size_t, double>> acc;
  std::vector<std::size_t> ns;
  for (std::size_t n = 1; n <= top; n *= 2) ns.push_back(n);
  if (ns.back() != top) ns.push_back(top);
  for (std::size_t n : ns) {
    std::map<std::string, std::size_t> hits;
    for (const auto& p : problems) {
      const std::span<const Candidate> cands(p.candidates.data(), n);
      auto correct_answer = [&](const std::string& ans) {
        return !ans.empty() && answer::equivalent_normalized(ans, answer::normalize_answer(p.reference));
      };
      bool any = false;
      for (std::size_t i = 0; i < n; ++i) any = any || p.correct[i];
      hits["pass@n"] += any;
      hits["majority"] += correct_answer(select_vote(cands, GroupWeight::kCount).answers.front());
      if (have_scores) {
        hits["best-of-n"] += p.correct[static_cast<std::size_t>(select_best_of_n(cands))];
        hits["weighted-majority"] += correct_answer(select_vote(cands, weight).answers.front());
        hits["best-of-majority"] += correct_answer(select_best_of_majority(cands, a.alpha, 1, reward).answers.front());
      }
    }
    for (const auto& r : rules) acc[r][n] = static_cast<double>(hits[r]) / static_cast<double>(problems.size());
  }
  if (a.json) {
    Json j{{"problems", problems.size()}, {"aggregation", a.aggregation}, {"accuracy", Json::object()}};
    for (const auto& r : rules) {
      for (std::size_t n : ns) j["accuracy"][r][std::to_string(n)] = acc[r][n];
    }
    std::cout << j.dump(2) << '\n';
  } else {
    std::cout << fmt::format("{} problems, aggregation {}, weighted by {}, BoM alpha {} reward {}\n", problems.size(),
                             a.aggregation, a.weight, a.alpha, a.bom_reward);
    std::cout << fmt::format("{:<18}", "rule \\ n");
    for (std::size_t n : ns) std::cout << fmt::format("{:>8}", n);
    std::cout << '\n';
    for (const auto& r : rules) {
      std::cout << fmt::format("{:<18}", r);
      for (std::size_t n : ns) std::cout << fmt::format("{:>7.1f}%", 100.0 * acc[r][n]);
      std::cout << '\n';
    }
    if (!have_scores) std::cout << "(no scores given: best-of-n, weighted-majority and best-of-majority need them)\n";
  }
  return errors ? 2 : 0;
}

}  // namespace ttsearch::cli
