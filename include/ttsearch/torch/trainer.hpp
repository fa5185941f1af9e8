#pragma once
/// Training for small decoder-only models with libtorch: a causal LM on completion tokens, or a
/// process reward model (Qwen2ForProcessRewardModel head) on step labels. Saves Hugging Face
/// model folders that the runtime (TorchGenerator / TorchPRM) loads unchanged. CPU or CUDA, fp32.
/// This header does not include libtorch.
///
/// Optimiser: AdamW (beta1, beta2; weight decay on matrices only), linear warm-up then cosine decay
/// to min_lr_ratio x learning_rate at total_steps, gradient norm clipped. Initialisation (create):
/// every matrix N(0, 0.02), the residual output projections (o_proj, down_proj) N(0, 0.02 /
/// sqrt(2 x layers)) (GPT-2), biases 0, norms 1. Deterministic for a seed on one thread.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ttsearch/torch/config.hpp"

namespace ttsearch::torch {

struct TrainOptions {
  double learning_rate = 3e-3;
  double min_lr_ratio = 0.1;        ///< cosine decays to learning_rate x this
  std::int64_t warmup_steps = 30;
  std::int64_t total_steps = 1000;  ///< length of the schedule
  double weight_decay = 0.1;        ///< on matrices (not biases, norms)
  double beta1 = 0.9, beta2 = 0.95;
  double grad_clip = 1.0;           ///< max global gradient norm; 0 = off
  std::string device = "cpu";

  /// Throws InvalidArgument naming the first bad field.
  void validate() const;
  /// The learning rate at optimiser step `step` (0-based).
  [[nodiscard]] double lr_at(std::int64_t step) const;
};

/// One training sequence. Causal LM: the loss is the cross-entropy of predicting ids[t] for every
/// t >= loss_from. PRM: `labels` holds (position, class) pairs read by the score head at those
/// positions (class 1 = good step).
struct TrainSequence {
  std::vector<std::int32_t> ids;
  std::int32_t loss_from = 1;
  std::vector<std::pair<std::int32_t, std::int32_t>> labels;
};

class Trainer {
 public:
  /// A new model for `config` (its head decides the loss) with random weights from `seed`.
  static Trainer create(const ModelConfig& config, std::uint64_t seed, const TrainOptions& opt);
  /// Starts from the weights of the model folder `dir`. With a PRM `config` and a causal-LM folder,
  /// the backbone is copied and the score head is new (random from `seed`); shapes must match.
  static Trainer from_pretrained(const std::string& dir, const ModelConfig& config, std::uint64_t seed, const TrainOptions& opt);
  Trainer(Trainer&&) noexcept;
  Trainer& operator=(Trainer&&) noexcept;
  ~Trainer();

  /// One optimiser step on `batch` (sequences padded together); returns its mean loss (nats per
  /// target). Throws InvalidArgument on an empty batch, an id outside the vocabulary or a label
  /// position outside its sequence.
  double step(std::span<const TrainSequence> batch);
  /// The mean loss of `batch` without updating.
  [[nodiscard]] double loss(std::span<const TrainSequence> batch);
  /// PRM: P(class 1) at each label position of each sequence.
  [[nodiscard]] std::vector<std::vector<float>> prm_probabilities(std::span<const TrainSequence> batch);
  /// Writes config.json, generation_config.json and model.safetensors (F32) into `dir` (created).
  void save(const std::string& dir) const;

  [[nodiscard]] const ModelConfig& config() const;
  [[nodiscard]] std::int64_t num_parameters() const;
  [[nodiscard]] std::int64_t steps_done() const;

  struct Impl;

 private:
  explicit Trainer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ttsearch::torch
