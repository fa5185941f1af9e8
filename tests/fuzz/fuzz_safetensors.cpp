// libFuzzer: the safetensors reader on arbitrary bytes. Every input either opens (and each tensor
// reads back with a byte count equal to its shape x dtype) or is a ttsearch::Error.
#include <cstddef>
#include <cstdint>
#include <span>

#include <ttsearch/core/error.hpp>
#include <ttsearch/torch/safetensors.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ttsearch::torch;
  try {
    const auto f = SafetensorsFile::from_buffer(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz.safetensors");
    for (const auto& name : f.names()) {
      const TensorView t = f.get(name);
      if (t.bytes.size() != static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype)) __builtin_trap();
      volatile std::byte sink{};
      for (std::byte b : t.bytes) sink = b;  // every byte is inside the buffer (ASan checks)
    }
  } catch (const ttsearch::Error&) {
  }
  return 0;
}
