#pragma once
/// Step-level beam search over a process reward model (Snell et al., arXiv 2408.03314;
/// search-and-learn `beam_search.py`, algorithms.md section 1.4).
///
/// Rule, with N = n and M = beam_width:
///   round 0: sample N first steps from the root;
///   every round: score each new step's path with the PRM, move finished paths (EOS, length,
///     empty step) to `completed`, optionally drop duplicate texts, keep the top N/M by
///     agg(PRM scores) and extend each kept beam by M sampled steps (stop "\n\n");
///   the last round (num_iterations) has no stop string: every beam runs to the end.
///   Lookahead k > 0: each new step is extended k more steps at T = 0 and the PRM scores the
///   step + lookahead text; the lookahead is then dropped (it only informs the ranking).
///   Answer: the completed path with the highest agg(scores) (or a vote, `final_choice`).
///
/// Default mode fixes search-and-learn's bugs: the lookahead text is scored, the chosen
/// aggregation is honoured, and finished beams count against the width (N/M - |completed| beams
/// are kept, as REBASE counts finished solutions). `search_and_learn_compat` reproduces
/// search-and-learn instead: the survivors are copied in a cycle back to N beams each round
/// (finished beams do not reduce the width), only the step text is scored (lookahead wasted),
/// ranking and answer use the last step's score, and the first N completed paths are the candidates.
#include "ttsearch/strategies/tree_common.hpp"

namespace ttsearch {

struct BeamSearchOptions {
  std::int32_t n = 4;               ///< N: beams sampled per round (search-and-learn default 4)
  std::int32_t beam_width = 4;      ///< M: continuations per kept beam; N/M beams are kept
  std::int32_t num_iterations = 40; ///< rounds; the last runs to the end
  std::int32_t lookahead = 0;       ///< k greedy steps scored with each new step
  bool filter_duplicates = false;   ///< drop beams whose text equals an earlier one
  Aggregation aggregation = Aggregation::kLast;
  SamplingParams sampling = SamplingParams::step(0.8, 2048);
  FinalChoice final_choice = FinalChoice::kBest;
  bool search_and_learn_compat = false;

  void validate() const {
    TTSEARCH_REQUIRE(n >= 1 && n <= detail::kMaxSamples, "beam: n must be in [1, {}] (got {})", detail::kMaxSamples, n);
    TTSEARCH_REQUIRE(beam_width >= 1, "beam: beam_width must be >= 1 (got {})", beam_width);
    TTSEARCH_REQUIRE(n % beam_width == 0, "beam: n ({}) must be divisible by beam_width ({})", n, beam_width);
    TTSEARCH_REQUIRE(num_iterations >= 1, "beam: num_iterations must be >= 1 (got {})", num_iterations);
    TTSEARCH_REQUIRE(lookahead >= 0, "beam: lookahead must be >= 0 (got {})", lookahead);
    sampling.validate();
    TTSEARCH_REQUIRE(!sampling.stop.empty(), "beam: sampling.stop must name the step separator (e.g. \"\\n\\n\")");
  }
};
TTSEARCH_OPTIONS_JSON(BeamSearchOptions, "beam", n, beam_width, num_iterations, lookahead, filter_duplicates, aggregation,
                      sampling, final_choice, search_and_learn_compat)

namespace detail {

/// Greedy lookahead: extends each non-final node of `tips` by up to k steps at T = 0, in k
/// batched rounds; returns, per tip, the node whose path the PRM should score. The lookahead
/// nodes are marked pruned ("lookahead").
/// A strategy drives it k times: next_ops() -> co_await ctx.generate -> advance().
struct Lookahead {
  std::vector<NodeId> leaf;     ///< per tip: where scoring reads
  std::vector<std::size_t> open;  ///< tips still extendable this round
  std::vector<GenerateOp> next_ops(const SearchTree& t, const SamplingParams& base) {
    open.clear();
    std::vector<GenerateOp> ops;
    SamplingParams greedy = base;
    greedy.temperature = 0.0;
    for (std::size_t i = 0; i < leaf.size(); ++i) {
      if (is_final_node(t, leaf[i])) continue;
      open.push_back(i);
      GenerateOp op;
      op.parent = leaf[i];
      op.params = greedy;
      ops.push_back(std::move(op));
    }
    return ops;
  }
  void advance(SearchContext& ctx, const Expansion& e) {
    for (std::size_t j = 0; j < open.size(); ++j) {
      const NodeId la = e.children[j][0];
      ctx.mark(la, kFlagPruned, "lookahead: scored, then dropped");
      leaf[open[j]] = la;
    }
  }
};

}  // namespace detail

inline SearchTask beam_search_search(SearchContext& ctx, BeamSearchOptions o) {
  const bool compat = o.search_and_learn_compat;
  const Aggregation agg = compat ? Aggregation::kLast : o.aggregation;
  const std::int32_t keep = o.n / o.beam_width;
  SearchTree& tree = ctx.tree();
  std::vector<NodeId> active{SearchTree::root()};
  std::vector<NodeId> completed;
  for (std::int32_t it = 0; it < o.num_iterations && !active.empty(); ++it) {
    const bool last = it + 1 == o.num_iterations;
    std::vector<std::int32_t> counts(active.size(), o.beam_width);
    if (it == 0) {
      counts[0] = o.n;  // N first steps from the root
    } else if (compat) {  // refill to N: copies of the survivors in a cycle
      const auto a = static_cast<std::int32_t>(active.size());
      for (std::int32_t i = 0; i < a; ++i) counts[static_cast<std::size_t>(i)] = o.n / a + (i < o.n % a ? 1 : 0);
    }
    const std::vector<GenerateOp> ops = detail::expand_ops(active, counts, detail::step_params(o.sampling, last));
    const Expansion expansion = co_await ctx.generate(ops);
    if (!expansion.ok()) break;
    std::vector<NodeId> children;
    for (const auto& c : expansion.children) children.insert(children.end(), c.begin(), c.end());

    detail::Lookahead look{children, {}};
    for (std::int32_t k = 0; k < o.lookahead && !last; ++k) {
      const std::vector<GenerateOp> lops = look.next_ops(tree, o.sampling);
      if (lops.empty()) break;
      const Expansion lexp = co_await ctx.generate(lops);
      if (!lexp.ok()) break;
      look.advance(ctx, lexp);
    }
    if (ctx.stopped()) {
      active = children;
      break;
    }
    const std::vector<NodeId> to_score = compat ? children : look.leaf;
    const ScoreOutcome scored = co_await ctx.score(to_score);
    if (!scored.ok()) {
      active = children;
      break;
    }
    // finished paths leave the beam
    std::vector<NodeId> live, live_score;
    std::vector<std::string> seen;
    for (std::size_t i = 0; i < children.size(); ++i) {
      const NodeId c = children[i];
      if (detail::is_final_node(tree, c)) {
        completed.push_back(c);
        ctx.mark(c, kFlagTerminal, "finished");
        continue;
      }
      if (o.filter_duplicates) {
        const std::string text = tree.path(c).text();
        if (std::find(seen.begin(), seen.end(), text) != seen.end()) {
          ctx.mark(c, kFlagPruned, "duplicate text");
          continue;
        }
        seen.push_back(text);
      }
      live.push_back(c);
      live_score.push_back(to_score[i]);
    }
    const std::int32_t width = compat ? keep : std::max<std::int32_t>(0, keep - static_cast<std::int32_t>(completed.size()));
    const auto order = detail::rank_by_score(tree, live_score, agg);
    active.clear();
    for (std::size_t r = 0; r < order.size(); ++r) {
      const NodeId c = live[order[r]];
      if (static_cast<std::int32_t>(r) < width) {
        active.push_back(c);
        ctx.mark(c, kFlagKept, fmt::format("rank {} of {} (width {})", r + 1, order.size(), width));
      } else {
        ctx.mark(c, kFlagPruned, fmt::format("rank {} of {} (width {})", r + 1, order.size(), width));
      }
    }
  }
  std::vector<NodeId> cands = completed;
  if (compat && cands.size() > static_cast<std::size_t>(o.n)) cands.resize(static_cast<std::size_t>(o.n));
  if (cands.empty()) cands = active;  // budget stop before anything finished: the best so far
  co_return detail::tree_result(tree, cands, agg, o.final_choice);
}

inline SearchSpec make_search(const Problem& problem, const BeamSearchOptions& opt, const Budget& budget = {},
                              std::uint64_t seed = 0) {
  opt.validate();
  return SearchSpec{&problem, "beam", Json(opt), budget, seed,
                    [opt](SearchContext& ctx) { return beam_search_search(ctx, opt); }};
}

}  // namespace ttsearch
