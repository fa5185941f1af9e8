// Cost of the final-answer selection rules and of answer grouping, at 10^3 to 10^6 answers.
// Answers are realistic normalised strings: integers, fractions and decimals drawn from a pool
// of `distinct` values (numeric equivalences such as 0.5 vs \frac{1}{2} included), with scores.
// BM_GroupSymbolic groups free-form expressions that need the symbolic identity test.
// Counter "ns_per_answer" = wall time / answers.
#include <benchmark/benchmark.h>

#include <ttsearch/answer/group.hpp>
#include <ttsearch/core/rng.hpp>
#include <ttsearch/strategies/selection.hpp>

namespace {

std::vector<ttsearch::Candidate> make_candidates(std::int64_t n, std::int64_t distinct) {
  ttsearch::Rng rng(1);
  std::vector<std::string> pool;
  for (std::int64_t i = 0; i < distinct; ++i) {
    switch (i % 3) {
      case 0: pool.push_back(std::to_string(i)); break;
      case 1: pool.push_back(fmt::format("\\frac{{{}}}{{{}}}", i, i + 1)); break;
      default: pool.push_back(fmt::format("{}.5", i)); break;
    }
  }
  std::vector<ttsearch::Candidate> out(static_cast<std::size_t>(n));
  for (auto& c : out) {
    // skewed: low indices are more frequent (like a model's answers)
    const double u = rng.uniform();
    c.answer = pool[static_cast<std::size_t>(static_cast<double>(distinct) * u * u * u)];
    c.score = rng.uniform();
  }
  return out;
}

void set_counters(benchmark::State& state, std::int64_t n) {
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["ns_per_answer"] = benchmark::Counter(static_cast<double>(state.iterations() * n),
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_BestOfN(benchmark::State& state) {
  const auto c = make_candidates(state.range(0), state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(ttsearch::select_best_of_n(c));
  set_counters(state, state.range(0));
}

void BM_GroupAnswers(benchmark::State& state) {
  const auto c = make_candidates(state.range(0), state.range(1));
  std::vector<std::string> answers;
  for (const auto& x : c) answers.push_back(x.answer);
  for (auto _ : state) benchmark::DoNotOptimize(ttsearch::answer::group_normalized(answers));
  set_counters(state, state.range(0));
}

// Free-form answers: `distinct` polynomial and radical forms, each written two ways that only the
// symbolic identity test (answer/math.hpp) merges: "(x+k)^2" / "x^2+2kx+k^2", "k\sqrt{2}+y" /
// "y+\sqrt{2k^2}"; distinct k never merge, so every new string is compared with every class.
std::vector<std::string> make_symbolic_answers(std::int64_t n, std::int64_t distinct) {
  ttsearch::Rng rng(2);
  std::vector<std::string> pool;
  for (std::int64_t k = 1; k <= distinct; ++k) {
    if (k % 2 == 0) {
      pool.push_back(fmt::format("(x+{})^2", k));
      pool.push_back(fmt::format("x^2+{}x+{}", 2 * k, k * k));
    } else {
      pool.push_back(fmt::format("{}\\sqrt{{2}}+y", k));
      pool.push_back(fmt::format("y+\\sqrt{{{}}}", 2 * k * k));
    }
  }
  std::vector<std::string> out(static_cast<std::size_t>(n));
  for (auto& a : out) {
    const double u = rng.uniform();
    a = pool[static_cast<std::size_t>(static_cast<double>(pool.size()) * u * u * u)];
  }
  return out;
}

void BM_GroupSymbolic(benchmark::State& state) {
  const auto answers = make_symbolic_answers(state.range(0), state.range(1));
  const auto groups = ttsearch::answer::group_normalized(answers);
  if (static_cast<std::int64_t>(groups.size()) != state.range(1)) state.SkipWithError("wrong number of classes");
  for (auto _ : state) benchmark::DoNotOptimize(ttsearch::answer::group_normalized(answers));
  set_counters(state, state.range(0));
}

void BM_MajorityVote(benchmark::State& state) {
  const auto c = make_candidates(state.range(0), state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(ttsearch::select_vote(c, ttsearch::GroupWeight::kCount));
  set_counters(state, state.range(0));
}

void BM_WeightedVote(benchmark::State& state) {
  const auto c = make_candidates(state.range(0), state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(ttsearch::select_vote(c, ttsearch::GroupWeight::kSum));
  set_counters(state, state.range(0));
}

void BM_BestOfMajority(benchmark::State& state) {
  const auto c = make_candidates(state.range(0), state.range(1));
  for (auto _ : state) {
    benchmark::DoNotOptimize(ttsearch::select_best_of_majority(c, 0.05, 4, ttsearch::GroupWeight::kMax));
  }
  set_counters(state, state.range(0));
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (std::int64_t n : {1'000, 10'000, 100'000, 1'000'000}) b->Args({n, 64});
  b->Args({100'000, 1'000});  // many distinct answers
  b->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_BestOfN)->Apply(Sizes);
BENCHMARK(BM_GroupAnswers)->Apply(Sizes);
BENCHMARK(BM_GroupSymbolic)->Args({100'000, 16})->Args({100'000, 64})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MajorityVote)->Apply(Sizes);
BENCHMARK(BM_WeightedVote)->Apply(Sizes);
BENCHMARK(BM_BestOfMajority)->Apply(Sizes);
BENCHMARK_MAIN();
