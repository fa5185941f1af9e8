#include "model.hpp"

#include <algorithm>
#include <cstring>

#include "ttsearch/core/error.hpp"
#include "ttsearch/torch/safetensors.hpp"

namespace ttsearch::torch::detail {

namespace nn = ::torch::nn;

LinearImpl::LinearImpl(std::int64_t in, std::int64_t out, bool has_bias, const Alloc& a) {
  weight = register_parameter("weight", at::empty({out, in}, a.options));
  if (has_bias) bias = register_parameter("bias", at::empty({out}, a.options));
  if (a.init) {  // nn::Linear::reset_parameters
    ::torch::NoGradGuard no_grad;
    ::torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
    if (has_bias) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      ::torch::nn::init::uniform_(bias, -bound, bound);
    }
  }
}

EmbeddingImpl::EmbeddingImpl(std::int64_t num, std::int64_t dim, const Alloc& a) {
  weight = register_parameter("weight", at::empty({num, dim}, a.options));
  if (a.init) {  // nn::Embedding::reset_parameters
    ::torch::NoGradGuard no_grad;
    ::torch::nn::init::normal_(weight);
  }
}

RMSNormImpl::RMSNormImpl(std::int64_t dim, double e, const Alloc& a) : eps(e) {
  weight = register_parameter("weight", a.init ? at::ones({dim}, a.options) : at::empty({dim}, a.options));
}

at::Tensor RMSNormImpl::forward(const at::Tensor& x) {
  const auto dtype = x.scalar_type();
  auto h = x.to(at::kFloat);
  h = h * at::rsqrt(h.pow(2).mean(-1, true) + eps);
  return h.to(dtype) * weight;  // cast back, then scale (HF order)
}

AttentionImpl::AttentionImpl(const ModelConfig& c, const Alloc& a)
    : heads(c.num_attention_heads), kv_heads(c.num_key_value_heads), head_dim(c.head_dim), rotary_dim(c.rotary_dim()) {
  q_proj = register_module("q_proj", Linear(c.hidden_size, heads * head_dim, c.qkv_bias, a));
  k_proj = register_module("k_proj", Linear(c.hidden_size, kv_heads * head_dim, c.qkv_bias, a));
  v_proj = register_module("v_proj", Linear(c.hidden_size, kv_heads * head_dim, c.qkv_bias, a));
  o_proj = register_module("o_proj", Linear(heads * head_dim, c.hidden_size, c.o_bias, a));
}

namespace {

/// Half-split ("NeoX") rotation of the first rotary_dim features: x*cos + rotate_half(x)*sin.
at::Tensor rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, std::int64_t rotary_dim) {
  const auto rot = x.narrow(-1, 0, rotary_dim);
  const auto half = rotary_dim / 2;
  const auto rotated = at::cat({-rot.narrow(-1, half, half), rot.narrow(-1, 0, half)}, -1);
  auto out = rot * cos + rotated * sin;
  if (rotary_dim == x.size(-1)) return out;
  return at::cat({out, x.narrow(-1, rotary_dim, x.size(-1) - rotary_dim)}, -1);
}

}  // namespace

at::Tensor AttentionImpl::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& allowed,
                                  LayerKV* kv, const SharedPrefix* shared, const LayerKV* shared_kv) {
  const auto B = x.size(0), T = x.size(1);
  auto q = q_proj(x).view({B, T, heads, head_dim}).transpose(1, 2);
  auto k = k_proj(x).view({B, T, kv_heads, head_dim}).transpose(1, 2);
  auto v = v_proj(x).view({B, T, kv_heads, head_dim}).transpose(1, 2);
  const auto c = cos.unsqueeze(1), s = sin.unsqueeze(1);  // [B,1,T,rd]
  q = rope(q, c, s, rotary_dim);
  k = rope(k, c, s, rotary_dim);
  if (kv) {
    if (kv->k.defined() && kv->used >= 0) {  // preallocated: write in place
      TTSEARCH_CHECK(kv->used + T <= kv->k.size(2), "KV cache: {} + {} positions exceed the {} reserved", kv->used, T, kv->k.size(2));
      kv->k.narrow(2, kv->used, T).copy_(k);
      kv->v.narrow(2, kv->used, T).copy_(v);
      kv->used += T;
      k = kv->k.narrow(2, 0, kv->used);
      v = kv->v.narrow(2, 0, kv->used);
    } else {
      if (kv->k.defined()) {
        k = at::cat({kv->k, k}, 2);
        v = at::cat({kv->v, v}, 2);
      } else {  // stored contiguous, once: every later step reads them in place (3-D views below)
        k = k.contiguous();
        v = v.contiguous();
      }
      kv->k = k;
      kv->v = v;
    }
  }
  // GQA without copying keys: query head h = j * rep + r reads kv head j, so the queries are viewed
  // as [B, kv_heads, rep * T, head_dim] against [B, kv_heads, S, head_dim]
  // Every product reads the keys and values where they are, in their storage dtype: bf16 / fp16
  // products accumulate in fp32 inside the kernel (as HF's eager attention does), and the scores
  // are fp32 for the mask and the softmax. No copy of the keys or values, above all of the shared
  // prefix, in any layer at any step: bmm on 3-D views (at::matmul on 4-D operands cloned one
  // while folding the batch dimensions; an fp32 conversion copied them in bf16).
  const auto rep = heads / kv_heads;
  const auto S = k.size(2);
  const auto q4 = q.reshape({B, kv_heads, rep * T, head_dim});
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  // [B,kvh,rep,T,S]
  auto scores = at::bmm(q4.reshape({B * kv_heads, rep * T, head_dim}), k.reshape({B * kv_heads, S, head_dim}).transpose(1, 2))
                    .to(at::kFloat).view({B, kv_heads, rep, T, S});
  auto mask = allowed.unsqueeze(2);                                                                   // [B,1,1,T,S]
  std::int64_t P = 0;
  const auto G = shared ? shared->groups() : 0, slots = shared ? shared->slots : 0;
  // a group's rows stacked: [G, kvh, slots * rep * T, hd] (empty slots read a zero query)
  auto to_groups = [&](const at::Tensor& rows /*[B,kvh,rep*T,X]*/) {
    const auto X = rows.size(-1);
    const auto padded = at::cat({rows, at::zeros({1, kv_heads, rep * T, X}, rows.options())}).index_select(0, shared->pad_index);
    return padded.view({G, slots, kv_heads, rep * T, X}).permute({0, 2, 1, 3, 4}).reshape({G, kv_heads, slots * rep * T, X});
  };
  auto to_rows = [&](const at::Tensor& groups /*[G,kvh,slots*rep*T,X]*/) {
    const auto X = groups.size(-1);
    return groups.view({G, kv_heads, slots, rep * T, X}).permute({0, 2, 1, 3, 4}).reshape({G * slots, kv_heads, rep * T, X})
        .index_select(0, shared->row_slot);
  };
  if (shared) {
    P = shared_kv->k.size(2);
    const auto qg = to_groups(q4).reshape({G * kv_heads, slots * rep * T, head_dim});
    const auto sg = at::bmm(qg, shared_kv->k.reshape({G * kv_heads, P, head_dim}).transpose(1, 2));
    const auto s = to_rows(sg.view({G, kv_heads, slots * rep * T, P}).to(at::kFloat));  // [B,kvh,rep*T,P]
    scores = at::cat({s.view({B, kv_heads, rep, T, P}), scores}, -1);
    mask = at::cat({shared->row_mask.view({B, 1, 1, 1, P}).expand({B, 1, 1, T, P}), mask}, -1);
  }
  scores = (scores * scale).masked_fill(mask.logical_not(), std::numeric_limits<float>::lowest());
  const auto probs = at::softmax(scores, -1).to(v.scalar_type());
  const auto own = probs.narrow(-1, P, S).reshape({B * kv_heads, rep * T, S});
  auto out = at::bmm(own, v.reshape({B * kv_heads, S, head_dim})).view({B, kv_heads, rep * T, head_dim});
  if (shared) {
    const auto ps = probs.narrow(-1, 0, P).reshape({B, kv_heads, rep * T, P});
    auto grouped = at::zeros({G * slots + 1, kv_heads, rep * T, P}, ps.options());
    grouped.index_copy_(0, shared->row_slot, ps);
    const auto stacked = grouped.narrow(0, 0, G * slots).view({G, slots, kv_heads, rep * T, P}).permute({0, 2, 1, 3, 4})
                             .reshape({G * kv_heads, slots * rep * T, P});
    const auto og = at::bmm(stacked, shared_kv->v.reshape({G * kv_heads, P, head_dim}));
    out = out + to_rows(og.view({G, kv_heads, slots * rep * T, head_dim}));
  }
  return o_proj(out.view({B, kv_heads, rep, T, head_dim}).permute({0, 3, 1, 2, 4}).reshape({B, T, heads * head_dim}));
}

void SharedPrefix::set_groups(std::vector<std::int64_t> group_of_row, const at::Device& device) {
  group = std::move(group_of_row);
  const auto B = static_cast<std::int64_t>(group.size()), G = groups();
  std::vector<std::int64_t> count(static_cast<std::size_t>(G), 0);
  for (const auto g : group) {
    TTSEARCH_CHECK(g >= 0 && g < G, "shared prefix: group {} of {}", g, G);
    ++count[static_cast<std::size_t>(g)];
  }
  slots = std::max<std::int64_t>(1, *std::max_element(count.begin(), count.end()));
  std::vector<std::int64_t> pad(static_cast<std::size_t>(G * slots), B), slot_of(static_cast<std::size_t>(B));
  std::fill(count.begin(), count.end(), 0);
  for (std::int64_t b = 0; b < B; ++b) {
    const auto g = group[static_cast<std::size_t>(b)];
    const auto at = g * slots + count[static_cast<std::size_t>(g)]++;
    pad[static_cast<std::size_t>(at)] = b;
    slot_of[static_cast<std::size_t>(b)] = at;
  }
  pad_index = at::tensor(pad, at::kLong).to(device);
  row_slot = at::tensor(slot_of, at::kLong).to(device);
  row_mask = mask.index_select(0, at::tensor(group, at::kLong).to(device));
}

void SharedPrefix::select_rows(const std::vector<std::int64_t>& rows, const at::Device& device) {
  std::vector<std::int64_t> kept;
  for (const auto r : rows) kept.push_back(group.at(static_cast<std::size_t>(r)));
  set_groups(std::move(kept), device);
}

void KVCache::reserve(std::int64_t extra) {
  for (auto& l : layers) {
    if (!l.k.defined()) continue;
    const auto len = l.length();
    if (l.used >= 0 && l.k.size(2) >= len + extra) continue;
    auto sizes = l.k.sizes().vec();
    sizes[2] = len + extra;
    auto k = at::empty(sizes, l.k.options()), v = at::empty(sizes, l.v.options());
    k.narrow(2, 0, len).copy_(l.k.narrow(2, 0, len));
    v.narrow(2, 0, len).copy_(l.v.narrow(2, 0, len));
    l.k = k;
    l.v = v;
    l.used = len;
  }
}

void KVCache::select_rows(const std::vector<std::int64_t>& host_rows, const at::Device& device) {
  const auto rows = at::tensor(host_rows, at::kLong).to(device);
  if (shared) shared->select_rows(host_rows, device);
  for (auto& l : layers) {
    if (!l.k.defined()) continue;
    l.k = l.k.index_select(0, rows);
    l.v = l.v.index_select(0, rows);
  }
}

MlpImpl::MlpImpl(const ModelConfig& c, const Alloc& a) {
  gate_proj = register_module("gate_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias, a));
  up_proj = register_module("up_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias, a));
  down_proj = register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, c.mlp_bias, a));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) { return down_proj(at::silu(gate_proj(x)) * up_proj(x)); }

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c, const Alloc& a) {
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, a));
  self_attn = register_module("self_attn", Attention(c, a));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, a));
  mlp = register_module("mlp", Mlp(c, a));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& allowed,
                                     LayerKV* kv, const SharedPrefix* shared, const LayerKV* shared_kv) {
  const auto h = x + self_attn(input_layernorm(x), cos, sin, allowed, kv, shared, shared_kv);
  return h + mlp(post_attention_layernorm(h));
}

BackboneImpl::BackboneImpl(const ModelConfig& c, const Alloc& a) {
  embed_tokens = register_module("embed_tokens", Embedding(c.vocab_size, c.hidden_size, a));
  layers = register_module("layers", nn::ModuleList());
  for (std::int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c, a));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps, a));
}

TransformerImpl::TransformerImpl(const ModelConfig& c, const Alloc& a) : config(c) {
  model = register_module("model", Backbone(c, a));
  switch (c.head) {
    case ModelHead::kCausalLM: lm_head = register_module("lm_head", Linear(c.hidden_size, c.vocab_size, false, a)); break;
    case ModelHead::kProcessReward:
      score = register_module("score", nn::Sequential(Linear(c.hidden_size, c.hidden_size, true, a), nn::ReLU(),
                                                      Linear(c.hidden_size, c.num_labels, true, a)));
      break;
    case ModelHead::kSequenceClassification:
      score_linear = register_module("score", Linear(c.hidden_size, c.num_labels, false, a));
      break;
    case ModelHead::kValueHead: v_head = register_module("v_head", ValueHead(c.hidden_size, a)); break;
  }
  if (a.options.device().is_meta()) return;  // a shape-only model (expected_parameters) needs no RoPE table
  const auto f = rope_inv_freq(c);
  // a plain member, not a buffer: Module::to(dtype) must not round the RoPE frequencies
  inv_freq = at::tensor(std::vector<float>(f.begin(), f.end()), at::kFloat).to(a.options.device());
}

at::Tensor TransformerImpl::hidden(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& key_mask, KVCache* cache) {
  const auto B = ids.size(0), T = ids.size(1);
  const auto past = cache ? cache->length() : 0;
  TTSEARCH_CHECK(key_mask.size(0) == B && key_mask.size(1) == past + T, "key_mask must be [B, past + T] = [{}, {}]", B, past + T);
  auto x = model->embed_tokens(ids);
  // RoPE tables for these positions, in fp32, then cast to the activation dtype
  const auto freqs = positions.to(at::kFloat).unsqueeze(-1) * inv_freq.to(positions.device());  // [B,T,rd/2]
  const auto emb = at::cat({freqs, freqs}, -1);
  const auto cos = emb.cos().to(x.scalar_type()), sin = emb.sin().to(x.scalar_type());
  // query i sits at cache index past + i: it may read keys j <= past + i that are not padding
  const auto j = at::arange(past + T, ids.options().dtype(at::kLong));
  const auto i = at::arange(T, ids.options().dtype(at::kLong)).unsqueeze(-1) + past;
  const auto causal = j.unsqueeze(0) <= i;                                          // [T,S]
  const auto allowed = causal.unsqueeze(0).unsqueeze(0) & key_mask.to(at::kBool).unsqueeze(1).unsqueeze(1);  // [B,1,T,S]
  if (cache && cache->layers.empty()) cache->layers.resize(static_cast<std::size_t>(config.num_hidden_layers));
  for (std::size_t l = 0; l < model->layers->size(); ++l) {
    const SharedPrefix* shared = cache ? cache->shared.get() : nullptr;
    x = model->layers[l]->as<DecoderLayer>()->forward(x, cos, sin, allowed, cache ? &cache->layers[l] : nullptr, shared,
                                                      shared ? &shared->layers[l] : nullptr);
  }
  return model->norm(x);
}

at::Tensor TransformerImpl::lm_logits(const at::Tensor& h) {
  TTSEARCH_REQUIRE(lm_head, "this model ({}) has no language-model head", config.architecture);
  return lm_head(h).to(at::kFloat);
}

at::Tensor TransformerImpl::score_logits(const at::Tensor& h) {
  if (score) return score->forward(h).to(at::kFloat);
  if (v_head) return v_head->summary(h).to(at::kFloat);
  TTSEARCH_REQUIRE(score_linear, "this model ({}) has no score head", config.architecture);
  return score_linear(h).to(at::kFloat);
}

at::ScalarType parse_scalar_type(const std::string& name) {
  if (name == "float32" || name == "fp32") return at::kFloat;
  if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
  if (name == "float16" || name == "fp16") return at::kHalf;
  throw InvalidArgument(fmt::format("unknown dtype '{}' (expected float32, bfloat16 or float16)", name));
}

namespace {

at::Tensor to_tensor(const TensorView& t) {
  at::ScalarType st;
  switch (t.dtype) {
    case DType::kF32: st = at::kFloat; break;
    case DType::kBF16: st = at::kBFloat16; break;
    case DType::kF16: st = at::kHalf; break;
    case DType::kF64: st = at::kDouble; break;
    default: throw InvalidArgument(fmt::format("tensor \"{}\" has dtype {}, not a float type a weight can have", t.name, dtype_name(t.dtype)));
  }
  const auto opt = at::TensorOptions().dtype(st);
  // in place in the map when aligned (the caller copies it into the model); else a copy
  if (t.aligned && !t.bytes.empty()) return at::from_blob(const_cast<std::byte*>(t.bytes.data()), t.shape, opt);
  auto out = at::empty(t.shape, opt);
  if (!t.bytes.empty()) std::memcpy(out.data_ptr(), t.bytes.data(), t.bytes.size());
  return out;
}

bool is_weight_dtype(DType d) { return d == DType::kF32 || d == DType::kBF16 || d == DType::kF16 || d == DType::kF64; }

/// Calls `fn(name, shape)` for every parameter of the model for `c`, in order, building one layer
/// on the meta device (nothing allocated) and repeating it for every layer by name.
void for_each_expected(const ModelConfig& c, const std::function<void(const std::string&, const std::vector<std::int64_t>&)>& fn) {
  ModelConfig one = c;
  one.num_hidden_layers = std::min<std::int64_t>(c.num_hidden_layers, 1);
  const Transformer meta(one, Alloc{at::TensorOptions().dtype(at::kFloat).device(at::kMeta), false});
  const std::string layer0 = "model.layers.0.";
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> per_layer;
  bool layers_done = false;
  auto emit_layers = [&] {
    for (std::int64_t l = 0; l < c.num_hidden_layers; ++l) {
      const std::string prefix = fmt::format("model.layers.{}.", l);
      for (const auto& [rest, shape] : per_layer) fn(prefix + rest, shape);
    }
    layers_done = true;
  };
  for (const auto& p : meta->named_parameters(true)) {
    if (p.key().starts_with(layer0)) {
      per_layer.emplace_back(p.key().substr(layer0.size()), p.value().sizes().vec());
      continue;
    }
    if (!per_layer.empty() && !layers_done) emit_layers();
    fn(p.key(), p.value().sizes().vec());
  }
  if (!layers_done) emit_layers();
}

}  // namespace

std::vector<std::pair<std::string, std::vector<std::int64_t>>> expected_parameters(const ModelConfig& c) {
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> out;
  for_each_expected(c, [&](const std::string& name, const std::vector<std::int64_t>& shape) { out.emplace_back(name, shape); });
  return out;
}

void check_checkpoint(const ModelConfig& c, const Checkpoint& ckpt, const std::string& dir,
                      const std::function<bool(std::string_view)>& skip) {
  for_each_expected(c, [&](const std::string& expected, const std::vector<std::int64_t>& shape) {
    if (skip && skip(expected)) return;
    std::string name = expected;
    if (name == "lm_head.weight" && !ckpt.contains(name) && c.tie_word_embeddings) name = "model.embed_tokens.weight";
    if (!ckpt.contains(name)) {
      throw InvalidArgument(fmt::format("{}: the checkpoint has no tensor \"{}\"{}", dir, expected,
                                        expected.starts_with("model.layers.")
                                            ? fmt::format(" (config.json has num_hidden_layers {})", c.num_hidden_layers)
                                            : std::string{}));
    }
    const TensorView t = ckpt.get(name);
    if (!is_weight_dtype(t.dtype)) {
      throw InvalidArgument(fmt::format("{}: tensor \"{}\" has dtype {}, not a float type a weight can have", dir, name, dtype_name(t.dtype)));
    }
    if (t.shape != shape) {
      throw InvalidArgument(fmt::format("{}: tensor \"{}\" has shape [{}] but the config implies [{}]", dir, name, fmt::join(t.shape, ", "),
                                        fmt::join(shape, ", ")));
    }
  });
}

void copy_weights(Transformer& m, const Checkpoint& ckpt, const std::string& dir, const std::function<bool(std::string_view)>& skip,
                  bool f32_only) {
  ::torch::NoGradGuard no_grad;
  for (auto& p : m->named_parameters(true)) {
    if (skip && skip(p.key())) continue;
    std::string name = p.key();
    if (name == "lm_head.weight" && !ckpt.contains(name) && m->config.tie_word_embeddings) name = "model.embed_tokens.weight";
    if (!ckpt.contains(name)) throw InvalidArgument(fmt::format("{}: the checkpoint has no tensor \"{}\"", dir, p.key()));
    const TensorView t = ckpt.get(name);
    if (f32_only && t.dtype != DType::kF32) {
      throw InvalidArgument(fmt::format("{}: tensor \"{}\" is {}, training starts from F32 weights only", dir, name, dtype_name(t.dtype)));
    }
    if (t.shape != p.value().sizes().vec()) {
      throw InvalidArgument(fmt::format("{}: tensor \"{}\" has shape [{}] but the config implies [{}]", dir, name,
                                        fmt::join(t.shape, ", "), fmt::join(p.value().sizes().vec(), ", ")));
    }
    p.value().copy_(to_tensor(t));  // converts to the parameter's dtype and moves it to its device
  }
}

Transformer load_transformer(const std::string& dir, const ModelConfig& c, at::ScalarType dtype, const at::Device& device) {
  const Checkpoint ckpt = Checkpoint::open(dir);
  check_checkpoint(c, ckpt, dir);  // before a single weight is allocated
  Transformer m(c, Alloc{at::TensorOptions().dtype(dtype).device(device), /*init=*/false});
  copy_weights(m, ckpt, dir);
  m->eval();
  return m;
}

at::Device parse_device_spec(const std::string& spec) {
  const DeviceSpec d = resolve_device(spec);
  return d.kind == DeviceSpec::Kind::kCpu ? at::Device(at::kCPU) : at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(d.index));
}

LoadedModel load_model(const std::string& dir, const std::string& device, const std::string& dtype_name, std::optional<ModelHead> head) {
  LoadedModel l;
  l.config = load_model_config(dir);
  if (head && *head != l.config.head) {
    l.config.head = *head;
    l.config.num_labels = *head == ModelHead::kCausalLM ? 0 : *head == ModelHead::kProcessReward ? 2 : 1;
  }
  l.device = parse_device_spec(device);
  const auto dtype = parse_scalar_type(dtype_name);
  TTSEARCH_REQUIRE(!(dtype == at::kHalf && l.device.is_cpu()), "float16 is not supported on CPU by this libtorch; use bfloat16 or float32");
  l.model = load_transformer(dir, l.config, dtype, l.device);
  return l;
}

}  // namespace ttsearch::torch::detail
