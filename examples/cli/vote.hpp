#pragma once
// `ttsearch vote`: offline re-ranking of sampled responses (search-and-learn's scoring script,
// for completions produced by any system). For n = 1, 2, 4, ... it takes each problem's FIRST n
// responses (so one run at N gives every smaller n, and DVTS groups stay intact) and applies
// best-of-N, majority, weighted majority and Best-of-Majority, plus pass@n (any correct).
// With per-response token log-probs (field "logprobs", see parse_response_logprobs for the
// accepted layouts) it also applies DeepConf's offline rules (core/confidence.hpp): votes weighted
// by the mean / lowest-group / bottom-10% / tail confidence, the most confident fraction voting
// (tail and lowest group), and the most likely response (highest mean token log-prob).
#include <cmath>
#include <iostream>
#include <stdexcept>
#include <map>

#include <ttsearch/answer/equivalence.hpp>
#include <ttsearch/core/confidence.hpp>
#include <ttsearch/strategies/deepconf.hpp>
#include <ttsearch/strategies/selection.hpp>

#include "jsonl_input.hpp"

namespace ttsearch::cli {

struct VoteArgs {
  std::string input = "-";
  std::string responses_field = "responses";
  std::string scores_field = "scores";
  std::string reference_field = "reference";
  std::string logprobs_field = "logprobs";
  std::int64_t window = kDeepConfWindow;  // DeepConf group size
  double keep_fraction = 0.1;             // DeepConf filter: the most confident fraction kept
  std::string aggregation = "last";
  std::string weight = "sum";
  std::string bom_reward = "max";
  double alpha = 0.1;
  std::int32_t max_n = 0;  // 0 = the smallest response count over all problems
  bool json = false;
  bool keep_going = false;
};

/// Per-token log-probs and confidences of one response, from any of these layouts:
///   OpenAI / vLLM completions: {"token_logprobs": [l, ...], "top_logprobs": [{"tok": l, ...}, ...]}
///   OpenAI chat: {"content": [{"token": t, "logprob": l, "top_logprobs": [{"token": t, "logprob": l}, ...]}, ...]}
///     (or the "content" array itself)
///   precomputed: {"token_logprobs": [l, ...], "token_confidences": [c, ...]}
/// The confidence of a token is -mean of its top log-probs (as many as given: DeepConf asks for 20);
/// null positions (an echoed prompt's first token) are skipped. Throws std::runtime_error naming the problem.
struct ResponseLogprobs {
  std::vector<float> logprobs, confidences;
};

inline ResponseLogprobs parse_response_logprobs(const Json& j) {
  ResponseLogprobs out;
  // a log-prob: a number <= 0 (1e-6 of rounding above 0 is taken as 0), -inf and below the floor count as the floor
  auto number = [](const Json& v, const char* what) {
    if (!v.is_number()) throw std::runtime_error(fmt::format("{} must be a number", what));
    const double d = v.get<double>();
    if (std::isnan(d)) throw std::runtime_error(fmt::format("{} is NaN", what));
    if (d > 1e-6) throw std::runtime_error(fmt::format("{} must be a log-probability, <= 0 (got {})", what, d));
    return std::max(std::min(d, 0.0), kConfidenceLogprobFloor);
  };
  auto chat = [&](const Json& content) {
    for (const auto& t : content) {
      if (!t.is_object() || !t.contains("logprob")) throw std::runtime_error("each \"content\" entry needs \"logprob\"");
      if (t["logprob"].is_null()) continue;
      out.logprobs.push_back(static_cast<float>(number(t["logprob"], "logprob")));
      std::vector<double> top;
      if (t.contains("top_logprobs") && t["top_logprobs"].is_array()) {
        for (const auto& e : t["top_logprobs"]) {
          if (!e.is_object() || !e.contains("logprob")) throw std::runtime_error("each \"top_logprobs\" entry needs \"logprob\"");
          top.push_back(number(e["logprob"], "top_logprobs logprob"));
        }
      }
      if (top.empty()) throw std::runtime_error("chat logprobs without \"top_logprobs\": ask the server for top_logprobs (DeepConf: 20)");
      out.confidences.push_back(static_cast<float>(token_confidence_from_logprobs(top)));
    }
  };
  if (j.is_array()) {
    chat(j);
  } else if (j.is_object() && j.contains("content") && j["content"].is_array()) {
    chat(j["content"]);
  } else if (j.is_object() && j.contains("token_logprobs") && j["token_logprobs"].is_array()) {
    const Json& lp = j["token_logprobs"];
    if (j.contains("token_confidences")) {
      const Json& c = j["token_confidences"];
      if (!c.is_array() || c.size() != lp.size()) throw std::runtime_error("\"token_confidences\" must be an array as long as \"token_logprobs\"");
      for (std::size_t i = 0; i < lp.size(); ++i) {
        out.logprobs.push_back(static_cast<float>(number(lp[i], "token_logprobs entry")));
        if (!c[i].is_number()) throw std::runtime_error("token_confidences entry must be a number");
        const auto cv = static_cast<float>(c[i].get<double>());  // checked as stored: 1e300 is not a float
        if (!std::isfinite(cv) || cv < 0) {
          throw std::runtime_error(fmt::format("token_confidences entry must be finite and >= 0 (-mean of log-probs; got {})", c[i].dump()));
        }
        out.confidences.push_back(cv);
      }
    } else {
      if (!j.contains("top_logprobs") || !j["top_logprobs"].is_array() || j["top_logprobs"].size() != lp.size()) {
        throw std::runtime_error("\"top_logprobs\" must be an array as long as \"token_logprobs\" (or give \"token_confidences\")");
      }
      const Json& top = j["top_logprobs"];
      for (std::size_t i = 0; i < lp.size(); ++i) {
        if (lp[i].is_null()) continue;
        out.logprobs.push_back(static_cast<float>(number(lp[i], "token_logprobs entry")));
        if (!top[i].is_object() || top[i].empty()) throw std::runtime_error(fmt::format("top_logprobs entry {} must be a non-empty object", i));
        std::vector<double> vals;
        for (const auto& [_, v] : top[i].items()) vals.push_back(number(v, "top_logprobs value"));
        out.confidences.push_back(static_cast<float>(token_confidence_from_logprobs(vals)));
      }
    }
  } else {
    throw std::runtime_error("expected {\"token_logprobs\", \"top_logprobs\"} (completions), {\"content\": [...]} (chat) or "
                             "{\"token_logprobs\", \"token_confidences\"}");
  }
  if (out.logprobs.empty()) throw std::runtime_error("no token log-probs (a response of no tokens has no confidence)");
  return out;
}

struct VoteProblem {
  std::vector<Candidate> candidates;  // all responses, in order
  std::vector<TraceConfidence> confidence;  // per response, when log-probs were given
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
  TTSEARCH_REQUIRE(a.window >= 1, "--window must be >= 1 (got {})", a.window);
  TTSEARCH_REQUIRE(a.keep_fraction > 0 && a.keep_fraction <= 1, "--keep-fraction must be in (0, 1] (got {})", a.keep_fraction);
  InputFile in(a.input);
  std::vector<VoteProblem> problems;
  bool have_scores = true, have_logprobs = true;
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
        const Json* lp = j.contains(a.logprobs_field) ? &j[a.logprobs_field] : nullptr;
        if (lp && (!lp->is_array() || lp->size() != rs.size())) {
          throw in.error(line, fmt::format("field \"{}\" must be an array with one entry per response ({} responses)", a.logprobs_field,
                                           rs.size()));
        }
        if (!lp) have_logprobs = false;
        for (std::size_t i = 0; lp && i < rs.size(); ++i) {
          try {
            const auto r = parse_response_logprobs((*lp)[i]);
            p.confidence.push_back(trace_confidence(r.confidences, r.logprobs, a.window));
          } catch (const std::runtime_error& e) {
            throw in.error(line, fmt::format("{} of response {}: {}", a.logprobs_field, i, e.what()));
          }
        }
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
  // DeepConf's offline rules: weighted votes (keep everything) and the most confident fraction
  const std::vector<std::pair<std::string, std::pair<ConfidenceSignal, double>>> conf_rules = {
      {"conf-mean", {ConfidenceSignal::kMean, 1.0}},
      {"conf-lowest-group", {ConfidenceSignal::kLowestGroup, 1.0}},
      {"conf-bottom-10", {ConfidenceSignal::kBottom10, 1.0}},
      {"conf-tail", {ConfidenceSignal::kTail, 1.0}},
      {"conf-filter-tail", {ConfidenceSignal::kTail, a.keep_fraction}},
      {"conf-filter-lowest", {ConfidenceSignal::kLowestGroup, a.keep_fraction}},
      {"most-likely", {ConfidenceSignal::kMeanLogprob, 0.0}}};
  if (have_logprobs) {
    for (const auto& [name, _] : conf_rules) rules.push_back(name);
  }
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
      if (have_logprobs) {
        for (const auto& [name, rule] : conf_rules) {
          std::vector<Candidate> scored(cands.begin(), cands.end());
          for (std::size_t i = 0; i < n; ++i) scored[i].score = confidence_score(p.confidence[i], rule.first);
          if (rule.second == 0.0) {  // the single most likely response
            hits[name] += p.correct[static_cast<std::size_t>(select_best_of_n(scored))];
          } else {
            const auto v = deepconf_outcome(scored, rule.second, true);
            hits[name] += !v.answers.empty() && correct_answer(v.answers.front());
          }
        }
      }
    }
    for (const auto& r : rules) acc[r][n] = static_cast<double>(hits[r]) / static_cast<double>(problems.size());
  }
  if (a.json) {
    Json j{{"problems", problems.size()}, {"aggregation", a.aggregation}, {"window", a.window}, {"keep_fraction", a.keep_fraction},
           {"accuracy", Json::object()}};
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
    if (!have_logprobs) std::cout << fmt::format("(no \"{}\" given: the confidence rules need them)\n", a.logprobs_field);
  }
  return errors ? 2 : 0;
}

}  // namespace ttsearch::cli
