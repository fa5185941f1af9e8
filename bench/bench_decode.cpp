// Decode throughput of the libtorch runtime on a Qwen2.5-0.5B-shaped model with random weights
// (hidden 896, 24 layers, 14 heads / 2 KV heads, intermediate 4864, vocab 151936; tied embeddings),
// and tree-search throughput with the prefix cache against without it, in the same run.
//   TTSEARCH_BENCH_LAYERS (default 24) and TTSEARCH_BENCH_DTYPE (float32 | bfloat16) change the model.
// Counters: tokens_per_s (generated tokens / wall second); for the tree search also speedup =
// wall time without the prefix cache / wall time with it, on identical work.
#include <benchmark/benchmark.h>
#include <ttsearch/torch/device.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <ttsearch/torch/runtime.hpp>

#include "../tests/tiny_model.hpp"

namespace {

namespace fs = std::filesystem;
using namespace ttsearch;
using namespace ttsearch::torch;

std::string env(const char* k, const char* d) {
  const char* v = std::getenv(k);
  return v ? v : d;
}

/// Writes the random model once per process (fp32 on disk; about 2 GB at 24 layers).
const fs::path& model_dir() {
  static const fs::path dir = [] {
    const int layers = std::atoi(env("TTSEARCH_BENCH_LAYERS", "24").c_str());
    const fs::path d = fs::temp_directory_path() / ("ttsearch_bench_qwen05_" + std::to_string(layers));
    if (fs::exists(d / "model.safetensors")) return d;
    const testing::Qwen2Shape qwen05{.hidden = 896, .intermediate = 4864, .vocab = 151936, .heads = 14, .kv_heads = 2,
                                     .layers = layers, .max_positions = 32768, .scale = 0.1};
    return testing::write_tiny_qwen2(d.string(), std::string(TTSEARCH_SOURCE_DIR) + "/tests/data/tokenizer/qwen2.tokenizer.json",
                                     /*prm=*/false, 1, /*orm=*/false, qwen05);
  }();
  return dir;
}

GeneratorOptions options(std::int64_t cache) {
  GeneratorOptions o;
  o.load.dtype = env("TTSEARCH_BENCH_DTYPE", "float32");
  o.raw_prompt = true;
  o.prefix_cache_tokens = cache;
  return o;
}

/// A prompt of about 300 tokens: tree search extends long shared prefixes, which is where reuse pays.
Problem problem() {
  std::string q;
  for (int i = 1; i <= 12; ++i) q += "Step " + std::to_string(i) + ": multiply the running total by " + std::to_string(i + 2) + " and add 5.\n\n";
  return Problem{.id = "bench", .question = q, .reference = {}};
}

/// The widest ISA kernel this CPU runs ("avx512", "avx2"), or "blas" when none.
std::string isa_kernel() {
  for (const char* k : {"avx512", "avx2"}) {
    try {
      const std::string saved = cpu_gemm();
      set_cpu_gemm(k);
      set_cpu_gemm(saved.starts_with("auto") ? "auto" : saved);
      return k;
    } catch (const InvalidArgument&) {
    }
  }
  return "blas";
}

/// tokens/s of one call: `batch` samples of 16 tokens each from one shared prompt, on identical work
/// three ways in the same iteration: the default CPU GEMM choice ("auto": tokens_per_s), the ISA
/// kernel for every product (tokens_per_s_kernel) and libtorch's own product on the system BLAS
/// (tokens_per_s_blas); speedup_vs_blas = blas seconds / auto seconds. prompt_tokens: the prompt's
/// length as the generator counted it (for the same work elsewhere, e.g. llama-batched-bench -npp).
void BM_Decode(benchmark::State& state) {
  auto gen = TorchGenerator::load(model_dir().string(), options(0));
  const Problem p = problem();
  SearchTree tree;
  GenerateRequest r;
  r.problem = &p;
  r.prefix = tree.path(0);
  r.num_samples = static_cast<std::int32_t>(state.range(0));
  r.params.stop.clear();
  r.params.max_tokens = 16;
  r.params.temperature = 1.0;
  const std::string saved = cpu_gemm().starts_with("auto") ? "auto" : cpu_gemm();
  const std::string kernel = isa_kernel();
  struct Run {
    std::string kind;
    std::int64_t tokens = 0;
    double seconds = 0;
  };
  std::vector<Run> runs = {{"auto"}, {kernel}, {"blas"}};
  std::int64_t prompt = 0;
  (void)gen.generate(std::vector<GenerateRequest>{r});  // warm-up (first-touch allocations), not timed
  for (auto _ : state) {
    for (auto& run : runs) {
      set_cpu_gemm(run.kind);
      const auto t0 = std::chrono::steady_clock::now();
      const auto out = gen.generate(std::vector<GenerateRequest>{r});
      run.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      for (const auto& s : out.outputs[0]) run.tokens += s.num_tokens;
      if (!out.usage.empty()) prompt = out.usage[0].prompt_tokens;
    }
  }
  set_cpu_gemm(saved);
  auto rate = [](const Run& x) { return static_cast<double>(x.tokens) / x.seconds; };
  state.counters["tokens_per_s"] = rate(runs[0]);
  state.counters["tokens_per_s_kernel"] = rate(runs[1]);
  state.counters["tokens_per_s_blas"] = rate(runs[2]);
  state.counters["speedup_vs_blas"] = rate(runs[0]) / rate(runs[2]);
  state.counters["prompt_tokens"] = static_cast<double>(prompt);
}

/// Prefill tokens/s: 4 requests of ~300-token prompts, one sample of one token each, no cache.
void BM_Prefill(benchmark::State& state) {
  auto gen = TorchGenerator::load(model_dir().string(), options(0));
  std::vector<Problem> ps;
  for (int i = 0; i < 4; ++i) {
    ps.push_back(problem());
    ps.back().question = std::to_string(i) + ps.back().question;
  }
  SearchTree tree;
  std::vector<GenerateRequest> reqs;
  for (const auto& p : ps) {
    GenerateRequest r;
    r.problem = &p;
    r.prefix = tree.path(0);
    r.params.max_tokens = 1;
    reqs.push_back(r);
  }
  std::int64_t tokens = 0;
  for (auto _ : state) {
    const auto out = gen.generate(reqs);
    for (const auto& u : out.usage) tokens += u.prompt_tokens;
  }
  state.counters["prompt_tokens_per_s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
}

/// A small beam search shape: 3 rounds, 4 beams x 4 continuations of 8 tokens, each round
/// extending the previous round's first 4 children: with and without the prefix cache.
double tree_rounds(TorchGenerator& gen, std::int64_t& tokens) {
  const Problem p = problem();
  SearchTree tree;
  std::vector<NodeId> frontier{0};
  const auto t0 = std::chrono::steady_clock::now();
  for (int round = 0; round < 3; ++round) {
    std::vector<GenerateRequest> reqs;
    for (std::size_t i = 0; i < frontier.size(); ++i) {
      GenerateRequest r;
      r.problem = &p;
      r.prefix = tree.path(frontier[i]);
      r.num_samples = 4;
      r.params.stop.clear();
      r.params.max_tokens = 8;
      r.params.temperature = 1.0;
      r.seed = static_cast<std::uint64_t>(round * 100 + static_cast<int>(i));
      reqs.push_back(r);
    }
    const auto out = gen.generate(reqs);
    std::vector<NodeId> next;
    for (std::size_t i = 0; i < out.outputs.size(); ++i) {
      for (const auto& s : out.outputs[i]) {
        tokens += s.num_tokens;
        const NodeId id = tree.add_child(frontier[i], s);
        if (next.size() < 4) next.push_back(id);
      }
    }
    frontier = next;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void BM_TreeSearchPrefixReuse(benchmark::State& state) {
  auto with = TorchGenerator::load(model_dir().string(), options(1 << 20));
  auto without = TorchGenerator::load(model_dir().string(), options(0));
  double t_with = 0, t_without = 0;
  std::int64_t tokens = 0, ignored = 0;
  for (auto _ : state) {
    t_with += tree_rounds(with, tokens);
    t_without += tree_rounds(without, ignored);
  }
  state.counters["tokens_per_s_with_cache"] = static_cast<double>(tokens) / t_with;
  state.counters["tokens_per_s_without"] = static_cast<double>(ignored) / t_without;
  state.counters["speedup"] = t_without / t_with;
  state.counters["seconds_with"] = t_with;
  state.counters["seconds_without"] = t_without;
  state.counters["tokens"] = static_cast<double>(tokens);
  state.counters["tokens_without"] = static_cast<double>(ignored);
}

}  // namespace

BENCHMARK(BM_Decode)->Arg(1)->Arg(16)->Arg(64)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Prefill)->Iterations(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TreeSearchPrefixReuse)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
// the context names the BLAS and the kernel it chose: CPU speed hinges on it
int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("blas", ttsearch::torch::blas_info());
  benchmark::AddCustomContext("cpu_gemm", ttsearch::torch::cpu_gemm() + "; BM_Decode's kernel: " + isa_kernel());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
