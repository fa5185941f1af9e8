#pragma once
// Internal: the decoder-only transformer (Llama / Qwen2 / Mistral) in libtorch. Parameter names
// match Hugging Face's, so loading is a name-by-name copy. Not installed; public code uses
// ttsearch/torch/model.hpp.
#include <torch/torch.h>

#include "cpu_gemm.hpp"

#include <functional>
#include <string_view>
#include <vector>

#include "ttsearch/torch/config.hpp"
#include "ttsearch/torch/safetensors.hpp"
#include "ttsearch/torch/device.hpp"

// TORCH_MODULE names torch::nn unqualified, which inside ttsearch::torch finds this namespace.
#define TTSEARCH_TORCH_MODULE(Name)                                  \
  class Name : public ::torch::nn::ModuleHolder<Name##Impl> {        \
   public:                                                           \
    using ::torch::nn::ModuleHolder<Name##Impl>::ModuleHolder;       \
    using Impl = Name##Impl;                                         \
  }

namespace ttsearch::torch::detail {

/// Keys and values of one layer: [B, num_key_value_heads, S, head_dim]. With `used` >= 0 the
/// tensors are preallocated and only the first `used` positions are filled (appends write in place);
/// with `used` < 0 the whole tensor is filled (appends concatenate).
struct LayerKV {
  at::Tensor k, v;
  std::int64_t used = -1;
  [[nodiscard]] std::int64_t length() const { return !k.defined() ? 0 : used >= 0 ? used : k.size(2); }
};

/// Keys and values that several batch rows read without a copy: group g's prefix (the prompt all
/// samples of one request share), per layer [G, kv_heads, P, head_dim], with its key mask [G, P].
/// Attention reads it with the queries of a group's rows stacked into one matrix product (a
/// "cascade" of shared-prefix and per-row attention combined in one softmax), so forking n samples
/// copies nothing of their prefix and reads it once per group instead of once per row.
struct SharedPrefix {
  std::vector<LayerKV> layers;
  at::Tensor mask;  // [G, P] bool
  /// Assigns each batch row its group (host values; rows of a group need not be adjacent).
  void set_groups(std::vector<std::int64_t> group_of_row, const at::Device& device);
  /// Keeps the batch rows `rows` (host indices), in that order.
  void select_rows(const std::vector<std::int64_t>& rows, const at::Device& device);
  [[nodiscard]] std::int64_t groups() const { return mask.size(0); }

  std::vector<std::int64_t> group;  // [B]: each row's group
  std::int64_t slots = 0;           // the most rows any group has
  at::Tensor pad_index;             // [G * slots]: the row in (group, slot), or B for an empty slot
  at::Tensor row_slot;              // [B]: row b's (group * slots + slot)
  at::Tensor row_mask;              // [B, P]: the group mask of each row
};

/// A dense KV cache for one batch (prefix sharing across calls comes from the runtime's prefix
/// cache; within a call, from `shared`).
struct KVCache {
  std::vector<LayerKV> layers;  // per row: the positions after the shared prefix
  std::shared_ptr<SharedPrefix> shared;
  [[nodiscard]] std::int64_t length() const { return layers.empty() ? 0 : layers[0].length(); }
  /// Room for `extra` more positions without reallocating (decode appends in place).
  void reserve(std::int64_t extra);
  /// Keeps the batch rows `rows` (host indices), in that order (the shared prefix is not copied).
  void select_rows(const std::vector<std::int64_t>& rows, const at::Device& device);
};

/// How a model's tensors are made: `options` (dtype, device) for every weight, allocated once;
/// `init` fills them as libtorch's nn::Linear / nn::Embedding would (same draws, same order, so a
/// trainer seeded the same way starts from the same weights); without it they are left
/// uninitialised for a checkpoint to fill (no random numbers drawn, no fp32 host copy first).
struct Alloc {
  at::TensorOptions options = at::TensorOptions().dtype(at::kFloat);
  bool init = true;
};

/// y = x W^T + b (b optional): nn::Linear's parameters ("weight", "bias") made by `Alloc`.
class LinearImpl : public ::torch::nn::Module {
 public:
  LinearImpl(std::int64_t in, std::int64_t out, bool bias, const Alloc& a);
  at::Tensor forward(const at::Tensor& x) { return detail::linear(x, weight, bias); }  // cpu_gemm.hpp
  at::Tensor weight, bias;
};
TTSEARCH_TORCH_MODULE(Linear);

/// A lookup table: nn::Embedding's parameter ("weight") made by `Alloc`.
class EmbeddingImpl : public ::torch::nn::Module {
 public:
  EmbeddingImpl(std::int64_t num, std::int64_t dim, const Alloc& a);
  at::Tensor forward(const at::Tensor& ids) { return at::embedding(weight, ids); }
  at::Tensor weight;
};
TTSEARCH_TORCH_MODULE(Embedding);

class RMSNormImpl : public ::torch::nn::Module {
 public:
  RMSNormImpl(std::int64_t dim, double eps, const Alloc& a = {});
  at::Tensor forward(const at::Tensor& x);
  at::Tensor weight;
  double eps;
};
TTSEARCH_TORCH_MODULE(RMSNorm);

class AttentionImpl : public ::torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& c, const Alloc& a);
  /// x [B,T,H]; cos/sin [B,T,rotary_dim]; allowed [B,1,T,S] bool. Appends to `kv` when given;
  /// also reads `shared_kv` (this layer of `shared`) before the row's own keys when given.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& allowed, LayerKV* kv,
                     const SharedPrefix* shared = nullptr, const LayerKV* shared_kv = nullptr);
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  std::int64_t heads, kv_heads, head_dim, rotary_dim;
};
TTSEARCH_TORCH_MODULE(Attention);

class MlpImpl : public ::torch::nn::Module {
 public:
  MlpImpl(const ModelConfig& c, const Alloc& a);
  at::Tensor forward(const at::Tensor& x);
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TTSEARCH_TORCH_MODULE(Mlp);

class DecoderLayerImpl : public ::torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& c, const Alloc& a);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& allowed, LayerKV* kv,
                     const SharedPrefix* shared = nullptr, const LayerKV* shared_kv = nullptr);
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
};
TTSEARCH_TORCH_MODULE(DecoderLayer);

class BackboneImpl : public ::torch::nn::Module {
 public:
  BackboneImpl(const ModelConfig& c, const Alloc& a);
  Embedding embed_tokens{nullptr};
  ::torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TTSEARCH_TORCH_MODULE(Backbone);

/// A value head as trl / Skywork save it: "v_head.summary" = Linear(H, 1) with bias.
class ValueHeadImpl : public ::torch::nn::Module {
 public:
  ValueHeadImpl(std::int64_t hidden, const Alloc& a) : summary(register_module("summary", Linear(hidden, 1, true, a))) {}
  Linear summary;
};
TTSEARCH_TORCH_MODULE(ValueHead);

/// The whole model: "model.*" backbone plus the head the config names (lm_head, or the PRM /
/// classifier "score" head).
class TransformerImpl : public ::torch::nn::Module {
 public:
  /// The model for `c`, its weights made by `a` (default: fp32 on the CPU, initialised).
  explicit TransformerImpl(const ModelConfig& c, const Alloc& a = {});
  /// ids, positions [B,T] int64; key_mask [B, past + T] bool (false = padding). Returns the final
  /// hidden states [B,T,H] (after model.norm). Appends this step's keys and values to `cache`.
  at::Tensor hidden(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& key_mask, KVCache* cache);
  /// lm_head over hidden states [..., H] -> [..., V] in fp32.
  at::Tensor lm_logits(const at::Tensor& hidden);
  /// The score head over hidden states [..., H] -> [..., num_labels] in fp32.
  at::Tensor score_logits(const at::Tensor& hidden);

  ModelConfig config;
  Backbone model{nullptr};
  Linear lm_head{nullptr};
  ::torch::nn::Sequential score{nullptr};       // PRM: Linear(H,H), ReLU, Linear(H,labels)
  Linear score_linear{nullptr};                 // sequence classification: Linear(H,labels) without bias
  ValueHead v_head{nullptr};                    // value-head PRM: v_head.summary
  at::Tensor inv_freq;                          // [rotary_dim/2] fp32
};
TTSEARCH_TORCH_MODULE(Transformer);

/// Copies every parameter of `m` from `ckpt` (folder `dir`, named in errors), except those `skip`
/// accepts: lm_head from the embedding when tied and absent, shapes checked, F32/BF16/F16 converted
/// (only F32 when `f32_only`). Throws InvalidArgument naming the tensor.
void copy_weights(Transformer& m, const Checkpoint& ckpt, const std::string& dir,
                  const std::function<bool(std::string_view)>& skip = {}, bool f32_only = false);

/// Every parameter the model for `c` has, with its shape, in the model's order, computed without
/// allocating a weight (one layer is built on the meta device, then repeated by name).
std::vector<std::pair<std::string, std::vector<std::int64_t>>> expected_parameters(const ModelConfig& c);
/// Checks that checkpoint `ckpt` (folder `dir`) has every parameter of the model for `c` with the
/// shape the config implies and a float dtype, before anything is allocated: a config that does
/// not fit its weights (hidden_size 10^9, 10^6 layers) is an InvalidArgument naming the first
/// tensor that differs, not an allocation failure or an hour of random initialisation.
/// Parameters `skip` accepts are not checked (a new head the caller initialises itself).
void check_checkpoint(const ModelConfig& c, const Checkpoint& ckpt, const std::string& dir,
                      const std::function<bool(std::string_view)>& skip = {});
/// Checks the checkpoint folder `dir` against `c` (check_checkpoint), then builds the model once
/// in `dtype` on `device` without initialising it and copies every parameter in (F32/BF16/F16
/// converted). Throws naming the tensor.
Transformer load_transformer(const std::string& dir, const ModelConfig& c, at::ScalarType dtype, const at::Device& device);

at::ScalarType parse_scalar_type(const std::string& name);

/// The device of a spec ("cpu", "cuda", "cuda:N"), checked to exist.
at::Device parse_device_spec(const std::string& spec);

/// A model folder's config and weights on the device and dtype asked for.
struct LoadedModel {
  ModelConfig config;
  Transformer model{nullptr};
  at::Device device{at::kCPU};
};
/// `head`, when set, replaces the head the config's architecture implies (a value-head PRM saved
/// with a *ForCausalLM architecture string).
LoadedModel load_model(const std::string& dir, const std::string& device, const std::string& dtype,
                       std::optional<ModelHead> head = std::nullopt);

}  // namespace ttsearch::torch::detail
