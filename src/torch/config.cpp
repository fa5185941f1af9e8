#include "ttsearch/torch/config.hpp"

#include <cmath>
#include <filesystem>
#include <numbers>

#include "json_file.hpp"
#include "ttsearch/core/error.hpp"
#include "ttsearch/core/types.hpp"

namespace ttsearch::torch {

using Json = nlohmann::json;

namespace {

[[noreturn]] void fail(std::string_view source, const std::string& what) {
  throw InvalidArgument(fmt::format("{}: {}", source, what));
}

template <class T>
std::optional<T> opt(const Json& j, std::string_view source, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // an integer within T's range: a float (6.4e30) or a wrapped value is named, never converted
    // (nlohmann's get<int64_t> of 6.4e30 is undefined behaviour; found by fuzz_config)
    if (j[key].is_number()) {
      try {
        return ttsearch::detail::json_integer<T>(j, key, T{}, "config");
      } catch (const InvalidArgument&) {
        fail(source, fmt::format("\"{}\" must be an integer in range (got {})", key, j[key].dump()));
      }
    }
  }
  try {
    return j[key].get<T>();
  } catch (const Json::exception&) {
    fail(source, fmt::format("\"{}\" has the wrong type ({})", key, j[key].dump()));
  }
}

std::int64_t positive(const Json& j, std::string_view source, const char* key) {
  const auto v = opt<std::int64_t>(j, source, key);
  if (!v) fail(source, fmt::format("missing \"{}\"", key));
  if (*v <= 0) fail(source, fmt::format("\"{}\" must be > 0 (got {})", key, *v));
  return *v;
}

std::vector<std::int64_t> ids(const Json& j, std::string_view source, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return {};
  const Json& v = j[key];
  if (v.is_number_integer()) return {v.get<std::int64_t>()};
  if (v.is_array()) {
    std::vector<std::int64_t> out;
    for (const auto& x : v) {
      if (!x.is_number_integer()) fail(source, fmt::format("\"{}\" must be an integer or a list of integers", key));
      out.push_back(x.get<std::int64_t>());
    }
    return out;
  }
  fail(source, fmt::format("\"{}\" must be an integer or a list of integers (got {})", key, v.dump()));
}

void parse_rope(ModelConfig& c, const Json& j, std::string_view source) {
  RopeConfig& r = c.rope;
  r.theta = opt<double>(j, source, "rope_theta").value_or(c.model_type == "qwen2" ? 1000000.0 : 10000.0);
  r.partial_rotary_factor = opt<double>(j, source, "partial_rotary_factor").value_or(1.0);
  const Json* params = nullptr;
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) params = &j["rope_parameters"];
  else if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) params = &j["rope_scaling"];
  else if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) fail(source, "\"rope_scaling\" must be an object or null");
  r.original_max_position_embeddings = c.max_position_embeddings;
  if (params) {
    const Json& p = *params;
    std::string type = "default";
    if (p.contains("rope_type")) type = opt<std::string>(p, source, "rope_type").value_or("default");
    else if (p.contains("type")) type = opt<std::string>(p, source, "type").value_or("default");
    if (auto t = opt<double>(p, source, "rope_theta")) r.theta = *t;
    if (auto f = opt<double>(p, source, "partial_rotary_factor")) r.partial_rotary_factor = *f;
    if (type == "default") r.type = RopeType::kDefault;
    else if (type == "linear") r.type = RopeType::kLinear;
    else if (type == "dynamic") r.type = RopeType::kDynamic;
    else if (type == "llama3") r.type = RopeType::kLlama3;
    else fail(source, fmt::format("unsupported rope type \"{}\" (supported: default, linear, dynamic, llama3)", type));
    if (r.type != RopeType::kDefault) {
      const auto f = opt<double>(p, source, "factor");
      if (!f || *f <= 0) fail(source, fmt::format("rope type \"{}\" needs a positive \"factor\"", type));
      r.factor = *f;
    }
    if (r.type == RopeType::kLlama3) {
      r.low_freq_factor = opt<double>(p, source, "low_freq_factor").value_or(1.0);
      r.high_freq_factor = opt<double>(p, source, "high_freq_factor").value_or(4.0);
      if (r.high_freq_factor <= r.low_freq_factor) {
        fail(source, fmt::format("llama3 rope needs high_freq_factor > low_freq_factor (got {}, {})", r.high_freq_factor,
                                 r.low_freq_factor));
      }
    }
    if (auto o = opt<std::int64_t>(p, source, "original_max_position_embeddings")) r.original_max_position_embeddings = *o;
  }
  if (!(r.theta > 0)) fail(source, fmt::format("rope_theta must be > 0 (got {})", r.theta));
  if (!(r.partial_rotary_factor > 0 && r.partial_rotary_factor <= 1)) {
    fail(source, fmt::format("partial_rotary_factor must be in (0, 1] (got {})", r.partial_rotary_factor));
  }
}

}  // namespace

namespace {
ModelConfig parse_model_config_unchecked(const Json& j, std::string_view source);
}  // namespace

ModelConfig parse_model_config(const Json& j, std::string_view source) {
  try {
    return parse_model_config_unchecked(j, source);
  } catch (const Json::exception& e) {  // a value of the wrong JSON type anywhere: named, never a crash
    fail(source, fmt::format("a value has the wrong type: {}", e.what()));
  }
}

namespace {
ModelConfig parse_model_config_unchecked(const Json& j, std::string_view source) {
  if (!j.is_object()) fail(source, "not a JSON object");
  ModelConfig c;
  const auto archs = opt<std::vector<std::string>>(j, source, "architectures").value_or(std::vector<std::string>{});
  c.architecture = archs.empty() ? std::string{} : archs.front();
  c.model_type = opt<std::string>(j, source, "model_type").value_or("");
  if (c.model_type != "llama" && c.model_type != "qwen2" && c.model_type != "mistral") {
    fail(source, fmt::format("unsupported model_type \"{}\" (supported: llama, qwen2, mistral)", c.model_type));
  }
  const std::string& a = c.architecture;
  if (a.empty() || a.ends_with("ForCausalLM")) c.head = ModelHead::kCausalLM;
  else if (a == "Qwen2ForProcessRewardModel") c.head = ModelHead::kProcessReward;
  else if (a.ends_with("ForSequenceClassification")) c.head = ModelHead::kSequenceClassification;
  else if (a.ends_with("ForPrmModel")) c.head = ModelHead::kValueHead;
  else fail(source, fmt::format("unsupported architecture \"{}\"", a));

  c.hidden_size = positive(j, source, "hidden_size");
  c.intermediate_size = positive(j, source, "intermediate_size");
  c.num_hidden_layers = positive(j, source, "num_hidden_layers");
  c.num_attention_heads = positive(j, source, "num_attention_heads");
  c.vocab_size = positive(j, source, "vocab_size");
  c.num_key_value_heads = opt<std::int64_t>(j, source, "num_key_value_heads").value_or(c.num_attention_heads);
  if (c.num_key_value_heads <= 0 || c.num_attention_heads % c.num_key_value_heads != 0) {
    fail(source, fmt::format("num_attention_heads ({}) must be a multiple of num_key_value_heads ({})", c.num_attention_heads,
                             c.num_key_value_heads));
  }
  if (auto hd = opt<std::int64_t>(j, source, "head_dim")) {
    c.head_dim = *hd;
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      fail(source, fmt::format("hidden_size ({}) is not divisible by num_attention_heads ({}) and no head_dim is given",
                               c.hidden_size, c.num_attention_heads));
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim <= 0 || c.head_dim % 2 != 0) fail(source, fmt::format("head_dim must be a positive even number (got {})", c.head_dim));
  c.max_position_embeddings = opt<std::int64_t>(j, source, "max_position_embeddings").value_or(4096);
  c.rms_norm_eps = opt<double>(j, source, "rms_norm_eps").value_or(1e-6);
  if (!(c.rms_norm_eps > 0)) fail(source, fmt::format("rms_norm_eps must be > 0 (got {})", c.rms_norm_eps));
  c.hidden_act = opt<std::string>(j, source, "hidden_act").value_or("silu");
  if (c.hidden_act != "silu") fail(source, fmt::format("unsupported hidden_act \"{}\" (supported: silu)", c.hidden_act));
  parse_rope(c, j, source);
  if (c.rotary_dim() % 2 != 0) fail(source, "the rotated part of head_dim must be even");
  c.tie_word_embeddings = opt<bool>(j, source, "tie_word_embeddings").value_or(false);
  if (c.model_type == "qwen2") {
    c.qkv_bias = true;  // Qwen2 always has q/k/v biases and never an o_proj bias
  } else if (c.model_type == "llama") {
    c.qkv_bias = c.o_bias = opt<bool>(j, source, "attention_bias").value_or(false);
    c.mlp_bias = opt<bool>(j, source, "mlp_bias").value_or(false);
  }
  c.use_sliding_window = opt<bool>(j, source, "use_sliding_window").value_or(c.model_type == "mistral");
  c.sliding_window = opt<std::int64_t>(j, source, "sliding_window").value_or(0);
  c.max_window_layers = opt<std::int64_t>(j, source, "max_window_layers").value_or(0);
  c.bos_token_id = opt<std::int64_t>(j, source, "bos_token_id");
  c.pad_token_id = opt<std::int64_t>(j, source, "pad_token_id");
  c.eos_token_ids = ids(j, source, "eos_token_id");
  std::string dtype = opt<std::string>(j, source, "dtype").value_or(opt<std::string>(j, source, "torch_dtype").value_or("float32"));
  if (dtype != "float32" && dtype != "bfloat16" && dtype != "float16") {
    fail(source, fmt::format("unsupported dtype \"{}\" (supported: float32, bfloat16, float16)", dtype));
  }
  c.dtype = dtype;
  if (c.head != ModelHead::kCausalLM) {
    std::int64_t labels = opt<std::int64_t>(j, source, "num_labels").value_or(0);
    if (labels == 0 && j.contains("id2label") && j["id2label"].is_object()) labels = static_cast<std::int64_t>(j["id2label"].size());
    if (labels == 0) labels = c.head == ModelHead::kProcessReward ? 2 : 1;
    if (labels < 1) fail(source, fmt::format("num_labels must be >= 1 (got {})", labels));
    c.num_labels = c.head == ModelHead::kValueHead ? 1 : labels;  // a value head is one scalar whatever the config says
  }
  for (auto id : c.eos_token_ids) {
    if (id < 0 || id >= c.vocab_size) fail(source, fmt::format("eos_token_id {} is outside the vocabulary (size {})", id, c.vocab_size));
  }
  return c;
}
}  // namespace

void apply_generation_config(ModelConfig& c, const Json& j, std::string_view source) {
  if (!j.is_object()) fail(source, "not a JSON object");
  for (auto id : ids(j, source, "eos_token_id")) {
    if (id < 0 || id >= c.vocab_size) fail(source, fmt::format("eos_token_id {} is outside the vocabulary (size {})", id, c.vocab_size));
    if (std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), id) == c.eos_token_ids.end()) c.eos_token_ids.push_back(id);
  }
  if (auto b = opt<std::int64_t>(j, source, "bos_token_id")) c.bos_token_id = b;
  if (auto p = opt<std::int64_t>(j, source, "pad_token_id")) c.pad_token_id = p;
}

Json model_config_to_json(const ModelConfig& c) {
  Json j = {{"architectures", {c.architecture}}, {"model_type", c.model_type}, {"hidden_size", c.hidden_size},
            {"intermediate_size", c.intermediate_size}, {"num_hidden_layers", c.num_hidden_layers},
            {"num_attention_heads", c.num_attention_heads}, {"num_key_value_heads", c.num_key_value_heads},
            {"head_dim", c.head_dim}, {"vocab_size", c.vocab_size}, {"max_position_embeddings", c.max_position_embeddings},
            {"rms_norm_eps", c.rms_norm_eps}, {"hidden_act", c.hidden_act}, {"rope_theta", c.rope.theta},
            {"tie_word_embeddings", c.tie_word_embeddings}, {"torch_dtype", c.dtype}, {"use_sliding_window", c.use_sliding_window}};
  if (c.rope.partial_rotary_factor != 1.0) j["partial_rotary_factor"] = c.rope.partial_rotary_factor;
  if (c.rope.type != RopeType::kDefault) {
    static constexpr const char* kNames[] = {"default", "linear", "dynamic", "llama3"};
    Json r = {{"rope_type", kNames[static_cast<int>(c.rope.type)]}, {"factor", c.rope.factor}};
    if (c.rope.type == RopeType::kLlama3) {
      r["low_freq_factor"] = c.rope.low_freq_factor;
      r["high_freq_factor"] = c.rope.high_freq_factor;
    }
    if (c.rope.original_max_position_embeddings > 0) r["original_max_position_embeddings"] = c.rope.original_max_position_embeddings;
    j["rope_scaling"] = r;
  }
  if (c.model_type == "llama") {
    j["attention_bias"] = c.qkv_bias;
    j["mlp_bias"] = c.mlp_bias;
  }
  if (c.sliding_window > 0) j["sliding_window"] = c.sliding_window;
  if (c.max_window_layers > 0) j["max_window_layers"] = c.max_window_layers;
  if (c.bos_token_id) j["bos_token_id"] = *c.bos_token_id;
  if (c.pad_token_id) j["pad_token_id"] = *c.pad_token_id;
  if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
  else if (!c.eos_token_ids.empty()) j["eos_token_id"] = c.eos_token_ids;
  if (c.head != ModelHead::kCausalLM) j["num_labels"] = c.num_labels;
  return j;
}

ModelConfig load_model_config(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path config = fs::path(dir) / "config.json";
  ModelConfig c = parse_model_config(detail::read_json_file(config), config.string());
  const fs::path gen = fs::path(dir) / "generation_config.json";
  if (fs::exists(gen)) apply_generation_config(c, detail::read_json_file(gen), gen.string());
  return c;
}

std::vector<double> rope_inv_freq(const ModelConfig& c, std::int64_t seq_len) {
  const RopeConfig& r = c.rope;
  const std::int64_t d = c.rotary_dim();
  double base = r.theta;
  if (r.type == RopeType::kDynamic && seq_len > c.max_position_embeddings) {
    // NTK-aware: base' = base * ((factor * L / max_pos) - (factor - 1))^(d / (d - 2))
    const double ratio = r.factor * static_cast<double>(seq_len) / static_cast<double>(c.max_position_embeddings) - (r.factor - 1.0);
    base *= std::pow(ratio, static_cast<double>(d) / static_cast<double>(d - 2));
  }
  std::vector<double> inv(static_cast<std::size_t>(d / 2));
  for (std::size_t i = 0; i < inv.size(); ++i) {
    inv[i] = 1.0 / std::pow(base, static_cast<double>(2 * i) / static_cast<double>(d));
  }
  if (r.type == RopeType::kLinear) {
    for (auto& f : inv) f /= r.factor;  // positions / factor
  } else if (r.type == RopeType::kLlama3) {
    const double old = static_cast<double>(r.original_max_position_embeddings);
    const double low_wl = old / r.low_freq_factor, high_wl = old / r.high_freq_factor;
    for (auto& f : inv) {
      const double wl = 2.0 * std::numbers::pi / f;
      if (wl < high_wl) continue;
      if (wl > low_wl) {
        f /= r.factor;
      } else {
        const double s = (old / wl - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
        f = (1.0 - s) * f / r.factor + s * f;
      }
    }
  }
  return inv;
}

}  // namespace ttsearch::torch
