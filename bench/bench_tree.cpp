// The search's own cost per node: select, expand, backup, prune, plus the driver's batching,
// budget checks and bookkeeping, with a generator and a verifier that cost (almost) nothing.
// Counter "ns_per_node" = wall time / nodes created. Sizes span 10^3 to 10^6 nodes.
#include <benchmark/benchmark.h>

#include <ttsearch/strategies/registry.hpp>

namespace {

using namespace ttsearch;

/// Steps of 10 tokens; "\n\n"-terminated until depth `depth`, then a final answer. No text is
/// parsed: only the prefix's length (its depth) matters.
struct ZeroGenerator {
  std::int32_t depth = 8;
  Generation generate(std::span<const GenerateRequest> requests) const {
    Generation g;
    g.outputs.resize(requests.size());
    for (std::size_t r = 0; r < requests.size(); ++r) {
      const auto& req = requests[r];
      const bool last = static_cast<std::int32_t>(req.prefix.size()) + 1 >= depth || req.params.stop.empty();
      auto& out = g.outputs[r];
      out.resize(static_cast<std::size_t>(req.num_samples));
      for (std::int32_t i = 0; i < req.num_samples; ++i) {
        Step& s = out[static_cast<std::size_t>(i)];
        s.num_tokens = std::min<std::int64_t>(10, req.params.max_tokens);
        s.logprob = -1.0 - 0.01 * i;
        s.text = last ? "\\boxed{7}" : "step\n\n";
        s.text[0] = last ? '\\' : static_cast<char>('a' + (req.seed + static_cast<std::uint64_t>(i)) % 26);  // distinct siblings
        s.finish = last ? FinishReason::kEos : FinishReason::kStop;
      }
    }
    return g;
  }
};

/// A score from the leaf id's hash: no text is read.
struct ZeroVerifier {
  Scoring score(std::span<const ScoreRequest> requests) const {
    Scoring s;
    s.scores.resize(requests.size());
    s.tokens.assign(requests.size(), 10);
    for (std::size_t i = 0; i < requests.size(); ++i) {
      s.scores[i] = {static_cast<double>(mix64(static_cast<std::uint64_t>(requests[i].path.leaf())) >> 11) * 0x1.0p-53};
    }
    return s;
  }
};

void run(benchmark::State& state, const std::string& strategy, Json options, std::int32_t depth) {
  const StrategyEntry& e = find_strategy(strategy);
  Problem p{.id = "bench", .question = "q", .reference = "7"};
  ZeroGenerator gen{depth};
  ZeroVerifier ver;
  std::size_t nodes = 0;
  for (auto _ : state) {
    const SearchSpec spec = e.make(p, options, Budget{}, 1);
    auto r = run_searches(std::span<const SearchSpec>(&spec, 1), gen, ver);
    nodes = r[0].tree.size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["nodes"] = static_cast<double>(nodes);
  state.counters["ns_per_node"] = benchmark::Counter(static_cast<double>(nodes) * static_cast<double>(state.iterations()),
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_Mcts(benchmark::State& state) {
  run(state, "mcts", Json{{"num_simulations", state.range(0)}, {"expansion_width", 4}}, 8);
}
void BM_Beam(benchmark::State& state) {
  run(state, "beam", Json{{"n", state.range(0)}, {"beam_width", 4}}, 8);
}
void BM_Rebase(benchmark::State& state) {
  run(state, "rebase", Json{{"width", state.range(0)}, {"max_depth", 8}}, 8);
}
void BM_TotBfs(benchmark::State& state) {
  run(state, "tot-bfs", Json{{"breadth", state.range(0)}, {"samples_per_state", 4}, {"max_depth", 8}}, 8);
}

/// Bookkeeping alone, no driver: add a node, select by PUCT among 4 siblings, back up.
void BM_TreeBookkeeping(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    SearchContext ctx(Problem{}, 0);
    SearchTree& t = ctx.tree();
    t.reserve(n + 1);
    NodeId parent = 0;
    for (std::size_t i = 1; i <= n; ++i) {
      Step s;
      s.num_tokens = 10;
      const NodeId id = t.add_child(parent, std::move(s));
      t.node(id).scores.assign(1, 0.5);
      ctx.backup(id, 0.5);
      benchmark::DoNotOptimize(ctx.take_touched());  // the driver drains these every round
      if (i % 4 == 0) {  // pick among the 4 siblings by PUCT and descend
        const Node& pn = t.node(parent);
        double best = -1e300;
        NodeId pick = id;
        for (NodeId c = pn.first_child; c != kNoNode; c = t.node(c).next_sibling) {
          const Node& cn = t.node(c);
          const double sc = puct_score(cn.value_sum / std::max(1, cn.visits), 0.25, pn.visits, cn.visits, 19652, 1.25);
          if (sc > best) {
            best = sc;
            pick = c;
          }
        }
        parent = t.node(pick).depth < 30 ? pick : 0;
      }
    }
  }
  state.counters["ns_per_node"] = benchmark::Counter(static_cast<double>(n) * static_cast<double>(state.iterations()),
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

}  // namespace

BENCHMARK(BM_Mcts)->Arg(32)->Arg(256)->Arg(4096)->Arg(32768)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Beam)->Arg(128)->Arg(1024)->Arg(16384)->Arg(131072)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Rebase)->Arg(128)->Arg(1024)->Arg(16384)->Arg(131072)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TotBfs)->Arg(32)->Arg(256)->Arg(4096)->Arg(32768)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TreeBookkeeping)->Arg(1000)->Arg(10000)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
