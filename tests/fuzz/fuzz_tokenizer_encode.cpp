// libFuzzer: encoding arbitrary bytes with the Qwen2 and Llama-3 tokenizers of the tests.
// Properties: ids are inside the vocabulary; Llama-3 (no normaliser) gives back exactly the input
// bytes; Qwen2 (NFC) does for ASCII input (NFC is the identity there) and is idempotent otherwise.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include <ttsearch/torch/tokenizer.hpp>

namespace {
const ttsearch::torch::Tokenizer& tokenizer(int which) {
  static const auto qwen = std::make_unique<ttsearch::torch::Tokenizer>(
      ttsearch::torch::Tokenizer::from_file(TTSEARCH_FUZZ_TOKENIZER_DIR "/qwen2.tokenizer.json"));
  static const auto llama = std::make_unique<ttsearch::torch::Tokenizer>(
      ttsearch::torch::Tokenizer::from_file(TTSEARCH_FUZZ_TOKENIZER_DIR "/llama3.tokenizer.json"));
  return which ? *llama : *qwen;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto& tok = tokenizer(data[0] & 1);
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto ids = tok.encode(text);
  for (auto id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= tok.vocab_size()) __builtin_trap();
  }
  const std::string back = tok.decode(ids);
  const bool ascii = std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if ((data[0] & 1) || ascii) {
    if (back != text) __builtin_trap();  // arbitrary bytes round-trip
  } else if (tok.decode(tok.encode(back)) != back) {
    __builtin_trap();  // normalising twice changes nothing
  }
  return 0;
}
