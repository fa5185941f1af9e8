// config.json / generation_config.json parsing and RoPE frequencies.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <ttsearch/core/error.hpp>
#include <ttsearch/torch/config.hpp>

using namespace ttsearch::torch;
using nlohmann::json;

namespace {
json qwen2() {  // the shape of Qwen2.5-0.5B-Instruct's config.json
  return json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864,
    "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936,
    "max_position_embeddings": 32768, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "hidden_act": "silu",
    "tie_word_embeddings": true, "torch_dtype": "bfloat16", "bos_token_id": 151643, "eos_token_id": 151645,
    "use_sliding_window": false, "sliding_window": 32768, "max_window_layers": 21, "rope_scaling": null})");
}
json llama() {  // the shape of Llama-3.2-1B's config.json, with a small head_dim for hand-checked RoPE
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 128256,
    "max_position_embeddings": 131072, "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "attention_bias": false,
    "eos_token_id": [128001, 128008, 128009], "bos_token_id": 128000, "tie_word_embeddings": true,
    "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"}})");
}
std::string error_of(const json& j) {
  try {
    parse_model_config(j);
  } catch (const ttsearch::InvalidArgument& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("model configs: Qwen2 / Llama-3 (llama3 RoPE) / v5 rope_parameters / PRM heads / generation_config", "[torch][config]") {
  const ModelConfig q = parse_model_config(qwen2());
  CHECK(q.model_type == "qwen2");
  CHECK(q.head == ModelHead::kCausalLM);
  CHECK(q.head_dim == 64);
  CHECK(q.num_key_value_heads == 2);
  CHECK(q.qkv_bias);
  CHECK_FALSE(q.o_bias);
  CHECK(q.tie_word_embeddings);
  CHECK(q.dtype == "bfloat16");
  CHECK(q.rope.type == RopeType::kDefault);
  CHECK(q.rope.theta == 1e6);
  CHECK(q.eos_token_ids == std::vector<std::int64_t>{151645});
  ModelConfig merged = q;
  apply_generation_config(merged, json::parse(R"({"eos_token_id": [151645, 151643], "pad_token_id": 151643})"));
  CHECK(merged.eos_token_ids == std::vector<std::int64_t>{151645, 151643});
  CHECK(*merged.pad_token_id == 151643);

  const ModelConfig l = parse_model_config(llama());
  CHECK(l.head_dim == 16);
  CHECK_FALSE(l.qkv_bias);
  CHECK(l.eos_token_ids == std::vector<std::int64_t>{128001, 128008, 128009});
  CHECK(l.rope.type == RopeType::kLlama3);
  // reference values computed independently (transformers' _compute_llama3_parameters, in Python)
  const std::vector<double> expect = {1.0, 0.19392274474868576, 0.03760603093086393, 0.0072926647372171085,
                                      0.00042955679655936815, 8.570255489881478e-06, 1.661967467795309e-06, 3.2229329303788936e-07};
  const auto inv = rope_inv_freq(l);
  REQUIRE(inv.size() == expect.size());
  for (std::size_t i = 0; i < inv.size(); ++i) CHECK(inv[i] == Approx(expect[i]).epsilon(1e-12));

  // transformers v5 form: rope_parameters holds the theta and the scaling
  json v5 = llama();
  v5.erase("rope_scaling");
  v5.erase("rope_theta");
  v5["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 32.0}, {"low_freq_factor", 1.0},
                           {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  const auto inv5 = rope_inv_freq(parse_model_config(v5));
  for (std::size_t i = 0; i < inv.size(); ++i) CHECK(inv5[i] == Approx(inv[i]).epsilon(1e-15));

  // plain and dynamic RoPE
  json plain = llama();
  plain["rope_scaling"] = nullptr;
  plain["rope_theta"] = 10000.0;
  plain["head_dim"] = 8;
  plain["max_position_embeddings"] = 4096;
  const auto p = rope_inv_freq(parse_model_config(plain));
  CHECK(p == std::vector<double>{1.0, 0.1, 0.01, 0.001});
  plain["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
  const auto dyn = rope_inv_freq(parse_model_config(plain), 8192);
  CHECK(dyn[1] == Approx(0.06933612743506347).epsilon(1e-12));
  CHECK(dyn[3] == Approx(0.0003333333333333334).epsilon(1e-12));
  CHECK(rope_inv_freq(parse_model_config(plain), 100)[1] == Approx(0.1));  // below max_position: unchanged
  plain["rope_scaling"] = {{"type", "linear"}, {"factor", 4.0}};
  CHECK(rope_inv_freq(parse_model_config(plain))[1] == Approx(0.025));

  // Qwen2.5-Math-PRM: a process reward head with two labels
  json prm = qwen2();
  prm["architectures"] = {"Qwen2ForProcessRewardModel"};
  const ModelConfig pc = parse_model_config(prm);
  CHECK(pc.head == ModelHead::kProcessReward);
  CHECK(pc.num_labels == 2);
  json orm = llama();
  orm["architectures"] = {"LlamaForSequenceClassification"};
  orm["num_labels"] = 1;
  CHECK(parse_model_config(orm).head == ModelHead::kSequenceClassification);

  // load from a folder
  const auto dir = std::filesystem::temp_directory_path() / ("ttsearch_cfg_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << qwen2().dump();
  std::ofstream(dir / "generation_config.json") << R"({"eos_token_id": [151645, 151643]})";
  CHECK(load_model_config(dir.string()).eos_token_ids.size() == 2);
  std::ofstream(dir / "generation_config.json") << "{broken";
  CHECK_THROWS_WITH(load_model_config(dir.string()), Catch::Contains("generation_config.json: not valid JSON"));
  std::filesystem::remove_all(dir);
  CHECK_THROWS_WITH(load_model_config(dir.string()), Catch::Contains("cannot open"));
}

TEST_CASE("model configs: wrong or missing values are named", "[torch][config]") {
  auto with = [](json j, const char* key, json v) {
    if (v.is_null()) j.erase(key);
    else j[key] = v;
    return error_of(j);
  };
  CHECK_THAT(with(qwen2(), "hidden_size", nullptr), Catch::Contains("config.json: missing \"hidden_size\""));
  CHECK_THAT(with(qwen2(), "hidden_size", -3), Catch::Contains("\"hidden_size\" must be > 0 (got -3)"));
  CHECK_THAT(with(qwen2(), "hidden_size", "big"), Catch::Contains("\"hidden_size\" has the wrong type"));
  // a float where an integer belongs is named, not converted (undefined behaviour; found by fuzz_config)
  CHECK_THAT(with(qwen2(), "intermediate_size", 6.4e30), Catch::Contains("\"intermediate_size\" must be an integer in range (got 6.4e+30)"));
  CHECK_THAT(with(qwen2(), "num_key_value_heads", 4.4e34), Catch::Contains("\"num_key_value_heads\" must be an integer in range"));
  CHECK_THAT(with(qwen2(), "hidden_size", 896.5), Catch::Contains("\"hidden_size\" must be an integer in range (got 896.5)"));
  CHECK_THAT(with(qwen2(), "model_type", "gpt2"), Catch::Contains("unsupported model_type \"gpt2\""));
  CHECK_THAT(with(qwen2(), "architectures", json::array({"Qwen2ForMaskedLM"})), Catch::Contains("unsupported architecture \"Qwen2ForMaskedLM\""));
  CHECK_THAT(with(qwen2(), "num_key_value_heads", 3), Catch::Contains("num_attention_heads (14) must be a multiple of num_key_value_heads (3)"));
  CHECK_THAT(with(qwen2(), "num_attention_heads", 10), Catch::Contains("hidden_size (896) is not divisible by num_attention_heads (10)"));
  CHECK_THAT(with(qwen2(), "eos_token_id", 999999), Catch::Contains("eos_token_id 999999 is outside the vocabulary"));
  CHECK_THAT(with(qwen2(), "eos_token_id", "x"), Catch::Contains("\"eos_token_id\" must be an integer or a list"));
  CHECK_THAT(with(qwen2(), "torch_dtype", "int8"), Catch::Contains("unsupported dtype \"int8\""));
  CHECK_THAT(with(qwen2(), "hidden_act", "gelu"), Catch::Contains("unsupported hidden_act \"gelu\""));
  CHECK_THAT(with(qwen2(), "rope_scaling", json{{"rope_type", "yarn"}, {"factor", 4.0}}), Catch::Contains("unsupported rope type \"yarn\""));
  CHECK_THAT(with(qwen2(), "rope_scaling", json{{"rope_type", "linear"}}), Catch::Contains("needs a positive \"factor\""));
  CHECK_THAT(with(qwen2(), "rope_theta", -1.0), Catch::Contains("rope_theta must be > 0"));
  CHECK_THAT(error_of(json::array()), Catch::Contains("not a JSON object"));
}
