#include <torch/torch.h>

#include "model.hpp"
#include "ttsearch/core/error.hpp"
#include "ttsearch/torch/model.hpp"

namespace ttsearch::torch {

struct CausalLM::Impl {
  ModelConfig config;
  detail::Transformer model{nullptr};
  at::Device device{at::kCPU};

  at::Tensor ids_tensor(std::span<const std::int32_t> ids) const {
    for (auto id : ids) {
      TTSEARCH_REQUIRE(id >= 0 && id < config.vocab_size, "token id {} is outside the model's vocabulary (size {})", id, config.vocab_size);
    }
    std::vector<std::int64_t> v(ids.begin(), ids.end());
    return at::tensor(v, at::kLong).unsqueeze(0).to(device);
  }
  at::Tensor positions(std::int64_t start, std::int64_t n) const {
    return at::arange(start, start + n, at::TensorOptions().dtype(at::kLong).device(device)).unsqueeze(0);
  }
  at::Tensor mask(std::int64_t n) const { return at::ones({1, n}, at::TensorOptions().dtype(at::kBool).device(device)); }
};

CausalLM::CausalLM(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CausalLM::CausalLM(CausalLM&&) noexcept = default;
CausalLM& CausalLM::operator=(CausalLM&&) noexcept = default;
CausalLM::~CausalLM() = default;

CausalLM CausalLM::load(const std::string& dir, const LoadOptions& opt) {
  auto impl = std::make_unique<Impl>();
  if (opt.tune_malloc) keep_freed_memory();
  auto loaded = detail::load_model(dir, opt.device, opt.dtype);
  impl->config = std::move(loaded.config);
  impl->model = loaded.model;
  impl->device = loaded.device;
  return CausalLM(std::move(impl));
}

const ModelConfig& CausalLM::config() const { return impl_->config; }

std::vector<float> CausalLM::logits(std::span<const std::int32_t> ids) const {
  TTSEARCH_REQUIRE(!ids.empty(), "logits: empty input");
  ::torch::InferenceMode guard;
  const auto n = static_cast<std::int64_t>(ids.size());
  const auto h = impl_->model->hidden(impl_->ids_tensor(ids), impl_->positions(0, n), impl_->mask(n), nullptr);
  const auto l = impl_->model->lm_logits(h).squeeze(0).contiguous().cpu();
  return {l.data_ptr<float>(), l.data_ptr<float>() + l.numel()};
}

std::vector<float> CausalLM::logits_incremental(std::span<const std::int32_t> ids) const {
  TTSEARCH_REQUIRE(!ids.empty(), "logits: empty input");
  ::torch::InferenceMode guard;
  detail::KVCache cache;
  std::vector<float> out;
  for (std::size_t t = 0; t < ids.size(); ++t) {
    const auto h = impl_->model->hidden(impl_->ids_tensor(ids.subspan(t, 1)), impl_->positions(static_cast<std::int64_t>(t), 1),
                                        impl_->mask(static_cast<std::int64_t>(t) + 1), &cache);
    const auto l = impl_->model->lm_logits(h).reshape({-1}).contiguous().cpu();
    out.insert(out.end(), l.data_ptr<float>(), l.data_ptr<float>() + l.numel());
  }
  return out;
}

std::vector<std::int32_t> CausalLM::greedy(std::span<const std::int32_t> prompt, std::int32_t max_new_tokens) const {
  TTSEARCH_REQUIRE(!prompt.empty(), "greedy: empty prompt");
  TTSEARCH_REQUIRE(max_new_tokens >= 0, "greedy: max_new_tokens must be >= 0 (got {})", max_new_tokens);
  ::torch::InferenceMode guard;
  detail::KVCache cache;
  std::vector<std::int32_t> out;
  auto n = static_cast<std::int64_t>(prompt.size());
  auto h = impl_->model->hidden(impl_->ids_tensor(prompt), impl_->positions(0, n), impl_->mask(n), &cache);
  const auto& eos = impl_->config.eos_token_ids;
  for (std::int32_t i = 0; i < max_new_tokens; ++i) {
    const auto next = static_cast<std::int32_t>(impl_->model->lm_logits(h.select(1, -1)).argmax(-1).item<std::int64_t>());
    out.push_back(next);
    if (std::find(eos.begin(), eos.end(), next) != eos.end()) break;
    const std::int32_t one[1] = {next};
    h = impl_->model->hidden(impl_->ids_tensor(one), impl_->positions(n, 1), impl_->mask(n + 1), &cache);
    ++n;
  }
  return out;
}

std::vector<float> CausalLM::score_logits(std::span<const std::int32_t> ids) const {
  TTSEARCH_REQUIRE(!ids.empty(), "score_logits: empty input");
  ::torch::InferenceMode guard;
  const auto n = static_cast<std::int64_t>(ids.size());
  const auto h = impl_->model->hidden(impl_->ids_tensor(ids), impl_->positions(0, n), impl_->mask(n), nullptr);
  const auto l = impl_->model->score_logits(h).squeeze(0).contiguous().cpu();
  return {l.data_ptr<float>(), l.data_ptr<float>() + l.numel()};
}

}  // namespace ttsearch::torch
