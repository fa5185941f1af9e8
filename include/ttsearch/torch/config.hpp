#pragma once
/// Hugging Face model configs: config.json (Llama, Qwen2, Mistral; causal LM, process reward model,
/// sequence classifier) and generation_config.json, plus the RoPE frequencies they imply.
/// Torch-free. Every missing or inconsistent value is an InvalidArgument naming the file and key.
///
/// RoPE forms accepted: a top-level rope_theta with "rope_scaling" (null, or {"type"|"rope_type":
/// "default"|"linear"|"dynamic"|"llama3", ...}), or transformers v5's "rope_parameters"
/// {"rope_type", "rope_theta", ...}. yarn and longrope are rejected with a clear error.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ttsearch::torch {

enum class RopeType : std::uint8_t { kDefault, kLinear, kDynamic, kLlama3 };

struct RopeConfig {
  RopeType type = RopeType::kDefault;
  double theta = 10000.0;
  double factor = 1.0;                 ///< linear / dynamic / llama3
  double low_freq_factor = 1.0;        ///< llama3
  double high_freq_factor = 4.0;       ///< llama3
  std::int64_t original_max_position_embeddings = 0;  ///< llama3 / dynamic; defaults to max_position_embeddings
  double partial_rotary_factor = 1.0;  ///< fraction of head_dim that is rotated
};

/// What sits on top of the decoder.
enum class ModelHead : std::uint8_t {
  kCausalLM,        ///< lm_head (tied to embed_tokens when tie_word_embeddings)
  kProcessReward,   ///< Qwen2ForProcessRewardModel: score.0 (H->H), ReLU, score.2 (H->num_labels)
  kSequenceClassification,  ///< *ForSequenceClassification: score (H->num_labels), read at the last non-pad token
  kValueHead,       ///< *ForPrmModel (Skywork-o1-Open-PRM): v_head.summary (H->1, with bias), sigmoid at flagged tokens
};

struct ModelConfig {
  std::string architecture;  ///< e.g. Qwen2ForCausalLM
  std::string model_type;    ///< llama, qwen2 or mistral
  ModelHead head = ModelHead::kCausalLM;
  std::int64_t hidden_size = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t num_hidden_layers = 0;
  std::int64_t num_attention_heads = 0;
  std::int64_t num_key_value_heads = 0;  ///< = num_attention_heads when absent
  std::int64_t head_dim = 0;             ///< config.head_dim, else hidden_size / num_attention_heads
  std::int64_t vocab_size = 0;
  std::int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  std::string hidden_act = "silu";
  RopeConfig rope;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;   ///< Qwen2 always; Llama when attention_bias
  bool o_bias = false;     ///< Llama when attention_bias; never Qwen2
  bool mlp_bias = false;   ///< Llama mlp_bias
  bool use_sliding_window = false;
  std::int64_t sliding_window = 0;
  std::int64_t max_window_layers = 0;
  std::optional<std::int64_t> bos_token_id;
  std::optional<std::int64_t> pad_token_id;
  std::vector<std::int64_t> eos_token_ids;  ///< config.json and generation_config.json, merged, in order
  std::string dtype = "float32";            ///< torch_dtype / dtype: float32, bfloat16 or float16
  std::int64_t num_labels = 0;              ///< classifier heads

  [[nodiscard]] std::int64_t rotary_dim() const noexcept {
    return static_cast<std::int64_t>(static_cast<double>(head_dim) * rope.partial_rotary_factor);
  }
};

/// Parses a config.json object; `source` names it in errors.
ModelConfig parse_model_config(const nlohmann::json& j, std::string_view source = "config.json");

/// Merges generation_config.json's eos_token_id (int or list) and bos/pad ids into `c`.
void apply_generation_config(ModelConfig& c, const nlohmann::json& j, std::string_view source = "generation_config.json");

/// The config.json object of `c` (what parse_model_config reads back to an equal config).
nlohmann::json model_config_to_json(const ModelConfig& c);

/// Reads `dir`/config.json and, when present, `dir`/generation_config.json.
ModelConfig load_model_config(const std::string& dir);

/// RoPE inverse frequencies (rotary_dim / 2 of them), in double: 1 / theta^(2i/d), with the
/// linear, dynamic (for `seq_len`) and llama3 adjustments.
std::vector<double> rope_inv_freq(const ModelConfig& c, std::int64_t seq_len = 0);

}  // namespace ttsearch::torch
