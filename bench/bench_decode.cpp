// Decode throughput of the libtorch runtime on a Qwen2.5-0.5B-shaped model with random weights
// (hidden 896, 24 layers, 14 heads / 2 KV heads, intermediate 4864, vocab 151936; tied embeddings),
// and tree-search throughput with the prefix cache against without it, in the same run.
//   TTSEARCH_BENCH_LAYERS (default 24) and TTSEARCH_BENCH_DTYPE (float32 | bfloat16) change the model.
// Counters: tokens_per_s (generated tokens / wall second); for the tree search also speedup =
// wall time without the prefix cache / wall time with it, on identical work.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <ttsearch/core/rng.hpp>
#include <ttsearch/torch/runtime.hpp>
#include <ttsearch/torch/safetensors.hpp>

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
    fs::create_directories(d);
    const std::int64_t H = 896, I = 4864, V = 151936, nh = 14, nkv = 2, hd = 64;
    nlohmann::json cfg = {{"architectures", {"Qwen2ForCausalLM"}}, {"model_type", "qwen2"}, {"hidden_size", H},
                          {"intermediate_size", I}, {"num_hidden_layers", layers}, {"num_attention_heads", nh},
                          {"num_key_value_heads", nkv}, {"vocab_size", V}, {"max_position_embeddings", 32768},
                          {"rope_theta", 1000000.0}, {"tie_word_embeddings", true}, {"eos_token_id", 587}};
    std::ofstream(d / "config.json") << cfg.dump();
    fs::copy_file(std::string(TTSEARCH_SOURCE_DIR) + "/tests/data/tokenizer/qwen2.tokenizer.json", d / "tokenizer.json",
                  fs::copy_options::overwrite_existing);
    Rng rng(1);
    SafetensorsWriter w;
    auto add = [&](const std::string& n, std::vector<std::int64_t> shape, float scale, float offset = 0) {
      std::int64_t k = 1;
      for (auto x : shape) k *= x;
      std::vector<float> v(static_cast<std::size_t>(k));
      for (auto& x : v) x = offset + scale * static_cast<float>(rng.uniform() - 0.5);
      w.add(n, DType::kF32, shape, std::span<const float>(v));
    };
    add("model.embed_tokens.weight", {V, H}, 0.1f);
    for (int l = 0; l < layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      add(p + "input_layernorm.weight", {H}, 0.f, 1.f);
      add(p + "post_attention_layernorm.weight", {H}, 0.f, 1.f);
      add(p + "self_attn.q_proj.weight", {nh * hd, H}, 0.05f);
      add(p + "self_attn.q_proj.bias", {nh * hd}, 0.05f);
      add(p + "self_attn.k_proj.weight", {nkv * hd, H}, 0.05f);
      add(p + "self_attn.k_proj.bias", {nkv * hd}, 0.05f);
      add(p + "self_attn.v_proj.weight", {nkv * hd, H}, 0.05f);
      add(p + "self_attn.v_proj.bias", {nkv * hd}, 0.05f);
      add(p + "self_attn.o_proj.weight", {H, nh * hd}, 0.05f);
      add(p + "mlp.gate_proj.weight", {I, H}, 0.05f);
      add(p + "mlp.up_proj.weight", {I, H}, 0.05f);
      add(p + "mlp.down_proj.weight", {H, I}, 0.05f);
    }
    add("model.norm.weight", {H}, 0.f, 1.f);
    w.write((d / "model.safetensors").string());
    return d;
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

/// tokens/s of one call: `batch` samples of 16 tokens each.
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
  std::int64_t tokens = 0;
  for (auto _ : state) {
    const auto out = gen.generate(std::vector<GenerateRequest>{r});
    for (const auto& s : out.outputs[0]) tokens += s.num_tokens;
  }
  state.counters["tokens_per_s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
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
}

}  // namespace

BENCHMARK(BM_Decode)->Arg(1)->Arg(16)->Arg(64)->Iterations(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TreeSearchPrefixReuse)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
