// Writes a tiny random Qwen2 policy or PRM folder for the CLI tests.
// Usage: make_tiny_model OUT_DIR TOKENIZER_JSON policy|prm SEED
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../tiny_model.hpp"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: make_tiny_model OUT_DIR TOKENIZER_JSON policy|prm SEED\n");
    return 2;
  }
  const std::string kind = argv[3];
  ttsearch::testing::write_tiny_qwen2(argv[1], argv[2], kind == "prm", std::strtoull(argv[4], nullptr, 10));
  std::printf("wrote %s model to %s\n", kind.c_str(), argv[1]);
  return 0;
}
