#pragma once
/// DeepConf (Fu, Wang, Tian, Zhao, "Deep Think with Confidence", arXiv 2508.15260;
/// ../shared/reference/budget.md section 1). No verifier: the policy's own token confidence.
///
/// Offline (`deepconf`): sample N whole traces with token confidence; each trace's confidence c_t
/// is a signal of core/confidence.hpp (default: lowest group, window w); drop traces without an
/// answer (none extracted, or the trace did not finish: cut at max_tokens or by the confidence
/// stop); keep the ceil(eta * N') most confident (eta = keep_fraction: 0.1 is DeepConf-low, 0.9
/// DeepConf-high; ties at the boundary kept, values within kConfidenceTieTolerance of it count as
/// ties); then the confidence-weighted vote
///   y* = argmax_a sum_{t kept} c_t * 1[ans_t ~ a]            (or a plain count, weighted = false).
/// keep_fraction = 1 is the plain confidence-weighted majority. The representative path of the
/// winner is its most confident member.
///
/// Online (`deepconf-online`): 
///   1. warm-up: N_init (16) traces; s = the (1 - eta) quantile (linear interpolation, numpy's
///      percentile at 100 (1 - eta): eta = 0.1 gives the 90th percentile, DeepConf-low) of their
///      lowest-group confidences;
///   2. then rounds of `batch` traces, each sampled with the early stop "a full window of w tokens
///      with mean confidence below s ends the trace" (finish "confidence"; its tokens are charged),
///      until max_samples traces or the consensus stop beta = V(a*) / sum_a V(a) >= tau (0.95)
///      over the vote below, checked after the warm-up and after every round;
///   3. vote: traces stopped early and traces whose lowest group is below s are dropped; the rest
///      vote weighted by their lowest-group confidence. When none survive, a plain majority of
///      every trace decides. "Below s" means below by more than kConfidenceTieTolerance, in the
///      early stop and the vote alike (a trace the stop let through always votes).
/// The official code has no consensus stop (the paper does); tau = 1 still stops once every voter
/// agrees (beta = 1): set max_samples = warmup for the warm-up alone.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "ttsearch/budget/stopping.hpp"
#include "ttsearch/core/confidence.hpp"
#include "ttsearch/strategies/best_of_n.hpp"
#include "ttsearch/verifiers/confidence.hpp"

namespace ttsearch {

namespace detail {

/// Whole-solution sampling with token confidence (k = 20), the DeepConf strategies' default: the
/// paper's T = 0.6, top-p 0.95 (budget.md 1.3).
inline SamplingParams confidence_sampling() {
  SamplingParams p = whole_solution_sampling();
  p.temperature = 0.6;
  p.top_p = 0.95;
  p.token_confidence = true;
  return p;
}

/// Candidates of `leaves` scored by a confidence signal (Candidate::score = the vote weight).
/// A trace that did not finish (cut at max_tokens, or by the confidence stop) has no answer: its
/// text ends mid-solution, so the fallback "last number" would be a guess.
inline std::vector<Candidate> confidence_candidates(const SearchTree& tree, std::span<const NodeId> leaves, ConfidenceSignal signal,
                                                    std::int64_t window) {
  std::vector<Candidate> cands;
  cands.reserve(leaves.size());
  for (NodeId leaf : leaves) {
    Candidate c = make_candidate(tree, leaf, Aggregation::kLast);
    const FinishReason f = tree.node(leaf).step.finish;
    if (f == FinishReason::kLength || f == FinishReason::kLowConfidence) c.answer.clear();
    c.score = confidence_score(checked_trace_confidence(tree.path(leaf), signal, window), signal);
    cands.push_back(std::move(c));
  }
  return cands;
}

/// A vote over the subset `idx` of `cands` (weighted by score or by count), mapped back to `cands`.
inline VoteOutcome vote_subset(std::span<const Candidate> cands, const std::vector<std::size_t>& idx, bool weighted) {
  std::vector<Candidate> sub;
  sub.reserve(idx.size());
  for (std::size_t i : idx) sub.push_back(cands[i]);
  VoteOutcome v = select_vote(sub, weighted ? GroupWeight::kSum : GroupWeight::kCount);
  if (v.chosen >= 0) v.chosen = static_cast<std::int64_t>(idx[static_cast<std::size_t>(v.chosen)]);
  return v;
}

/// numpy.percentile(values, q) with linear interpolation (q in [0, 100]).
inline double percentile(std::vector<double> values, double q) {
  TTSEARCH_REQUIRE(!values.empty(), "percentile of no values");
  std::sort(values.begin(), values.end());
  const double pos = q / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace detail

// ------------------------------------------------------------------------------------ offline

struct DeepConfOptions {
  std::int32_t n = 64;  ///< traces
  SamplingParams sampling = detail::confidence_sampling();
  ConfidenceSignal signal = ConfidenceSignal::kLowestGroup;  ///< the trace confidence (DeepConf: lowest group or tail)
  double keep_fraction = 0.1;  ///< eta: the most confident fraction kept (0.1 DeepConf-low, 0.9 DeepConf-high, 1 = no filter)
  bool weighted = true;        ///< votes weighted by confidence (false: a count over the kept traces)
  std::int64_t window = kDeepConfWindow;  ///< group size in tokens

  void validate() const {
    TTSEARCH_REQUIRE(n >= 1 && n <= detail::kMaxSamples, "deepconf: n must be in [1, {}] (got {})", detail::kMaxSamples, n);
    TTSEARCH_REQUIRE(keep_fraction > 0.0 && keep_fraction <= 1.0, "deepconf: keep_fraction must be in (0, 1] (got {})", keep_fraction);
    TTSEARCH_REQUIRE(window >= 1, "deepconf: window must be >= 1 (got {})", window);
    TTSEARCH_REQUIRE(!(weighted && signal == ConfidenceSignal::kSumLogprob),
                     "deepconf: a weighted vote needs a non-negative signal (sum-logprob is not; use mean-logprob or min-logprob)");
    TTSEARCH_REQUIRE(sampling.token_confidence || !needs_token_values(signal),
                     "deepconf: signal '{}' needs sampling.token_confidence = true", to_string(signal));
    TTSEARCH_REQUIRE(!sampling.confidence_stop, "deepconf: sampling.confidence_stop would cut traces (deepconf-online stops traces)");
    sampling.validate();
  }
};
TTSEARCH_OPTIONS_JSON(DeepConfOptions, "deepconf", n, sampling, signal, keep_fraction, weighted, window)

/// DeepConf's offline choice over candidates whose score is the trace confidence.
inline VoteOutcome deepconf_outcome(std::span<const Candidate> cands, double keep_fraction, bool weighted) {
  if (cands.empty()) return {};
  std::vector<std::size_t> eligible;
  for (std::size_t i = 0; i < cands.size(); ++i) if (!cands[i].answer.empty()) eligible.push_back(i);
  if (eligible.empty()) for (std::size_t i = 0; i < cands.size(); ++i) eligible.push_back(i);
  const auto keep = static_cast<std::size_t>(std::ceil(keep_fraction * static_cast<double>(eligible.size()) - 1e-9));
  std::vector<double> scores;
  for (std::size_t i : eligible) scores.push_back(cands[i].score);
  std::sort(scores.begin(), scores.end(), std::greater<>());
  const double cut = scores[std::max<std::size_t>(keep, 1) - 1];
  std::vector<std::size_t> kept;
  for (std::size_t i : eligible) if (!clearly_below(cands[i].score, cut)) kept.push_back(i);  // ties at the cut are kept
  return detail::vote_subset(cands, kept, weighted);
}

inline SearchTask deepconf_search(SearchContext& ctx, DeepConfOptions opt) {
  const Expansion e = co_await ctx.generate(detail::sample_from_root(opt.n, opt.sampling));
  const auto leaves = detail::leaves_of(e);
  for (NodeId leaf : leaves) ctx.mark(leaf, kFlagTerminal);
  auto cands = detail::confidence_candidates(ctx.tree(), leaves, opt.signal, opt.window);
  const VoteOutcome v = deepconf_outcome(cands, opt.keep_fraction, opt.weighted);
  co_return detail::voting_result(std::move(cands), v);
}

inline SearchSpec make_search(const Problem& problem, const DeepConfOptions& opt, const Budget& budget = {}, std::uint64_t seed = 0) {
  opt.validate();
  return SearchSpec{&problem, "deepconf", Json(opt), budget, seed, [opt](SearchContext& ctx) { return deepconf_search(ctx, opt); }};
}

// ------------------------------------------------------------------------------------- online

struct DeepConfOnlineOptions {
  std::int32_t warmup = 16;       ///< N_init warm-up traces
  std::int32_t max_samples = 64;  ///< traces in all (the paper's budget B: 512)
  std::int32_t batch = 8;         ///< traces per round after the warm-up
  double keep_fraction = 0.1;     ///< eta: s = the (1 - eta) quantile of the warm-up's lowest groups (0.1 low, 0.9 high)
  double consensus = 0.95;        ///< tau; 1 = never stop on consensus
  std::int64_t window = kDeepConfWindow;  ///< group size, and the early stop's window
  SamplingParams sampling = detail::confidence_sampling();

  void validate() const {
    TTSEARCH_REQUIRE(warmup >= 1 && warmup <= detail::kMaxSamples, "deepconf-online: warmup must be in [1, {}] (got {})", detail::kMaxSamples,
                     warmup);
    TTSEARCH_REQUIRE(max_samples >= warmup && max_samples <= detail::kMaxSamples, "deepconf-online: max_samples must be in [warmup, {}] (got {})",
                     detail::kMaxSamples, max_samples);
    TTSEARCH_REQUIRE(batch >= 1, "deepconf-online: batch must be >= 1 (got {})", batch);
    TTSEARCH_REQUIRE(keep_fraction > 0.0 && keep_fraction <= 1.0, "deepconf-online: keep_fraction must be in (0, 1] (got {})", keep_fraction);
    TTSEARCH_REQUIRE(consensus > 0.0 && consensus <= 1.0, "deepconf-online: consensus must be in (0, 1] (got {})", consensus);
    TTSEARCH_REQUIRE(window >= 1, "deepconf-online: window must be >= 1 (got {})", window);
    TTSEARCH_REQUIRE(sampling.token_confidence, "deepconf-online: sampling.token_confidence must be true");
    TTSEARCH_REQUIRE(!sampling.confidence_stop, "deepconf-online: sampling.confidence_stop is set by the strategy, not the options");
    TTSEARCH_REQUIRE(sampling.confidence_window == window || sampling.confidence_window == kDeepConfWindow,
                     "deepconf-online: sampling.confidence_window ({}) differs from window ({}); the strategy stops traces on `window`",
                     sampling.confidence_window, window);
    sampling.validate();
  }
};
TTSEARCH_OPTIONS_JSON(DeepConfOnlineOptions, "deepconf-online", warmup, max_samples, batch, keep_fraction, consensus, window, sampling)

/// The state DeepConf-online decides from: candidates (score = lowest group) in sampling order,
/// the first `warmup` of them the warm-up, and which traces the early stop ended.
struct DeepConfOnlineVote {
  double threshold = 0;      ///< s
  VoteOutcome outcome;
  double beta = 0;           ///< the winner's share of the vote
  std::size_t eligible = 0;  ///< traces that voted
};

inline DeepConfOnlineVote deepconf_online_vote(std::span<const Candidate> cands, const std::vector<bool>& stopped_early,
                                               std::size_t warmup, double keep_fraction) {
  DeepConfOnlineVote out;
  if (cands.empty()) return out;
  std::vector<double> warm;
  for (std::size_t i = 0; i < std::min(warmup, cands.size()); ++i) warm.push_back(cands[i].score);
  out.threshold = detail::percentile(warm, 100.0 * (1.0 - keep_fraction));
  std::vector<std::size_t> voters;
  for (std::size_t i = 0; i < cands.size(); ++i) {
    if (!stopped_early[i] && !clearly_below(cands[i].score, out.threshold)) voters.push_back(i);
  }
  out.eligible = voters.size();
  if (voters.empty()) {
    for (std::size_t i = 0; i < cands.size(); ++i) voters.push_back(i);
    out.outcome = detail::vote_subset(cands, voters, false);
  } else {
    out.outcome = detail::vote_subset(cands, voters, true);
  }
  // beta over the weighted vote of the voters with an answer
  double total = 0, top = 0;
  if (!out.outcome.answers.empty() && out.eligible > 0) {
    const std::string& winner = out.outcome.answers.front();
    for (std::size_t i : voters) {
      if (cands[i].answer.empty()) continue;
      total += cands[i].score;
      if (answer::equivalent_normalized(cands[i].answer, winner)) top += cands[i].score;
    }
  }
  out.beta = total > 0 ? top / total : 0.0;
  return out;
}

/// DeepConf-online's vote from a tree and its candidate leaves (also used by replay).
inline DeepConfOnlineVote deepconf_online_outcome(const SearchTree& tree, std::span<const Candidate> cands, const DeepConfOnlineOptions& opt) {
  std::vector<bool> stopped(cands.size());
  for (std::size_t i = 0; i < cands.size(); ++i) stopped[i] = tree.node(cands[i].leaf).step.finish == FinishReason::kLowConfidence;
  return deepconf_online_vote(cands, stopped, static_cast<std::size_t>(opt.warmup), opt.keep_fraction);
}

/// Replay's audit of DeepConf-online's per-trace decisions: no warm-up trace was stopped; a
/// stopped trace ends at the first full window clearly below the threshold of the traces drawn
/// before its round; an unstopped trace after the warm-up has no such window. The thresholds are
/// recomputed from the candidates (the first `warmup` of them). Throws InvalidArgument naming the
/// first trace that breaks the rule.
inline void deepconf_online_check(const SearchTree& tree, std::span<const Candidate> cands, const DeepConfOnlineOptions& opt) {
  const auto warm = static_cast<std::size_t>(opt.warmup);
  if (cands.size() > static_cast<std::size_t>(opt.max_samples)) {
    throw InvalidArgument(fmt::format("deepconf-online: {} traces recorded, max_samples is {}", cands.size(), opt.max_samples));
  }
  std::vector<double> warm_scores;
  for (std::size_t i = 0; i < std::min(warm, cands.size()); ++i) warm_scores.push_back(cands[i].score);
  if (warm_scores.empty()) return;
  const double s = detail::percentile(warm_scores, 100.0 * (1.0 - opt.keep_fraction));  // the threshold of every round
  for (std::size_t i = 0; i < cands.size(); ++i) {
    const PathView path = tree.path(cands[i].leaf);
    std::vector<float> conf;
    for (const Step& st : path) conf.insert(conf.end(), st.token_confidences.begin(), st.token_confidences.end());
    const bool stopped = tree.node(cands[i].leaf).step.finish == FinishReason::kLowConfidence;
    if (i < warm) {
      if (stopped) throw InvalidArgument(fmt::format("deepconf-online: warm-up trace {} (node {}) ends with a confidence stop", i, cands[i].leaf));
      continue;
    }
    ConfidenceWindow w(s, opt.window);
    constexpr std::size_t kNever = std::numeric_limits<std::size_t>::max();
    std::size_t fired = kNever;  // tokens after which the rule stops the trace
    for (std::size_t t = 0; t < conf.size(); ++t) {
      if (w.push(conf[t])) {
        fired = t + 1;
        break;
      }
    }
    if (stopped && fired != conf.size()) {
      throw InvalidArgument(fmt::format("deepconf-online: trace {} (node {}) was stopped after {} tokens, the rule stops it {}", i,
                                        cands[i].leaf, conf.size(), fired == kNever ? std::string("never") : fmt::format("after {}", fired)));
    }
    // (a trace whose last token is its end of sequence may meet the rule there: it ended first)
    if (!stopped && fired != kNever && fired < conf.size()) {
      throw InvalidArgument(fmt::format("deepconf-online: trace {} (node {}) has a window below the threshold at token {} but was not stopped", i,
                                        cands[i].leaf, fired));
    }
  }
}

inline SearchTask deepconf_online_search(SearchContext& ctx, DeepConfOnlineOptions opt) {
  std::vector<NodeId> leaves;
  const Expansion warm = co_await ctx.generate(detail::sample_from_root(opt.warmup, opt.sampling));
  for (NodeId leaf : detail::leaves_of(warm)) leaves.push_back(leaf);
  auto cands = detail::confidence_candidates(ctx.tree(), leaves, ConfidenceSignal::kLowestGroup, opt.window);
  DeepConfOnlineVote vote = deepconf_online_outcome(ctx.tree(), cands, opt);
  while (!leaves.empty() && static_cast<std::int32_t>(leaves.size()) < opt.max_samples && !(vote.eligible > 0 && vote.beta >= opt.consensus)) {
    SamplingParams p = opt.sampling;
    p.confidence_stop = vote.threshold;
    p.confidence_window = opt.window;
    const auto k = std::min(opt.batch, opt.max_samples - static_cast<std::int32_t>(leaves.size()));
    const Expansion e = co_await ctx.generate(detail::sample_from_root(k, p));
    if (!e.ok()) break;
    for (NodeId leaf : detail::leaves_of(e)) {
      leaves.push_back(leaf);
      if (ctx.tree().node(leaf).step.finish == FinishReason::kLowConfidence) {
        ctx.mark(leaf, kFlagPruned, fmt::format("confidence stop: a {}-token window fell below {:.4g}", opt.window, vote.threshold));
      }
    }
    cands = detail::confidence_candidates(ctx.tree(), leaves, ConfidenceSignal::kLowestGroup, opt.window);
    vote = deepconf_online_outcome(ctx.tree(), cands, opt);
  }
  for (NodeId leaf : leaves) ctx.mark(leaf, kFlagTerminal);
  co_return detail::voting_result(std::move(cands), vote.outcome);
}

inline SearchSpec make_search(const Problem& problem, const DeepConfOnlineOptions& opt, const Budget& budget = {}, std::uint64_t seed = 0) {
  opt.validate();
  return SearchSpec{&problem, "deepconf-online", Json(opt), budget, seed, [opt](SearchContext& ctx) { return deepconf_online_search(ctx, opt); }};
}

}  // namespace ttsearch
