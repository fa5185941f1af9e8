// libFuzzer: tokenizer.json loading on arbitrary text, then encoding and decoding a few strings
// with whatever loaded. Every input either loads or is a ttsearch::Error (never a crash).
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>
#include <ttsearch/core/error.hpp>
#include <ttsearch/torch/tokenizer.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    const auto tok = ttsearch::torch::Tokenizer::from_json(j, "fuzz.tokenizer.json");
    for (const char* text : {"Hello, world! 12 + 34 = 46", "  \n\n", "\xc3\xa9t\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87", "<|im_end|>x"}) {
      const auto ids = tok.encode(text);
      (void)tok.decode(ids);
    }
  } catch (const ttsearch::Error&) {
  }
  return 0;
}
