#pragma once
/// Monte Carlo tree search with a process reward model (OpenR `tree.py`, rStar in OpenR,
/// llm-reasoners; algorithms.md section 4).
///
/// Each simulation:
///   1. select: from the root, while the node has children and is not terminal, move to the
///      child maximising
///        PUCT (AlphaZero, OpenR):  Q(c) + P(c) * (ln((N_p + c_base + 1) / c_base) + c_init) * sqrt(N_p) / (N_c + 1)
///        UCT  (rStar, llm-reasoners): Q(c) + c * sqrt(ln N_p / N_c), unvisited children first
///          (chosen uniformly at random), with c decayed over the simulations: none,
///          exponential c * 0.1^(i/S), or linear c * (1 - 0.9 i/S);
///      Q = mean backed-up value, or the child's PRM value while unvisited; the prior
///      P(c) = exp(mean token log-prob of the step), normalised over the siblings;
///   2. expand one trajectory (OpenR): sample `expansion_width` next steps of the leaf (duplicates
///      of a sibling's text dropped), score them with the PRM (a node's value before any visit is
///      the PRM score of its last step), move to the best new child by value, and repeat until a
///      terminal node;
///   3. evaluate: the terminal node's PRM value; with `rollout`, instead of expanding further, the
///      PRM score of a greedy (T = 0) completion from the first new node;
///   4. backup: mean backup, every node on the path gets one visit and the value.
/// A simulation that selects a terminal node backs up that node's value again.
/// The answer, over the terminal (finished) nodes: follow the most visited child from the root
/// (max_visits), the highest mean value (max_value), or a vote weighted by mean value (vote).
/// Each expansion of a trajectory is one generator call and one verifier call for this search;
/// solve_batch merges the calls of many problems' searches.
#include <cmath>

#include "ttsearch/strategies/tree_common.hpp"

namespace ttsearch {

enum class MctsSelection : std::uint8_t { kPuct, kUct };
enum class UctDecay : std::uint8_t { kNone, kExponential, kLinear };
enum class MctsFinal : std::uint8_t { kMaxVisits, kMaxValue, kVote };

constexpr std::string_view to_string(MctsSelection s) noexcept { return s == MctsSelection::kPuct ? "puct" : "uct"; }
constexpr std::string_view to_string(UctDecay d) noexcept {
  return d == UctDecay::kNone ? "none" : d == UctDecay::kExponential ? "exponential" : "linear";
}
constexpr std::string_view to_string(MctsFinal f) noexcept {
  return f == MctsFinal::kMaxVisits ? "max_visits" : f == MctsFinal::kMaxValue ? "max_value" : "vote";
}
inline void to_json(Json& j, MctsSelection v) { j = std::string(to_string(v)); }
inline void to_json(Json& j, UctDecay v) { j = std::string(to_string(v)); }
inline void to_json(Json& j, MctsFinal v) { j = std::string(to_string(v)); }
inline void from_json(const Json& j, MctsSelection& v) {
  const auto s = j.get<std::string>();
  if (s == "puct") v = MctsSelection::kPuct;
  else if (s == "uct") v = MctsSelection::kUct;
  else throw InvalidArgument(fmt::format("unknown MCTS selection '{}' (expected puct or uct)", s));
}
inline void from_json(const Json& j, UctDecay& v) {
  const auto s = j.get<std::string>();
  if (s == "none") v = UctDecay::kNone;
  else if (s == "exponential") v = UctDecay::kExponential;
  else if (s == "linear") v = UctDecay::kLinear;
  else throw InvalidArgument(fmt::format("unknown UCT decay '{}' (expected none, exponential or linear)", s));
}
inline void from_json(const Json& j, MctsFinal& v) {
  const auto s = j.get<std::string>();
  if (s == "max_visits") v = MctsFinal::kMaxVisits;
  else if (s == "max_value") v = MctsFinal::kMaxValue;
  else if (s == "vote") v = MctsFinal::kVote;
  else throw InvalidArgument(fmt::format("unknown MCTS final choice '{}' (expected max_visits, max_value or vote)", s));
}

struct MctsOptions {
  std::int32_t num_simulations = 32;  ///< simulations (OpenR num_path; llm-reasoners n_iters 10)
  std::int32_t expansion_width = 4;   ///< children per expansion (OpenR tree_max_width 4)
  std::int32_t max_depth = 40;        ///< the step at this depth runs to the end
  MctsSelection selection = MctsSelection::kPuct;
  double c_base = 19652.0;            ///< PUCT (AlphaZero, OpenR)
  double c_init = 1.25;               ///< PUCT
  double uct_c = 1.0;                 ///< UCT exploration (llm-reasoners 1.0; rStar 2.0)
  UctDecay uct_decay = UctDecay::kNone;
  bool rollout = false;               ///< evaluate by a greedy completion instead of the PRM value at expansion
  MctsFinal final_choice = MctsFinal::kVote;
  SamplingParams sampling = SamplingParams::step(0.7, 2048);  ///< OpenR: T = 0.7, stop "\n\n"

  void validate() const {
    TTSEARCH_REQUIRE(num_simulations >= 1, "mcts: num_simulations must be >= 1 (got {})", num_simulations);
    TTSEARCH_REQUIRE(expansion_width >= 1 && expansion_width <= detail::kMaxSamples,
                     "mcts: expansion_width must be >= 1 (got {})", expansion_width);
    TTSEARCH_REQUIRE(max_depth >= 1, "mcts: max_depth must be >= 1 (got {})", max_depth);
    TTSEARCH_REQUIRE(c_base > 0.0, "mcts: c_base must be > 0 (got {})", c_base);
    TTSEARCH_REQUIRE(c_init >= 0.0, "mcts: c_init must be >= 0 (got {})", c_init);
    TTSEARCH_REQUIRE(uct_c >= 0.0, "mcts: uct_c must be >= 0 (got {})", uct_c);
    sampling.validate();
    TTSEARCH_REQUIRE(!sampling.stop.empty(), "mcts: sampling.stop must name the step separator (e.g. \"\\n\\n\")");
  }
};
TTSEARCH_OPTIONS_JSON(MctsOptions, "mcts", num_simulations, expansion_width, max_depth, selection, c_base, c_init, uct_c,
                      uct_decay, rollout, final_choice, sampling)

/// PUCT score of a child (OpenR / AlphaZero).
inline double puct_score(double q, double prior, double parent_visits, double child_visits, double c_base, double c_init) {
  return q + prior * (std::log((parent_visits + c_base + 1.0) / c_base) + c_init) * std::sqrt(parent_visits) /
                 (child_visits + 1.0);
}

/// UCT score of a visited child: mean value + c * sqrt(ln N_p / N_c).
inline double uct_score(double mean_value, double parent_visits, double child_visits, double c) {
  return mean_value + c * std::sqrt(std::log(parent_visits) / child_visits);
}

/// The exploration constant at simulation i of S.
inline double decayed_c(double c, UctDecay decay, std::int32_t i, std::int32_t total) {
  const double f = total > 0 ? static_cast<double>(i) / static_cast<double>(total) : 0.0;
  switch (decay) {
    case UctDecay::kExponential: return c * std::pow(0.1, f);
    case UctDecay::kLinear: return c * (1.0 - 0.9 * f);
    case UctDecay::kNone: break;
  }
  return c;
}

namespace detail {

/// Q of a node: its mean backed-up value, or its PRM value while unvisited.
inline double mcts_q(const Node& n) {
  if (n.visits > 0) return n.value_sum / n.visits;
  return n.scores.empty() ? 0.0 : n.scores.back();
}

/// Children that take part in selection (not dropped as duplicates or rollouts).
inline std::vector<NodeId> mcts_children(const SearchTree& t, NodeId id) {
  std::vector<NodeId> out;
  for (NodeId c = t.node(id).first_child; c != kNoNode; c = t.node(c).next_sibling) {
    if (!t.node(c).has(kFlagPruned)) out.push_back(c);
  }
  return out;
}

/// Priors of siblings from their step log-probs: exp(mean token log-prob), normalised.
inline std::vector<double> mcts_priors(const SearchTree& t, const std::vector<NodeId>& kids) {
  std::vector<double> p(kids.size());
  double total = 0;
  for (std::size_t i = 0; i < kids.size(); ++i) {
    const Step& s = t.node(kids[i]).step;
    p[i] = std::exp(s.logprob / static_cast<double>(std::max<std::int64_t>(1, s.num_tokens)));
    total += p[i];
  }
  for (auto& x : p) x = total > 0 ? x / total : 1.0 / static_cast<double>(kids.size());
  return p;
}

}  // namespace detail

/// The final choice over the terminal candidates (also used by replay: a function of the tree).
inline VoteOutcome mcts_final_outcome(const SearchTree& t, std::span<const Candidate> cands, MctsFinal how) {
  VoteOutcome v;
  if (cands.empty()) return v;
  if (how == MctsFinal::kVote) return select_vote(cands, GroupWeight::kSum);
  if (how == MctsFinal::kMaxVisits) {
    NodeId id = SearchTree::root();
    while (true) {
      const auto kids = detail::mcts_children(t, id);
      if (kids.empty()) break;
      NodeId best = kids.front();
      for (NodeId c : kids) {
        const Node &a = t.node(c), &b = t.node(best);
        if (a.visits > b.visits || (a.visits == b.visits && detail::mcts_q(a) > detail::mcts_q(b))) best = c;
      }
      id = best;
    }
    for (std::size_t i = 0; i < cands.size(); ++i) {
      if (cands[i].leaf == id) {
        v.chosen = static_cast<std::int64_t>(i);
        v.answers.push_back(cands[i].answer);
        return v;
      }
    }
    // the most visited line ends in an unfinished node: fall back to the best value
  }
  v.chosen = select_best_of_n(cands);
  v.answers.push_back(cands[static_cast<std::size_t>(v.chosen)].answer);
  return v;
}

/// Candidates of an MCTS tree: the given leaves, scored by their mean value Q.
inline std::vector<Candidate> mcts_candidates(const SearchTree& t, const std::vector<NodeId>& leaves) {
  std::vector<Candidate> cands;
  for (NodeId leaf : leaves) {
    Candidate c = make_candidate(t, leaf, Aggregation::kLast);
    c.score = detail::mcts_q(t.node(leaf));
    cands.push_back(std::move(c));
  }
  return cands;
}

inline SearchTask mcts_search(SearchContext& ctx, MctsOptions o) {
  SearchTree& tree = ctx.tree();
  for (std::int32_t sim = 0; sim < o.num_simulations && !ctx.stopped(); ++sim) {
    // 1. select
    NodeId node = SearchTree::root();
    while (true) {
      if (node != SearchTree::root() && detail::is_final_node(tree, node)) break;
      const auto kids = detail::mcts_children(tree, node);
      if (kids.empty()) break;
      const Node& parent = tree.node(node);
      NodeId best = kNoNode;
      if (o.selection == MctsSelection::kPuct) {
        const auto priors = detail::mcts_priors(tree, kids);
        double best_score = -INFINITY;
        for (std::size_t i = 0; i < kids.size(); ++i) {
          const Node& c = tree.node(kids[i]);
          const double s = puct_score(detail::mcts_q(c), priors[i], parent.visits, c.visits, o.c_base, o.c_init);
          if (s > best_score) {
            best_score = s;
            best = kids[i];
          }
        }
      } else {
        std::vector<NodeId> unvisited;
        for (NodeId c : kids) if (tree.node(c).visits == 0) unvisited.push_back(c);
        if (!unvisited.empty()) {
          best = unvisited[ctx.rng().below(unvisited.size())];
        } else {
          const double c = decayed_c(o.uct_c, o.uct_decay, sim, o.num_simulations);
          double best_score = -INFINITY;
          for (NodeId k : kids) {
            const Node& n = tree.node(k);
            const double s = uct_score(detail::mcts_q(n), parent.visits, n.visits, c);
            if (s > best_score) {
              best_score = s;
              best = k;
            }
          }
        }
      }
      node = best;
    }
    if (node != SearchTree::root() && detail::is_final_node(tree, node)) {
      const auto& sc = tree.node(node).scores;
      ctx.backup(node, sc.empty() ? 0.0 : sc.back());
      continue;
    }
    // 2. expand, down one trajectory: expand the leaf, move to its best new child by PRM value,
    //    and go on until a terminal node (OpenR: one trajectory per simulation)
    NodeId leaf = node;
    double value = 0.0;
    bool evaluated = false;
    while (!evaluated) {
      const bool last = tree.node(leaf).depth + 1 >= o.max_depth;
      const std::vector<NodeId> parents(1, leaf);
      const std::vector<std::int32_t> width(1, o.expansion_width);
      const std::vector<GenerateOp> ops = detail::expand_ops(parents, width, detail::step_params(o.sampling, last));
      const Expansion expansion = co_await ctx.generate(ops);
      if (!expansion.ok()) break;
      std::vector<NodeId> kids;
      std::vector<std::string> texts;
      for (NodeId c : expansion.children[0]) {
        const std::string& text = tree.node(c).step.text;
        if (std::find(texts.begin(), texts.end(), text) != texts.end()) {
          ctx.mark(c, kFlagPruned, "duplicate of a sibling");
          continue;
        }
        texts.push_back(text);
        kids.push_back(c);
      }
      const ScoreOutcome scored = co_await ctx.score(kids);
      if (!scored.ok()) break;
      for (NodeId c : kids) if (detail::is_final_node(tree, c)) ctx.mark(c, kFlagTerminal, "finished");
      NodeId best = kids.front();
      for (NodeId c : kids) if (tree.node(c).scores.back() > tree.node(best).scores.back()) best = c;
      leaf = best;
      if (detail::is_final_node(tree, best)) {
        value = tree.node(best).scores.back();
        evaluated = true;
      } else if (o.rollout) {
        // 3. evaluate by a greedy completion from the new node
        GenerateOp rop;
        rop.parent = best;
        rop.params = o.sampling;
        rop.params.temperature = 0.0;
        rop.params.stop.clear();
        const std::vector<GenerateOp> rops(1, rop);
        const Expansion rexp = co_await ctx.generate(rops);
        if (!rexp.ok()) break;
        const NodeId r = rexp.children[0][0];
        ctx.mark(r, kFlagPruned, "rollout: evaluates its parent");
        const std::vector<NodeId> rleaf(1, r);
        const ScoreOutcome rs = co_await ctx.score(rleaf);
        if (!rs.ok()) break;
        value = tree.node(r).scores.back();
        evaluated = true;
      }
    }
    if (!evaluated) break;  // a budget stop inside the trajectory
    // 4. backup
    ctx.backup(leaf, value);
  }
  std::vector<NodeId> terminals;
  for (const Node& n : tree.nodes()) {
    if (n.id != SearchTree::root() && !n.has(kFlagPruned) && detail::is_final_node(tree, n.id) && !n.scores.empty()) {
      terminals.push_back(n.id);
    }
  }
  if (terminals.empty()) {  // nothing finished (budget): the unexpanded leaves are the best so far
    for (const Node& n : tree.nodes()) {
      if (n.id != SearchTree::root() && !n.has(kFlagPruned) && detail::mcts_children(tree, n.id).empty()) terminals.push_back(n.id);
    }
  }
  std::vector<Candidate> cands = mcts_candidates(tree, terminals);
  const VoteOutcome v = mcts_final_outcome(tree, cands, o.final_choice);
  co_return detail::voting_result(std::move(cands), v);
}

inline SearchSpec make_search(const Problem& problem, const MctsOptions& opt, const Budget& budget = {}, std::uint64_t seed = 0) {
  opt.validate();
  return SearchSpec{&problem, "mcts", Json(opt), budget, seed, [opt](SearchContext& ctx) { return mcts_search(ctx, opt); }};
}

}  // namespace ttsearch
