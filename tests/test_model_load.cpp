// Loading a model folder: the config is checked against the checkpoint's header before a weight
// is allocated (a config that does not fit its weights is a named error at once, not an
// allocation failure or a long random initialisation), and the model is then allocated once in
// the target dtype and filled from the checkpoint, drawing no random numbers.
#include "../src/torch/model.hpp"
#undef CHECK  // glog's, from ATen; Catch's below

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <ttsearch/core/error.hpp>
#include <ttsearch/torch/trainer.hpp>

#include "tiny_model.hpp"

namespace td = ttsearch::torch::detail;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path tiny_folder(const std::string& name, bool prm = false, bool orm = false, bool value_head = false,
                     const ttsearch::testing::Qwen2Shape& shape = {}) {
  const fs::path dir = fs::temp_directory_path() / ("ttsearch_load_" + name + "_" + std::to_string(::getpid()));
  return ttsearch::testing::write_tiny_qwen2(dir.string(), std::string(TTSEARCH_TEST_DATA_DIR) + "/tokenizer/qwen2.tokenizer.json", prm, 3,
                                             orm, shape, value_head);
}

void edit_config(const fs::path& dir, const std::string& key, const json& value) {
  json cfg = json::parse(std::ifstream(dir / "config.json"));
  cfg[key] = value;
  std::ofstream(dir / "config.json") << cfg.dump();
}

double seconds(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("model load: a config that does not fit its weights is named before anything is allocated", "[torch][model]") {
  const fs::path dir = tiny_folder("fit");
  std::string message;
  auto load = [&] {
    try {
      td::load_model(dir.string(), "cpu", "float32");
    } catch (const ttsearch::InvalidArgument& e) {
      message = e.what();
    }
  };
  // hidden_size 10^9 would be 61 x 10^9 floats for the embedding alone
  edit_config(dir, "hidden_size", 1'000'000'000);
  edit_config(dir, "num_attention_heads", 1);
  edit_config(dir, "num_key_value_heads", 1);
  CHECK(seconds(load) < 2.0);
  CHECK_THAT(message, Catch::Contains("tensor \"model.embed_tokens.weight\" has shape [600, 32] but the config implies [600, 1000000000]"));
  // 10^6 layers: the first missing layer is named at once
  edit_config(dir, "hidden_size", 32);
  edit_config(dir, "num_attention_heads", 4);
  edit_config(dir, "num_key_value_heads", 2);
  edit_config(dir, "num_hidden_layers", 1'000'000);
  message.clear();
  CHECK(seconds(load) < 2.0);
  CHECK_THAT(message, Catch::Contains("the checkpoint has no tensor \"model.layers.2.") && Catch::Contains("num_hidden_layers 1000000"));
  // the trainer's from_pretrained checks the same way before it builds (and initialises) its model
  auto big = ttsearch::torch::load_model_config(dir.string());
  big.num_hidden_layers = 2;
  big.hidden_size = 1'000'000'000;
  big.num_attention_heads = 1;
  big.num_key_value_heads = 1;
  message.clear();
  CHECK(seconds([&] {
          try {
            (void)ttsearch::torch::Trainer::from_pretrained(dir.string(), big, 1, {});
          } catch (const ttsearch::InvalidArgument& e) {
            message = e.what();
          }
        }) < 2.0);
  CHECK_THAT(message, Catch::Contains("but the config implies [600, 1000000000]"));
  // a vocabulary larger than the weights'
  edit_config(dir, "num_hidden_layers", 2);
  edit_config(dir, "vocab_size", 1'000'000'000'000LL);
  message.clear();
  CHECK(seconds(load) < 2.0);
  CHECK_THAT(message, Catch::Contains("but the config implies [1000000000000, 32]"));
  fs::remove_all(dir);
}

TEST_CASE("model load: allocated once in the target dtype - no random draws - the checkpoint's values", "[torch][model]") {
  const fs::path dir = tiny_folder("dtype");
  const auto ckpt = ttsearch::torch::Checkpoint::open(dir.string());
  for (const char* dtype : {"float32", "bfloat16"}) {
    INFO(dtype);
    ::torch::manual_seed(11);
    const auto before = at::rand({16});
    ::torch::manual_seed(11);
    auto m = td::load_model(dir.string(), "cpu", dtype);
    const auto after = at::rand({16});
    CHECK(at::equal(before, after));  // loading initialised nothing at random
    const auto st = td::parse_scalar_type(dtype);
    std::size_t n = 0;
    for (const auto& p : m.model->named_parameters(true)) {
      CHECK(p.value().scalar_type() == st);
      const std::string name = p.key() == "lm_head.weight" && !ckpt.contains(p.key()) ? "model.embed_tokens.weight" : p.key();
      const auto t = ckpt.get(name);
      const auto want = at::from_blob(const_cast<std::byte*>(t.bytes.data()), t.shape, at::kFloat).to(st);
      CHECK(at::equal(p.value(), want));
      ++n;
    }
    CHECK(n == td::expected_parameters(m.config).size());
    CHECK(m.model->inv_freq.scalar_type() == at::kFloat);  // RoPE frequencies stay fp32
  }
  fs::remove_all(dir);
}

TEST_CASE("model load: the expected parameters are the model's own - every head - any layer count", "[torch][model]") {
  struct Case {
    std::string name;
    bool prm, orm, value_head;
  };
  for (const auto& c : {Case{"lm", false, false, false}, Case{"prm", true, false, false}, Case{"orm", false, true, false},
                        Case{"vhead", false, false, true}}) {
    INFO(c.name);
    ttsearch::testing::Qwen2Shape shape;
    shape.layers = 3;
    const fs::path dir = tiny_folder(c.name, c.prm, c.orm, c.value_head, shape);
    auto config = ttsearch::torch::load_model_config(dir.string());
    if (c.value_head) config.head = ttsearch::torch::ModelHead::kValueHead;
    const td::Transformer real(config);  // built the ordinary way (initialised, fp32)
    std::vector<std::pair<std::string, std::vector<std::int64_t>>> got;
    for (const auto& p : real->named_parameters(true)) got.emplace_back(p.key(), p.value().sizes().vec());
    CHECK(td::expected_parameters(config) == got);
    CHECK_NOTHROW(td::check_checkpoint(config, ttsearch::torch::Checkpoint::open(dir.string()), dir.string()));
    fs::remove_all(dir);
  }
}
