#pragma once
/// Every strategy by name: its default options, how to build a SearchSpec from JSON options, and
/// how to recompute its final choice from a recorded tree (replay). The CLI and replay use it.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ttsearch/strategies/adaptive.hpp"
#include "ttsearch/strategies/best_of_majority.hpp"
#include "ttsearch/strategies/deepconf.hpp"
#include "ttsearch/strategies/dvts.hpp"
#include "ttsearch/strategies/mcts.hpp"
#include "ttsearch/strategies/rebase.hpp"
#include "ttsearch/strategies/tree_of_thoughts.hpp"

namespace ttsearch {

/// Recomputes a final choice: (options, tree, candidate leaves) -> outcome; fills `cands`.
using ReplayRule = std::function<VoteOutcome(const Json& options, const SearchTree& tree, const std::vector<NodeId>& leaves,
                                             std::vector<Candidate>& cands)>;

/// Re-derives the decisions a strategy made before its final choice (when to stop sampling, which
/// traces it cut) from the options, the tree and the recomputed candidates; throws InvalidArgument
/// naming the first one the trace contradicts. `budget_stopped`: the search ended on a budget limit.
using ReplayAudit = std::function<void(const Json& options, const SearchTree& tree, std::span<const Candidate> cands, bool budget_stopped)>;

struct StrategyEntry {
  std::string name;
  std::string summary;
  bool uses_verifier = true;
  Json defaults;  ///< the default options, as JSON
  std::function<SearchSpec(const Problem&, const Json& options, const Budget&, std::uint64_t seed)> make;
  ReplayRule replay;
  std::function<void(const Json& options)> validate;  ///< parses and validates options (InvalidArgument)
  /// Every sampled trace (each child of the root) is a candidate: replay checks the set.
  bool samples_are_candidates = false;
  ReplayAudit audit;  ///< optional
};

namespace detail {

template <class Options>
StrategyEntry entry(std::string name, std::string summary, bool uses_verifier, ReplayRule replay) {
  StrategyEntry e;
  e.name = std::move(name);
  e.summary = std::move(summary);
  e.uses_verifier = uses_verifier;
  e.defaults = Json(Options{});
  e.make = [](const Problem& p, const Json& j, const Budget& b, std::uint64_t seed) {
    return make_search(p, j.get<Options>(), b, seed);
  };
  e.replay = std::move(replay);
  e.validate = [](const Json& j) { j.get<Options>().validate(); };
  return e;
}

/// Replay of a voting strategy: candidates from the leaves, then its selection rule.
template <class Options, class AggOf, class Select>
ReplayRule voting_replay(AggOf agg_of, Select select) {
  return [agg_of, select](const Json& j, const SearchTree& tree, const std::vector<NodeId>& leaves, std::vector<Candidate>& cands) {
    const Options o = j.get<Options>();
    bool scored = !leaves.empty();
    for (NodeId leaf : leaves) {
      cands.push_back(make_candidate(tree, leaf, agg_of(o)));
      scored = scored && !tree.node(leaf).scores.empty();
    }
    return select(std::span<const Candidate>(cands), o, scored);
  };
}

/// Replay of a tree strategy with `aggregation` and `final_choice` options.
template <class Options, class AggOf>
ReplayRule tree_replay(AggOf agg_of) {
  return [agg_of](const Json& j, const SearchTree& tree, const std::vector<NodeId>& leaves, std::vector<Candidate>& cands) {
    const Options o = j.get<Options>();
    for (NodeId leaf : leaves) cands.push_back(make_candidate(tree, leaf, agg_of(o)));
    return final_choice_outcome(cands, o.final_choice);
  };
}

}  // namespace detail

/// The registry, by name.
inline const std::map<std::string, StrategyEntry>& strategy_registry() {
  static const std::map<std::string, StrategyEntry> registry = [] {
    using detail::entry;
    std::map<std::string, StrategyEntry> r;
    auto add = [&](StrategyEntry e) { r.emplace(e.name, std::move(e)); };
    add(entry<BestOfNOptions>("best-of-n", "N samples, the best by aggregated verifier score", true,
                              detail::voting_replay<BestOfNOptions>([](const BestOfNOptions& o) { return o.aggregation; },
                                                                    [](std::span<const Candidate> c, const BestOfNOptions& o, bool) {
                                                                      return best_of_n_outcome(c, o);
                                                                    })));
    add(entry<MajorityVoteOptions>("majority", "N samples, the most frequent answer", false,
                                   detail::voting_replay<MajorityVoteOptions>(
                                       [](const MajorityVoteOptions&) { return Aggregation::kLast; },
                                       [](std::span<const Candidate> c, const MajorityVoteOptions& o, bool) { return majority_outcome(c, o); })));
    add(entry<WeightedMajorityOptions>(
        "weighted-majority", "N samples, answers weighted by verifier scores", true,
        detail::voting_replay<WeightedMajorityOptions>([](const WeightedMajorityOptions& o) { return o.aggregation; },
                                                       [](std::span<const Candidate> c, const WeightedMajorityOptions& o, bool s) {
                                                         return weighted_majority_outcome(c, o, s);
                                                       })));
    add(entry<BestOfMajorityOptions>(
        "best-of-majority", "frequent answers (>= alpha), ranked by reward", true,
        detail::voting_replay<BestOfMajorityOptions>([](const BestOfMajorityOptions& o) { return o.aggregation; },
                                                     [](std::span<const Candidate> c, const BestOfMajorityOptions& o, bool s) {
                                                       return best_of_majority_outcome(c, o, s);
                                                     })));
    add(entry<BeamSearchOptions>("beam", "step-level beam search over a PRM", true,
                                 detail::tree_replay<BeamSearchOptions>([](const BeamSearchOptions& o) {
                                   return o.search_and_learn_compat ? Aggregation::kLast : o.aggregation;
                                 })));
    add(entry<DvtsOptions>("dvts", "diverse verifier tree search: N/M PRM-greedy subtrees", true,
                           detail::tree_replay<DvtsOptions>([](const DvtsOptions& o) { return o.aggregation; })));
    add(entry<RebaseOptions>("rebase", "reward-balanced search: softmax split of the width", true,
                             detail::tree_replay<RebaseOptions>([](const RebaseOptions& o) { return o.aggregation; })));
    add(entry<TotBfsOptions>("tot-bfs", "tree of thoughts, breadth-first, best b per level", true,
                             detail::tree_replay<TotBfsOptions>([](const TotBfsOptions& o) { return o.aggregation; })));
    add(entry<TotDfsOptions>("tot-dfs", "tree of thoughts, depth-first with a value threshold", true,
                             detail::tree_replay<TotDfsOptions>([](const TotDfsOptions& o) { return o.aggregation; })));
    add(entry<MctsOptions>("mcts", "Monte Carlo tree search with PRM values (PUCT / UCT)", true,
                           [](const Json& j, const SearchTree& tree, const std::vector<NodeId>& leaves, std::vector<Candidate>& cands) {
                             const MctsOptions o = j.get<MctsOptions>();
                             cands = mcts_candidates(tree, leaves);
                             return mcts_final_outcome(tree, cands, o.final_choice);
                           }));
    add(entry<DeepConfOptions>("deepconf", "N samples, the most confident fraction votes weighted by token confidence (DeepConf offline)", false,
                               [](const Json& j, const SearchTree& tree, const std::vector<NodeId>& leaves, std::vector<Candidate>& cands) {
                                 const auto o = j.get<DeepConfOptions>();
                                 cands = detail::confidence_candidates(tree, leaves, o.signal, o.window);
                                 return deepconf_outcome(cands, o.keep_fraction, o.weighted);
                               }));
    add(entry<DeepConfOnlineOptions>("deepconf-online", "warm-up sets a confidence threshold; later traces stop early below it; consensus stop",
                                     false,
                                     [](const Json& j, const SearchTree& tree, const std::vector<NodeId>& leaves, std::vector<Candidate>& cands) {
                                       const auto o = j.get<DeepConfOnlineOptions>();
                                       cands = detail::confidence_candidates(tree, leaves, ConfidenceSignal::kLowestGroup, o.window);
                                       return deepconf_online_outcome(tree, cands, o).outcome;
                                     }));
    add(entry<AdaptiveConsistencyOptions>("adaptive-consistency", "sample until the Beta criterion says the majority is settled", false,
                                          detail::voting_replay<AdaptiveConsistencyOptions>(
                                              [](const AdaptiveConsistencyOptions&) { return Aggregation::kLast; },
                                              [](std::span<const Candidate> c, const AdaptiveConsistencyOptions& o, bool) {
                                                return adaptive_consistency_outcome(c, o);
                                              })));
    add(entry<EscOptions>("esc", "sample in windows until one window is unanimous (early-stopping self-consistency)", false,
                          detail::voting_replay<EscOptions>([](const EscOptions&) { return Aggregation::kLast; },
                                                            [](std::span<const Candidate> c, const EscOptions& o, bool) { return esc_outcome(c, o); })));
    // beam search's keeps and prunes: at each depth the kept nodes are the top of the ranking of
    // that round's live candidates by their (lookahead) leaf's aggregated score
    r.at("beam").audit = [](const Json& j, const SearchTree& tree, std::span<const Candidate>, bool) {
      const BeamSearchOptions o = j.get<BeamSearchOptions>();
      const Aggregation agg = o.search_and_learn_compat ? Aggregation::kLast : o.aggregation;
      std::map<std::int32_t, std::vector<NodeId>> ranked;  // depth -> the round's ranked candidates, in generation order
      for (NodeId id = 1; tree.contains(id); ++id) {
        const Node& n = tree.node(id);
        if ((n.has(kFlagKept) || n.has(kFlagPruned)) && n.reason.starts_with("rank ")) ranked[n.depth].push_back(id);
      }
      for (const auto& [depth, ids] : ranked) {
        std::vector<NodeId> score_at;  // where each candidate was scored: the end of its lookahead chain
        for (NodeId c : ids) {
          NodeId at = c;  // search-and-learn's mode scores the step itself, lookahead or not
          for (NodeId k = o.search_and_learn_compat ? kNoNode : tree.node(at).first_child; k != kNoNode;) {
            if (!tree.node(k).reason.starts_with("lookahead")) break;
            at = k;
            k = tree.node(at).first_child;
          }
          score_at.push_back(at);
        }
        const auto order = detail::rank_by_score(tree, score_at, agg);
        std::size_t kept = 0;
        for (NodeId c : ids) kept += tree.node(c).has(kFlagKept) ? 1 : 0;
        if (kept > static_cast<std::size_t>(o.n / o.beam_width)) {
          throw InvalidArgument(fmt::format("beam: depth {}: {} nodes kept, more than the {} beams", depth, kept, o.n / o.beam_width));
        }
        for (std::size_t r = 0; r < order.size(); ++r) {
          const NodeId c = ids[order[r]];
          if (tree.node(c).has(kFlagKept) != (r < kept)) {
            throw InvalidArgument(fmt::format("beam: depth {}: node {} is ranked {} of {} by its score but marked {} ({} kept)", depth, c, r + 1,
                                              order.size(), tree.node(c).has(kFlagKept) ? "kept" : "pruned", kept));
          }
        }
      }
    };
    // MCTS backs up once per simulation: the root's visits count the simulations run (all of them
    // unless a budget stopped the search). Checked before replay re-executes the simulations.
    r.at("mcts").audit = [](const Json& j, const SearchTree& tree, std::span<const Candidate>, bool budget_stopped) {
      const MctsOptions o = j.get<MctsOptions>();
      const std::int32_t visits = tree.node(SearchTree::root()).visits;
      if (visits > o.num_simulations || (!budget_stopped && visits != o.num_simulations)) {
        throw InvalidArgument(fmt::format("mcts: the root has {} visits, but {} simulations{} were run", visits, o.num_simulations,
                                          budget_stopped ? " at most" : ""));
      }
    };
    for (const char* name : {"best-of-n", "majority", "weighted-majority", "best-of-majority", "deepconf", "deepconf-online",
                             "adaptive-consistency", "esc"}) {
      r.at(name).samples_are_candidates = true;
    }
    r.at("deepconf").audit = [](const Json& j, const SearchTree&, std::span<const Candidate> c, bool budget_stopped) {
      const auto o = j.get<DeepConfOptions>();
      if (!budget_stopped && c.size() != static_cast<std::size_t>(o.n)) {
        throw InvalidArgument(fmt::format("deepconf: {} traces recorded, n is {}", c.size(), o.n));
      }
    };
    r.at("deepconf-online").audit = [](const Json& j, const SearchTree& tree, std::span<const Candidate> c, bool budget_stopped) {
      const auto o = j.get<DeepConfOnlineOptions>();
      deepconf_online_check(tree, c, o);
      if (budget_stopped || c.empty()) return;
      const auto v = deepconf_online_outcome(tree, c, o);
      const bool settled = v.eligible > 0 && v.beta >= o.consensus;
      if (c.size() < static_cast<std::size_t>(o.max_samples) && !settled) {
        throw InvalidArgument(fmt::format("deepconf-online: stopped after {} traces without consensus (beta {:.4g} < {})", c.size(), v.beta,
                                          o.consensus));
      }
      if (c.size() > static_cast<std::size_t>(o.warmup)) {  // the consensus stop must not have held before the last round
        const std::size_t last = static_cast<std::size_t>(o.warmup) +
                                 (c.size() - static_cast<std::size_t>(o.warmup) - 1) / static_cast<std::size_t>(o.batch) * static_cast<std::size_t>(o.batch);
        const auto before = deepconf_online_outcome(tree, c.first(last), o);
        if (before.eligible > 0 && before.beta >= o.consensus) {
          throw InvalidArgument(fmt::format("deepconf-online: the consensus stop held after {} traces but {} were drawn", last, c.size()));
        }
      }
    };
    r.at("adaptive-consistency").audit = [](const Json& j, const SearchTree&, std::span<const Candidate> c, bool budget_stopped) {
      const auto o = j.get<AdaptiveConsistencyOptions>();
      const auto answers = detail::answers_of(c);
      if (!budget_stopped && !c.empty() && c.size() < static_cast<std::size_t>(o.max_samples) && !beta_should_stop(answers, o.threshold)) {
        throw InvalidArgument(fmt::format("adaptive-consistency: stopped after {} samples but the Beta rule does not stop there", c.size()));
      }
    };
    r.at("esc").audit = [](const Json& j, const SearchTree&, std::span<const Candidate> c, bool budget_stopped) {
      const auto o = j.get<EscOptions>();
      const auto answers = detail::answers_of(c);
      const auto w = static_cast<std::size_t>(o.window);
      if (!budget_stopped && !c.empty() && c.size() < static_cast<std::size_t>(o.max_samples) &&
          !(c.size() % w == 0 && esc_window_unanimous(answers, c.size(), w))) {
        throw InvalidArgument(fmt::format("esc: stopped after {} samples without a unanimous window", c.size()));
      }
    };
    return r;
  }();
  return registry;
}

/// The entry of `name`; throws InvalidArgument listing the known names.
inline const StrategyEntry& find_strategy(std::string_view name) {
  const auto& r = strategy_registry();
  const auto it = r.find(std::string(name));
  if (it == r.end()) {
    std::string names;
    for (const auto& [n, _] : r) names += (names.empty() ? "" : ", ") + n;
    throw InvalidArgument(fmt::format("unknown strategy '{}' (known: {})", name, names));
  }
  return it->second;
}

}  // namespace ttsearch
