#pragma once
/// A Hugging Face decoder-only model (Llama / Qwen2 / Mistral) loaded from its folder
/// (config.json, generation_config.json, model.safetensors or shards) and run with libtorch.
/// This header does not include libtorch.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ttsearch/torch/config.hpp"

namespace ttsearch::torch {

struct LoadOptions {
  std::string device = "cpu";    ///< cpu, cuda, cuda:N
  std::string dtype = "float32"; ///< float32, bfloat16 or float16 (float16 matmul is not available on CPU)
  bool tune_malloc = true;       ///< call keep_freed_memory() (device.hpp): glibc reuses freed tensor memory
};

class CausalLM {
 public:
  /// Loads `dir`; throws naming the missing or mismatched file or tensor.
  static CausalLM load(const std::string& dir, const LoadOptions& opt = {});
  CausalLM(CausalLM&&) noexcept;
  CausalLM& operator=(CausalLM&&) noexcept;
  ~CausalLM();

  [[nodiscard]] const ModelConfig& config() const;
  /// Language-model logits of every position of one sequence, fp32, row-major [T x V].
  [[nodiscard]] std::vector<float> logits(std::span<const std::int32_t> ids) const;
  /// The same, fed one token at a time through the KV cache (for checking the cache).
  [[nodiscard]] std::vector<float> logits_incremental(std::span<const std::int32_t> ids) const;
  /// Greedy continuation using the KV cache; stops after max_new_tokens or at an EOS id.
  [[nodiscard]] std::vector<std::int32_t> greedy(std::span<const std::int32_t> prompt, std::int32_t max_new_tokens) const;
  /// Score-head logits (PRM / classifier) of every position, fp32, row-major [T x num_labels].
  [[nodiscard]] std::vector<float> score_logits(std::span<const std::int32_t> ids) const;

  struct Impl;  ///< opaque

 private:
  explicit CausalLM(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ttsearch::torch
