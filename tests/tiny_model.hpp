#pragma once
// Tiny random Hugging Face model folders for tests (shared by test_runtime.cpp and tools/make_tiny_model.cpp).
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>
#include <ttsearch/core/rng.hpp>
#include <ttsearch/torch/safetensors.hpp>
#include <ttsearch/torch/tokenizer.hpp>

namespace ttsearch::testing {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ttsearch::torch;

inline const std::string kQwenJinja =
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}";

/// The dimensions of a random Qwen2 folder; the defaults are the tiny test model.
struct Qwen2Shape {
  std::int64_t hidden = 32, intermediate = 64, vocab = 600, heads = 4, kv_heads = 2, layers = 2, max_positions = 2048;
  double scale = 1.0;  ///< multiplies every random weight's spread
};

/// Writes a random Qwen2 folder in Hugging Face layout (config.json, model.safetensors,
/// tokenizer.json copied from `tokenizer`, tokenizer_config.json with a Qwen chat template):
/// a causal LM, a Qwen2ForProcessRewardModel when `prm`, or a one-label Qwen2ForSequenceClassification
/// (an outcome reward model) when `orm`, or a Skywork-style value-head PRM (Qwen2ForPrmModel: the LM
/// weights plus v_head.summary, bos_token in tokenizer_config.json) when `value_head`. The model vocabulary
/// (600 by default) is padded past the tokenizer's.
inline fs::path write_tiny_qwen2(const std::string& path, const std::string& tokenizer, bool prm, std::uint64_t seed, bool orm = false,
                                 const Qwen2Shape& shape = {}, bool value_head = false) {
  const fs::path dir = path;
  fs::create_directories(dir);
  fs::copy_file(tokenizer, dir / "tokenizer.json", fs::copy_options::overwrite_existing);
  json tok_cfg = {{"chat_template", kQwenJinja}};
  if (value_head) tok_cfg["bos_token"] = "<|endoftext|>";
  std::ofstream(dir / "tokenizer_config.json") << tok_cfg.dump();
  const Tokenizer tok = Tokenizer::from_file((dir / "tokenizer.json").string());
  const std::int64_t H = shape.hidden, I = shape.intermediate, V = shape.vocab, nh = shape.heads, nkv = shape.kv_heads, hd = H / nh;
  const char* arch = prm ? "Qwen2ForProcessRewardModel" : orm ? "Qwen2ForSequenceClassification" : value_head ? "Qwen2ForPrmModel" : "Qwen2ForCausalLM";
  json cfg = {{"architectures", {arch}}, {"model_type", "qwen2"},
              {"hidden_size", H}, {"intermediate_size", I}, {"num_hidden_layers", shape.layers}, {"num_attention_heads", nh},
              {"num_key_value_heads", nkv}, {"vocab_size", V}, {"max_position_embeddings", shape.max_positions}, {"tie_word_embeddings", true},
              {"eos_token_id", *tok.token_to_id("<|im_end|>")}};
  if (orm) cfg["num_labels"] = 1;
  std::ofstream(dir / "config.json") << cfg.dump();
  Rng rng(seed);
  SafetensorsWriter w;
  auto add = [&](const std::string& n, std::vector<std::int64_t> dims, double scale, double offset = 0) {
    std::int64_t k = 1;
    for (auto d : dims) k *= d;
    std::vector<float> v(static_cast<std::size_t>(k));
    for (auto& x : v) x = static_cast<float>(offset + shape.scale * scale * rng.normal());
    w.add(n, DType::kF32, dims, std::span<const float>(v));
  };
  add("model.embed_tokens.weight", {V, H}, 1.0);
  for (std::int64_t l = 0; l < shape.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {H}, 0.05, 1);
    add(p + "post_attention_layernorm.weight", {H}, 0.05, 1);
    add(p + "self_attn.q_proj.weight", {nh * hd, H}, 0.2);
    add(p + "self_attn.q_proj.bias", {nh * hd}, 0.1);
    add(p + "self_attn.k_proj.weight", {nkv * hd, H}, 0.2);
    add(p + "self_attn.k_proj.bias", {nkv * hd}, 0.1);
    add(p + "self_attn.v_proj.weight", {nkv * hd, H}, 0.2);
    add(p + "self_attn.v_proj.bias", {nkv * hd}, 0.1);
    add(p + "self_attn.o_proj.weight", {H, nh * hd}, 0.2);
    add(p + "mlp.gate_proj.weight", {I, H}, 0.2);
    add(p + "mlp.up_proj.weight", {I, H}, 0.2);
    add(p + "mlp.down_proj.weight", {H, I}, 0.2);
  }
  add("model.norm.weight", {H}, 0.05, 1);
  if (prm) {
    add("score.0.weight", {H, H}, 0.3);
    add("score.0.bias", {H}, 0.1);
    add("score.2.weight", {2, H}, 0.3);
    add("score.2.bias", {2}, 0.1);
  }
  if (orm) add("score.weight", {1, H}, 0.3);
  if (value_head) {
    add("lm_head.weight", {V, H}, 1.0);  // saved by such checkpoints; the value-head model does not read it
    add("v_head.summary.weight", {1, H}, 0.3);
    add("v_head.summary.bias", {1}, 0.1);
  }
  w.write((dir / "model.safetensors").string());
  return dir;
}

}  // namespace ttsearch::testing
