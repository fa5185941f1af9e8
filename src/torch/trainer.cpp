#include "ttsearch/torch/trainer.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>

#include "model.hpp"
#include "ttsearch/core/error.hpp"
#include "ttsearch/torch/safetensors.hpp"

namespace ttsearch::torch {

void TrainOptions::validate() const {
  TTSEARCH_REQUIRE(std::isfinite(learning_rate) && learning_rate > 0, "train: learning_rate must be > 0 (got {})", learning_rate);
  TTSEARCH_REQUIRE(min_lr_ratio >= 0 && min_lr_ratio <= 1, "train: min_lr_ratio must be in [0, 1] (got {})", min_lr_ratio);
  TTSEARCH_REQUIRE(warmup_steps >= 0, "train: warmup_steps must be >= 0 (got {})", warmup_steps);
  TTSEARCH_REQUIRE(total_steps >= 1, "train: total_steps must be >= 1 (got {})", total_steps);
  TTSEARCH_REQUIRE(weight_decay >= 0, "train: weight_decay must be >= 0 (got {})", weight_decay);
  TTSEARCH_REQUIRE(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "train: betas must be in [0, 1) (got {}, {})", beta1, beta2);
  TTSEARCH_REQUIRE(grad_clip >= 0, "train: grad_clip must be >= 0 (got {})", grad_clip);
}

double TrainOptions::lr_at(std::int64_t step) const {
  if (step < warmup_steps) return learning_rate * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const double span = static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup_steps));
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return learning_rate * (min_lr_ratio + (1.0 - min_lr_ratio) * cosine);
}

struct Trainer::Impl {
  ModelConfig config;
  TrainOptions opt;
  detail::Transformer model{nullptr};
  at::Device device{at::kCPU};
  std::unique_ptr<::torch::optim::AdamW> optimizer;
  std::int64_t steps = 0;

  void init_optimizer() {
    std::vector<at::Tensor> decay, no_decay;
    for (auto& p : model->named_parameters(true)) {
      if (p.key() == "lm_head.weight" && config.tie_word_embeddings) continue;  // the embedding is the head
      (p.value().dim() >= 2 ? decay : no_decay).push_back(p.value());
    }
    auto options = [&](double wd) {
      return std::make_unique<::torch::optim::AdamWOptions>(
          ::torch::optim::AdamWOptions(opt.learning_rate).betas({opt.beta1, opt.beta2}).weight_decay(wd));
    };
    std::vector<::torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, options(opt.weight_decay));
    groups.emplace_back(no_decay, options(0.0));
    optimizer = std::make_unique<::torch::optim::AdamW>(groups);
  }

  at::Tensor head_weight() {
    if (config.tie_word_embeddings || !model->lm_head) return model->model->embed_tokens->weight;
    return model->lm_head->weight;
  }

  /// The mean loss of a batch (with autograd when enabled), or the PRM's P(class 1) per label.
  at::Tensor forward(std::span<const TrainSequence> batch, bool probabilities) {
    TTSEARCH_REQUIRE(!batch.empty(), "train: empty batch");
    const auto B = static_cast<std::int64_t>(batch.size());
    std::int64_t T = 0;
    for (const auto& s : batch) T = std::max<std::int64_t>(T, static_cast<std::int64_t>(s.ids.size()));
    TTSEARCH_REQUIRE(T > 0, "train: every sequence of the batch is empty");
    TTSEARCH_REQUIRE(T <= config.max_position_embeddings, "train: a sequence of {} tokens exceeds max_position_embeddings ({})", T,
                     config.max_position_embeddings);
    std::vector<std::int64_t> ids(static_cast<std::size_t>(B * T), 0), mask(ids.size(), 0), pos(ids.size(), 0);
    std::vector<std::int64_t> rows, targets;
    const bool lm = config.head == ModelHead::kCausalLM;
    for (std::int64_t b = 0; b < B; ++b) {
      const auto& s = batch[static_cast<std::size_t>(b)];
      const auto n = static_cast<std::int64_t>(s.ids.size());
      for (std::int64_t t = 0; t < n; ++t) {
        const auto id = s.ids[static_cast<std::size_t>(t)];
        TTSEARCH_REQUIRE(id >= 0 && id < config.vocab_size, "train: sequence {} has id {} outside the vocabulary (size {})", b, id,
                         config.vocab_size);
        const auto k = static_cast<std::size_t>(b * T + t);
        ids[k] = id;
        mask[k] = 1;
        pos[k] = t;
      }
      if (lm) {
        TTSEARCH_REQUIRE(s.loss_from >= 1, "train: loss_from must be >= 1 (got {})", s.loss_from);
        for (std::int64_t t = s.loss_from; t < n; ++t) {
          rows.push_back(b * T + t - 1);
          targets.push_back(s.ids[static_cast<std::size_t>(t)]);
        }
      } else {
        for (const auto& [p, label] : s.labels) {
          TTSEARCH_REQUIRE(p >= 0 && p < n, "train: sequence {} has a label at position {} outside its {} tokens", b, p, n);
          TTSEARCH_REQUIRE(label >= 0 && label < config.num_labels, "train: label {} is not a class of this head ({} labels)", label,
                           config.num_labels);
          rows.push_back(b * T + p);
          targets.push_back(label);
        }
      }
    }
    TTSEARCH_REQUIRE(!rows.empty(), "train: the batch has no targets");
    auto to_dev = [&](const std::vector<std::int64_t>& v) { return at::tensor(v, at::kLong).to(device); };
    const auto h = model->hidden(to_dev(ids).view({B, T}), to_dev(pos).view({B, T}), to_dev(mask).view({B, T}).to(at::kBool), nullptr);
    const auto picked = h.reshape({B * T, -1}).index_select(0, to_dev(rows));
    at::Tensor logits = lm ? at::matmul(picked, head_weight().t()) : model->score_logits(picked);
    if (probabilities) return at::softmax(logits, -1).select(1, 1);
    return at::cross_entropy_loss(logits.to(at::kFloat), to_dev(targets));
  }
};

namespace {

void init_weights(detail::Transformer& m, const ModelConfig& c, bool head_only) {
  ::torch::NoGradGuard no_grad;
  const double resid = 0.02 / std::sqrt(2.0 * static_cast<double>(c.num_hidden_layers));
  for (auto& p : m->named_parameters(true)) {
    const std::string& name = p.key();
    if (head_only && !name.starts_with("score")) continue;
    at::Tensor& v = p.value();
    if (name.ends_with("layernorm.weight") || name == "model.norm.weight") v.fill_(1.0);
    else if (name.ends_with(".bias")) v.zero_();
    else if (name.ends_with("o_proj.weight") || name.ends_with("down_proj.weight")) v.normal_(0.0, resid);
    else v.normal_(0.0, 0.02);
  }
}

}  // namespace

Trainer::Trainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Trainer::Trainer(Trainer&&) noexcept = default;
Trainer& Trainer::operator=(Trainer&&) noexcept = default;
Trainer::~Trainer() = default;

namespace {

/// A trainer's model for `config` with weights from `seed`, before loading or training.
std::unique_ptr<Trainer::Impl> new_impl(const ModelConfig& config, std::uint64_t seed, const TrainOptions& opt) {
  opt.validate();
  auto impl = std::make_unique<Trainer::Impl>();
  impl->config = config;
  impl->opt = opt;
  impl->device = detail::parse_device_spec(opt.device);
  ::torch::manual_seed(seed);
  impl->model = detail::Transformer(config);
  return impl;
}

/// Moves the model to its device in training mode and builds the optimiser.
void ready(Trainer::Impl& t) {
  t.model->to(t.device);
  t.model->inv_freq = t.model->inv_freq.to(t.device);
  t.model->train();
  t.init_optimizer();
}

}  // namespace

Trainer Trainer::create(const ModelConfig& config, std::uint64_t seed, const TrainOptions& opt) {
  auto impl = new_impl(config, seed, opt);
  init_weights(impl->model, config, false);
  ready(*impl);
  return Trainer(std::move(impl));
}

Trainer Trainer::from_pretrained(const std::string& dir, const ModelConfig& config, std::uint64_t seed, const TrainOptions& opt) {
  const Checkpoint ckpt = Checkpoint::open(dir);
  const bool new_head = config.head != ModelHead::kCausalLM && !ckpt.contains("score.2.weight") && !ckpt.contains("score.weight");
  const auto skip = [&](std::string_view name) { return new_head && name.starts_with("score"); };
  detail::check_checkpoint(config, ckpt, dir, skip);  // before the model is built
  auto impl = new_impl(config, seed, opt);
  init_weights(impl->model, config, new_head);
  detail::copy_weights(impl->model, ckpt, dir, skip, /*f32_only=*/true);
  ready(*impl);
  return Trainer(std::move(impl));
}

double Trainer::step(std::span<const TrainSequence> batch) {
  Impl& t = *impl_;
  const double lr = t.opt.lr_at(t.steps);
  for (auto& g : t.optimizer->param_groups()) static_cast<::torch::optim::AdamWOptions&>(g.options()).lr(lr);
  t.optimizer->zero_grad();
  const auto loss = t.forward(batch, false);
  const double value = loss.item<double>();
  TTSEARCH_REQUIRE(std::isfinite(value), "train: the loss is {} at step {} (diverged; lower the learning rate)", value, t.steps);
  loss.backward();
  if (t.opt.grad_clip > 0) ::torch::nn::utils::clip_grad_norm_(t.model->parameters(), t.opt.grad_clip);
  t.optimizer->step();
  ++t.steps;
  return value;
}

double Trainer::loss(std::span<const TrainSequence> batch) {
  ::torch::NoGradGuard no_grad;
  return impl_->forward(batch, false).item<double>();
}

std::vector<std::vector<float>> Trainer::prm_probabilities(std::span<const TrainSequence> batch) {
  Impl& t = *impl_;
  TTSEARCH_REQUIRE(t.config.head == ModelHead::kProcessReward, "prm_probabilities: this model ({}) is not a PRM", t.config.architecture);
  ::torch::NoGradGuard no_grad;
  const auto p = t.forward(batch, true).contiguous().cpu();
  std::vector<std::vector<float>> out;
  std::size_t k = 0;
  for (const auto& s : batch) {
    auto& row = out.emplace_back();
    for (std::size_t i = 0; i < s.labels.size(); ++i) row.push_back(p.data_ptr<float>()[k++]);
  }
  return out;
}

void Trainer::save(const std::string& dir) const {
  namespace fs = std::filesystem;
  const Impl& t = *impl_;
  fs::create_directories(dir);
  SafetensorsWriter w;
  for (const auto& p : t.model->named_parameters(true)) {
    if (p.key() == "lm_head.weight" && t.config.tie_word_embeddings) continue;
    const auto v = p.value().detach().to(at::kCPU, at::kFloat).contiguous();
    w.add(p.key(), DType::kF32, v.sizes().vec(), std::span<const float>(v.data_ptr<float>(), static_cast<std::size_t>(v.numel())));
  }
  w.write((fs::path(dir) / "model.safetensors").string());
  auto write_json = [&](const char* name, const nlohmann::json& j) {
    std::ofstream out(fs::path(dir) / name);
    out << j.dump(2) << '\n';
    TTSEARCH_REQUIRE(out.good(), "cannot write {}/{}", dir, name);
  };
  ModelConfig c = t.config;
  c.dtype = "float32";
  write_json("config.json", model_config_to_json(c));
  nlohmann::json gen = {{"eos_token_id", c.eos_token_ids}};
  if (c.bos_token_id) gen["bos_token_id"] = *c.bos_token_id;
  if (c.pad_token_id) gen["pad_token_id"] = *c.pad_token_id;
  write_json("generation_config.json", gen);
}

const ModelConfig& Trainer::config() const { return impl_->config; }

std::int64_t Trainer::num_parameters() const {
  std::int64_t n = 0;
  for (const auto& p : impl_->model->named_parameters(true)) {
    if (p.key() == "lm_head.weight" && impl_->config.tie_word_embeddings) continue;
    n += p.value().numel();
  }
  return n;
}

std::int64_t Trainer::steps_done() const { return impl_->steps; }

}  // namespace ttsearch::torch
