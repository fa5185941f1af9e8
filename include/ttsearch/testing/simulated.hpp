#pragma once
/// A simulated reasoning domain with known ground truth, for tests, benchmarks and demos.
///
/// Each problem has L steps and a per-step accuracy p (drawn per problem, so problems vary in
/// difficulty). A solution is L steps "Step k: ... [ok]\n\n" or "... [slip]\n\n" and a final
/// "The answer is \boxed{A}." A step is correct with probability p while the path is still
/// correct; the first slip makes the path wrong for good. A correct path ends with the reference
/// answer; a wrong one with a distractor drawn with Zipf weights w_i ~ 1/(i+1)^skew, so wrong
/// answers cluster the way real models' wrong answers do.
/// Temperature T sharpens both choices: p_T = p^(1/T) / (p^(1/T) + (1-p)^(1/T)); T = 0 is greedy
/// and depends on the prefix only (every sample of a greedy request is the same text).
///
/// SimulatedGenerator honours stop strings (text-level, as vLLM does), max_tokens (finish
/// "length"), token confidence (per token: log-prob -0.15 / confidence 2.5 on a correct step,
/// -0.6 / 1.0 on a slip, -0.1 / 2.8 on the answer, confidences jittered by +-0.2 from a hash of
/// the text) with the DeepConf-online stop (finish "confidence"), and seeds (continuation i of a request uses Rng(seed).split(i)); it depends on
/// nothing else, so results never depend on the batch.
/// SimulatedPrm scores step j of a path from the truth of the path up to j:
///   score = sigmoid(logit(good or bad) + noise * z),  z ~ N(0,1) seeded by (seed, problem, prefix)
/// so the same prefix always gets the same score; noise = 0 with good = 1, bad = 0 is a perfect
/// verifier.
#include <algorithm>
#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ttsearch/core/concepts.hpp"
#include "ttsearch/core/confidence.hpp"
#include "ttsearch/core/rng.hpp"

namespace ttsearch::testing {

struct SimulatedTaskOptions {
  std::int32_t num_problems = 100;
  std::int32_t min_steps = 3;           ///< steps per problem, uniform in [min_steps, max_steps]
  std::int32_t max_steps = 6;
  double min_step_accuracy = 0.70;      ///< per-step accuracy p, uniform in [min, max] per problem
  double max_step_accuracy = 0.97;
  std::int32_t num_distractors = 4;     ///< distinct wrong answers per problem
  double distractor_skew = 1.0;         ///< Zipf exponent of the wrong answers
  std::int32_t min_step_tokens = 8;     ///< tokens per step, uniform in [min, max]
  std::int32_t max_step_tokens = 24;
  std::int32_t prompt_tokens = 40;      ///< tokens of each problem's prompt
  std::uint64_t seed = 0;

  void validate() const {
    TTSEARCH_REQUIRE(num_problems >= 0, "simulated: num_problems must be >= 0 (got {})", num_problems);
    TTSEARCH_REQUIRE(min_steps >= 1 && max_steps >= min_steps, "simulated: need 1 <= min_steps <= max_steps (got {}, {})",
                     min_steps, max_steps);
    TTSEARCH_REQUIRE(min_step_accuracy >= 0.0 && max_step_accuracy <= 1.0 && min_step_accuracy <= max_step_accuracy,
                     "simulated: need 0 <= min_step_accuracy <= max_step_accuracy <= 1 (got {}, {})",
                     min_step_accuracy, max_step_accuracy);
    TTSEARCH_REQUIRE(num_distractors >= 1, "simulated: num_distractors must be >= 1 (got {})", num_distractors);
    TTSEARCH_REQUIRE(distractor_skew >= 0.0, "simulated: distractor_skew must be >= 0 (got {})", distractor_skew);
    TTSEARCH_REQUIRE(min_step_tokens >= 1 && max_step_tokens >= min_step_tokens,
                     "simulated: need 1 <= min_step_tokens <= max_step_tokens (got {}, {})", min_step_tokens, max_step_tokens);
  }
};

/// Makes `num_problems` problems; problem i depends only on (seed, i).
inline std::vector<Problem> make_simulated_problems(const SimulatedTaskOptions& o) {
  o.validate();
  std::vector<Problem> out;
  out.reserve(static_cast<std::size_t>(o.num_problems));
  const Rng root(o.seed);
  for (std::int32_t i = 0; i < o.num_problems; ++i) {
    Rng r = root.split(static_cast<std::uint64_t>(i));
    Problem p;
    p.id = fmt::format("sim-{}", i);
    const auto steps = r.uniform_int(o.min_steps, o.max_steps);
    const double acc = o.min_step_accuracy + (o.max_step_accuracy - o.min_step_accuracy) * r.uniform();
    const auto answer = r.uniform_int(10, 999);
    std::vector<std::int64_t> distractors;
    while (static_cast<std::int32_t>(distractors.size()) < o.num_distractors) {
      const auto d = r.uniform_int(10, 999);
      if (d != answer && std::find(distractors.begin(), distractors.end(), d) == distractors.end()) distractors.push_back(d);
    }
    p.question = fmt::format("Simulated problem {}: {} steps, step accuracy {:.3f}.", i, steps, acc);
    p.reference = std::to_string(answer);
    p.meta["sim"] = Json{{"steps", steps},
                         {"step_accuracy", acc},
                         {"answer", answer},
                         {"distractors", distractors},
                         {"skew", o.distractor_skew},
                         {"min_step_tokens", o.min_step_tokens},
                         {"max_step_tokens", o.max_step_tokens},
                         {"prompt_tokens", o.prompt_tokens}};
    out.push_back(std::move(p));
  }
  return out;
}

namespace detail {

struct SimSpec {
  std::int64_t steps = 0;
  double acc = 0;
  std::int64_t answer = 0;
  std::vector<std::int64_t> distractors;
  double skew = 1;
  std::int64_t tok_min = 8, tok_max = 24, prompt_tokens = 40;
};

inline SimSpec sim_spec(const Problem& p) {
  if (!p.meta.contains("sim")) {
    throw InvalidArgument(fmt::format("problem '{}' is not a simulated problem (no meta.sim)", p.id));
  }
  const Json& j = p.meta["sim"];
  try {
    SimSpec s;
    s.steps = j.at("steps").get<std::int64_t>();
    s.acc = j.at("step_accuracy").get<double>();
    s.answer = j.at("answer").get<std::int64_t>();
    s.distractors = j.at("distractors").get<std::vector<std::int64_t>>();
    s.skew = j.at("skew").get<double>();
    s.tok_min = j.at("min_step_tokens").get<std::int64_t>();
    s.tok_max = j.at("max_step_tokens").get<std::int64_t>();
    s.prompt_tokens = j.value("prompt_tokens", std::int64_t{40});
    return s;
  } catch (const Json::exception& e) {
    throw InvalidArgument(fmt::format("problem '{}': bad meta.sim ({})", p.id, e.what()));
  }
}

inline double sharpen(double p, double temperature) {
  if (temperature <= 0.0) return p >= 0.5 ? 1.0 : 0.0;
  if (p <= 0.0 || p >= 1.0) return p;
  const double a = std::pow(p, 1.0 / temperature), b = std::pow(1.0 - p, 1.0 / temperature);
  return a / (a + b);
}

/// The "\n\n"-separated segments of a text (the last one may lack the separator).
inline std::vector<std::string_view> segments(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t p = text.find("\n\n", start);
    if (p == std::string_view::npos) {
      out.push_back(text.substr(start));
      break;
    }
    out.push_back(text.substr(start, p + 2 - start));
    start = p + 2;
  }
  return out;
}

}  // namespace detail

/// P(one sample at temperature T reaches the reference answer) = p_T^L.
inline double simulated_success_probability(const Problem& p, double temperature) {
  const auto s = detail::sim_spec(p);
  return std::pow(detail::sharpen(s.acc, temperature), static_cast<double>(s.steps));
}

/// The simulated policy. See the file comment.
class SimulatedGenerator {
 public:
  Generation generate(std::span<const GenerateRequest> requests) const {
    Generation g;
    g.outputs.reserve(requests.size());
    for (const auto& req : requests) {
      TTSEARCH_REQUIRE(req.problem != nullptr, "simulated generator: request without a problem");
      const auto spec = detail::sim_spec(*req.problem);
      const std::string prefix = req.prefix.text();
      const auto segs = detail::segments(prefix);
      std::int64_t done_steps = 0;
      bool wrong = false, finished = false;
      for (auto seg : segs) {
        if (seg.find("\\boxed") != std::string_view::npos) finished = true;
        else if (seg.ends_with("\n\n")) ++done_steps;
        if (seg.find("[slip]") != std::string_view::npos) wrong = true;
      }
      const double p = detail::sharpen(spec.acc, req.params.temperature);
      std::vector<Step> conts;
      conts.reserve(static_cast<std::size_t>(req.num_samples));
      // Greedy decoding (T = 0) is a function of the prefix alone, as with a real model.
      const std::uint64_t greedy_seed =
          hash_bytes(prefix.data(), prefix.size(), hash_bytes(req.problem->id.data(), req.problem->id.size()));
      for (std::int32_t i = 0; i < req.num_samples; ++i) {
        Rng rng = req.params.temperature <= 0.0 ? Rng(greedy_seed) : Rng(req.seed).split(static_cast<std::uint64_t>(i));
        conts.push_back(sample(spec, req.params, p, done_steps, wrong, finished, rng));
      }
      g.outputs.push_back(std::move(conts));
      const std::int64_t prefix_tokens = req.prefix.num_tokens();
      // A prefix cache would serve the prompt and prefix of every sample after the first.
      g.usage.push_back(RequestUsage{(spec.prompt_tokens + prefix_tokens) * req.num_samples,
                                     (spec.prompt_tokens + prefix_tokens) * (req.num_samples - 1)});
    }
    return g;
  }

 private:
  static Step sample(const detail::SimSpec& spec, const SamplingParams& params, double p, std::int64_t done_steps,
                     bool wrong, bool finished, Rng& rng) {
    Step step;
    if (finished) {  // nothing left to say
      step.finish = FinishReason::kEos;
      return step;
    }
    std::string text;
    std::int64_t tokens = 0;
    double logprob = 0.0;
    std::optional<ConfidenceWindow> window;
    if (params.confidence_stop) window.emplace(*params.confidence_stop, params.confidence_window);
    auto emit = [&](const std::string& piece, std::int64_t piece_tokens, double per_token_lp, double per_token_conf) -> bool {
      // returns true when generation must stop (stop string, max_tokens or the confidence stop)
      if (params.token_confidence) {
        // per-token values: the piece's level with a deterministic jitter (no draw from rng, so the
        // samples are the same with confidence on and off)
        const std::int64_t room = std::min(piece_tokens, params.max_tokens - tokens);
        for (std::int64_t t = 0; t < room; ++t) {
          const std::uint64_t h = hash_combine(hash_bytes(piece.data(), piece.size()), static_cast<std::uint64_t>(t));
          const double jitter = (static_cast<double>(h % 1001) / 1000.0 - 0.5) * 0.4;
          step.token_logprobs.push_back(static_cast<float>(per_token_lp));
          step.token_confidences.push_back(static_cast<float>(per_token_conf + jitter));
          if (window && window->push(per_token_conf + jitter)) {  // DeepConf-online: stop after this token
            const auto keep = static_cast<std::size_t>(static_cast<double>(piece.size()) * static_cast<double>(t + 1) /
                                                       static_cast<double>(piece_tokens));
            text += piece.substr(0, keep);
            tokens += t + 1;
            logprob += per_token_lp * static_cast<double>(t + 1);
            step.finish = FinishReason::kLowConfidence;
            return true;
          }
        }
      }
      if (tokens + piece_tokens > params.max_tokens) {
        const std::int64_t room = params.max_tokens - tokens;
        const auto keep = static_cast<std::size_t>(static_cast<double>(piece.size()) * static_cast<double>(room) /
                                                   static_cast<double>(piece_tokens));
        text += piece.substr(0, keep);
        tokens += room;
        logprob += per_token_lp * static_cast<double>(room);
        step.finish = FinishReason::kLength;
        return true;
      }
      text += piece;
      tokens += piece_tokens;
      logprob += per_token_lp * static_cast<double>(piece_tokens);
      for (const auto& stop : params.stop) {
        // search only where the new piece could complete a match (vLLM's incremental check)
        const std::size_t before = text.size() - piece.size();
        const std::size_t from = before >= stop.size() - 1 ? before - (stop.size() - 1) : 0;
        const std::size_t at = text.find(stop, from);
        if (at != std::string::npos) {
          text.resize(params.include_stop_in_output ? at + stop.size() : at);
          step.finish = FinishReason::kStop;
          return true;
        }
      }
      return false;
    };
    bool stopped = false;
    for (std::int64_t k = done_steps; k < spec.steps && !stopped; ++k) {
      const bool ok = !wrong && rng.bernoulli(p);
      const bool slip = !wrong && !ok;
      if (slip) wrong = true;
      const std::int64_t t = rng.uniform_int(spec.tok_min, spec.tok_max);
      const std::string piece = fmt::format("Step {}: work on part {} {}\n\n", k + 1, rng.uniform_int(1, 99),
                                            slip ? "[slip]" : "[ok]");
      stopped = emit(piece, t, slip ? -0.6 : -0.15, slip ? 1.0 : 2.5);
    }
    if (!stopped) {
      std::int64_t answer = spec.answer;
      if (wrong) answer = spec.distractors[pick_distractor(spec, params.temperature, rng)];
      stopped = emit(fmt::format("The answer is \\boxed{{{}}}.", answer), 6, -0.1, 2.8);
      if (!stopped) step.finish = FinishReason::kEos;
    }
    step.text = std::move(text);
    step.num_tokens = tokens;
    step.logprob = logprob;
    return step;
  }

  static std::size_t pick_distractor(const detail::SimSpec& spec, double temperature, Rng& rng) {
    if (temperature <= 0.0) return 0;
    std::vector<double> w(spec.distractors.size());
    double total = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      w[i] = std::pow(1.0 / std::pow(static_cast<double>(i + 1), spec.skew), 1.0 / temperature);
      total += w[i];
    }
    double u = rng.uniform() * total;
    for (std::size_t i = 0; i < w.size(); ++i) {
      if ((u -= w[i]) <= 0) return i;
    }
    return w.size() - 1;
  }
};

struct SimulatedPrmOptions {
  double noise = 1.0;   ///< std-dev of the logit noise; 0 = deterministic
  double good = 0.8;    ///< base score of a step on a still-correct path
  double bad = 0.2;     ///< base score of a step on a wrong path
  bool outcome = false; ///< true: one score per path (an ORM), the last step's
  std::uint64_t seed = 0;

  void validate() const {
    TTSEARCH_REQUIRE(noise >= 0.0 && std::isfinite(noise), "simulated prm: noise must be finite and >= 0 (got {})", noise);
    TTSEARCH_REQUIRE(good >= 0.0 && good <= 1.0 && bad >= 0.0 && bad <= 1.0,
                     "simulated prm: good and bad must be in [0, 1] (got {}, {})", good, bad);
  }
  /// A verifier that is always right: 1 on correct paths, 0 on wrong ones.
  static SimulatedPrmOptions perfect() { return {0.0, 1.0, 0.0, false, 0}; }
};

/// The simulated process reward model. See the file comment.
class SimulatedPrm {
 public:
  explicit SimulatedPrm(SimulatedPrmOptions o = {}) : o_(o) { o_.validate(); }

  Scoring score(std::span<const ScoreRequest> requests) const {
    Scoring out;
    out.scores.reserve(requests.size());
    for (const auto& req : requests) {
      TTSEARCH_REQUIRE(req.problem != nullptr, "simulated prm: request without a problem");
      const auto spec = detail::sim_spec(*req.problem);
      const std::string text = req.path.text();
      const auto segs = detail::segments(text);
      std::vector<double> scores;
      bool correct = true;
      std::uint64_t h = hash_combine(o_.seed, hash_bytes(req.problem->id.data(), req.problem->id.size()));
      for (auto seg : segs) {
        if (seg.find("[slip]") != std::string_view::npos) correct = false;
        const auto boxed = seg.find("\\boxed{");
        if (boxed != std::string_view::npos) {
          const auto close = seg.find('}', boxed);
          correct = correct && seg.substr(boxed + 7, close - boxed - 7) == std::to_string(spec.answer);
        }
        h = hash_bytes(seg.data(), seg.size(), h);
        scores.push_back(step_score(correct, h));
      }
      if (scores.empty()) scores.push_back(step_score(correct, h));  // an empty path: score the prompt
      if (o_.outcome) scores = {scores.back()};
      out.scores.push_back(std::move(scores));
    }
    return out;
  }

 private:
  double step_score(bool correct, std::uint64_t h) const {
    const double base = correct ? o_.good : o_.bad;
    if (o_.noise == 0.0) return base;
    const double clamped = std::min(std::max(base, 1e-6), 1.0 - 1e-6);
    const double logit = std::log(clamped / (1.0 - clamped)) + o_.noise * Rng(h).normal();
    return 1.0 / (1.0 + std::exp(-logit));
  }
  SimulatedPrmOptions o_;
};

static_assert(Generator<SimulatedGenerator>);
static_assert(Verifier<SimulatedPrm>);

}  // namespace ttsearch::testing
