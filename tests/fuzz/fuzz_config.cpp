// libFuzzer: config.json and generation_config.json parsing on arbitrary text. Every input either
// parses into a config whose RoPE table can be built, or is a ttsearch::Error naming the field.
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>
#include <ttsearch/core/error.hpp>
#include <ttsearch/torch/config.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  using namespace ttsearch::torch;
  try {
    ModelConfig c = parse_model_config(j, "fuzz/config.json");
    if (c.rotary_dim() <= 1 << 16) (void)rope_inv_freq(c, c.max_position_embeddings < 1 << 20 ? c.max_position_embeddings : 0);
    (void)model_config_to_json(c);
    apply_generation_config(c, j, "fuzz/generation_config.json");
  } catch (const ttsearch::Error&) {
  }
  return 0;
}
