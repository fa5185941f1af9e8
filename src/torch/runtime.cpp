#include "ttsearch/torch/runtime.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <numeric>

#include <nlohmann/json.hpp>

#include "json_file.hpp"
#include "kernels.hpp"
#include "model.hpp"
#include "prefix_cache.hpp"
#include "ttsearch/core/confidence.hpp"
#include "ttsearch/core/error.hpp"
#include "ttsearch/torch/chat.hpp"
#include "ttsearch/torch/config.hpp"
#include "ttsearch/torch/tokenizer.hpp"

namespace ttsearch::torch {

// ------------------------------------------------------------------------------------------ sampler

namespace {

/// The kernel-side parameters of one row (the draw taken from `rng` only when sampling).
cuda::SampleRow sample_row(const SamplingParams& p, Rng& rng) {
  cuda::SampleRow row;
  row.temperature = static_cast<float>(p.temperature);
  row.top_k = p.top_k;
  row.top_p = static_cast<float>(p.top_p);
  row.min_p = static_cast<float>(p.min_p);
  row.uniform = p.temperature > 0.0 ? rng.uniform() : 0.0;
  return row;
}

}  // namespace

std::int32_t sample_token(std::span<const float> logits, const SamplingParams& p, Rng& rng) {
  TTSEARCH_REQUIRE(!logits.empty(), "sample_token: empty logits");
  const cuda::SampleRow row = sample_row(p, rng);
  std::int32_t token = -1;
  const auto n = static_cast<std::int64_t>(logits.size());
  cuda::sample_rows_cpu(logits.data(), cuda::ScalarType::kFloat32, 1, n, n, &row, &token, nullptr);
  TTSEARCH_REQUIRE(token >= 0, "sample_token: the logits have no distribution (NaN or +inf, or all -inf)");
  return token;
}

namespace {

/// `format` with every "{question}" replaced by `question`.
std::string format_prompt(const std::string& format, const std::string& question) {
  static constexpr std::string_view kSlot = "{question}";
  std::string out;
  std::size_t pos = 0;
  for (std::size_t hit; (hit = format.find(kSlot, pos)) != std::string::npos; pos = hit + kSlot.size()) {
    out.append(format, pos, hit - pos);
    out += question;
  }
  out.append(format, pos);
  return out;
}

/// A model folder as the backends need it: the model (config, weights, device) plus its tokenizer and chat template.
struct Loaded : detail::LoadedModel {
  std::optional<Tokenizer> tokenizer;
  std::optional<ChatTemplate> chat;
};

Loaded load_folder(const std::string& dir, const LoadOptions& opt, bool need_chat, std::optional<ModelHead> head = std::nullopt) {
  Loaded l;
  if (opt.tune_malloc) keep_freed_memory();
  static_cast<detail::LoadedModel&>(l) = detail::load_model(dir, opt.device, opt.dtype, head);
  const auto tok = std::filesystem::path(dir) / "tokenizer.json";
  l.tokenizer = Tokenizer::from_file(tok.string());
  TTSEARCH_REQUIRE(l.tokenizer->vocab_size() <= static_cast<std::size_t>(l.config.vocab_size),
                   "{}: the tokenizer has {} ids but the model only {}", dir, l.tokenizer->vocab_size(), l.config.vocab_size);
  if (need_chat) l.chat = load_chat_template(dir);
  return l;
}

/// A batched prefill that starts from cached prefixes: each context's longest cached prefix (at
/// most all but its last token) is the past, left-padded to the longest hit P; the uncached
/// suffixes are left-padded to S. `layers` entries of a match are keys/values; any further
/// entries (the PRM's per-position scores) are returned in `extra`.
struct Prefill {
  detail::KVCache cache;
  at::Tensor hidden;  ///< [R,S,H]
  at::Tensor mask;    ///< [R,P+S] key mask
  std::vector<detail::PrefixCache::Match> hits;
  std::int64_t P = 0, S = 0;
};

Prefill prefill_cached(detail::Transformer& model, detail::PrefixCache* pc, const std::vector<std::vector<std::int32_t>>& ctx,
                       const at::Device& dev, const std::vector<std::int64_t>* max_hit = nullptr) {
  Prefill f;
  const auto R = static_cast<std::int64_t>(ctx.size());
  const auto L = model->config.num_hidden_layers;
  f.hits.resize(ctx.size());
  for (std::size_t r = 0; r < ctx.size(); ++r) {
    const auto limit = max_hit ? (*max_hit)[r] : static_cast<std::int64_t>(ctx[r].size()) - 1;
    if (pc && limit > 0) f.hits[r] = pc->match(ctx[r], limit);
    f.P = std::max(f.P, f.hits[r].length);
    f.S = std::max(f.S, static_cast<std::int64_t>(ctx[r].size()) - f.hits[r].length);
  }
  std::vector<std::int64_t> sfx(static_cast<std::size_t>(R * f.S), 0), pos(sfx.size(), 0), sfx_mask(sfx.size(), 0),
      past_mask(static_cast<std::size_t>(R * f.P), 0);
  for (std::int64_t r = 0; r < R; ++r) {
    const auto& c = ctx[static_cast<std::size_t>(r)];
    const std::int64_t hit = f.hits[static_cast<std::size_t>(r)].length, len = static_cast<std::int64_t>(c.size()) - hit;
    for (std::int64_t j = 0; j < hit; ++j) past_mask[static_cast<std::size_t>(r * f.P + f.P - hit + j)] = 1;
    for (std::int64_t t = 0; t < len; ++t) {
      const auto k = static_cast<std::size_t>(r * f.S + f.S - len + t);
      sfx[k] = c[static_cast<std::size_t>(hit + t)];
      pos[k] = hit + t;
      sfx_mask[k] = 1;
    }
  }
  if (f.P > 0) {
    f.cache.layers.resize(static_cast<std::size_t>(L));
    for (std::int64_t l = 0; l < L; ++l) {
      at::Tensor k, v;
      for (std::int64_t r = 0; r < R; ++r) {
        const auto& h = f.hits[static_cast<std::size_t>(r)];
        if (h.length == 0) continue;
        if (!k.defined()) {
          k = at::zeros({R, h.k[0].size(0), f.P, h.k[0].size(2)}, h.k[static_cast<std::size_t>(l)].options());
          v = at::zeros_like(k);
        }
        k[r].narrow(1, f.P - h.length, h.length).copy_(h.k[static_cast<std::size_t>(l)]);
        v[r].narrow(1, f.P - h.length, h.length).copy_(h.v[static_cast<std::size_t>(l)]);
      }
      f.cache.layers[static_cast<std::size_t>(l)] = {k, v};
    }
  }
  auto to_bool = [&](const std::vector<std::int64_t>& m, std::int64_t cols) {
    return at::tensor(m, at::kLong).view({R, cols}).to(at::kBool).to(dev);
  };
  f.mask = to_bool(sfx_mask, f.S);
  if (f.P > 0) f.mask = at::cat({to_bool(past_mask, f.P), f.mask}, 1);
  f.hidden = model->hidden(at::tensor(sfx, at::kLong).view({R, f.S}).to(dev), at::tensor(pos, at::kLong).view({R, f.S}).to(dev), f.mask,
                           &f.cache);
  return f;
}

/// The keys and values of row `b` at its valid (unmasked) positions, per layer: its group's shared
/// prefix (when the cache has one) followed by the row's own positions.
void row_kv(const detail::KVCache& cache, const at::Tensor& mask_row, std::int64_t b, std::vector<at::Tensor>& k, std::vector<at::Tensor>& v) {
  const auto cols = mask_row.nonzero().squeeze(1);
  const detail::SharedPrefix* shared = cache.shared.get();
  const std::int64_t g = shared ? shared->group.at(static_cast<std::size_t>(b)) : 0;
  const at::Tensor shared_cols = shared ? shared->mask[g].nonzero().squeeze(1) : at::Tensor();
  for (std::size_t l = 0; l < cache.layers.size(); ++l) {
    auto lk = cache.layers[l].k[b].index_select(1, cols), lv = cache.layers[l].v[b].index_select(1, cols);
    if (shared) {
      lk = at::cat({shared->layers[l].k[g].index_select(1, shared_cols), lk}, 1);
      lv = at::cat({shared->layers[l].v[g].index_select(1, shared_cols), lv}, 1);
    }
    k.push_back(lk);
    v.push_back(lv);
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------ generator

struct TorchGenerator::Impl {
  Loaded m;
  GeneratorOptions opt;
  std::unique_ptr<detail::PrefixCache> cache;
  std::map<std::string, std::vector<std::int32_t>> prompt_cache;  // by problem id + question

  const std::vector<std::int32_t>& prompt(const Problem& p) {
    const std::string key = p.id + '\x1f' + p.question;
    if (auto it = prompt_cache.find(key); it != prompt_cache.end()) return it->second;
    std::string text;
    if (opt.prompt_format) {
      text = format_prompt(*opt.prompt_format, p.question);
    } else if (opt.raw_prompt) {
      text = p.question;
    } else {
      std::vector<ChatMessage> msgs;
      if (opt.system_prompt) msgs.push_back({"system", *opt.system_prompt});
      msgs.push_back({"user", p.question});
      text = render_chat(*m.chat, msgs, {.add_generation_prompt = true, .continue_final_message = false});
    }
    return prompt_cache.emplace(key, m.tokenizer->encode(text)).first->second;
  }
};

TorchGenerator::TorchGenerator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TorchGenerator::TorchGenerator(TorchGenerator&&) noexcept = default;
TorchGenerator& TorchGenerator::operator=(TorchGenerator&&) noexcept = default;
TorchGenerator::~TorchGenerator() = default;

TorchGenerator TorchGenerator::load(const std::string& dir, const GeneratorOptions& opt) {
  auto impl = std::make_unique<Impl>();
  impl->opt = opt;
  impl->m = load_folder(dir, opt.load, !opt.raw_prompt && !opt.prompt_format);
  TTSEARCH_REQUIRE(impl->m.config.head == ModelHead::kCausalLM, "{}: {} is not a causal language model", dir, impl->m.config.architecture);
  TTSEARCH_REQUIRE(opt.prefix_cache_tokens >= 0, "prefix_cache_tokens must be >= 0 (got {})", opt.prefix_cache_tokens);
  TTSEARCH_REQUIRE(opt.max_batch_tokens > 0, "max_batch_tokens must be > 0 (got {})", opt.max_batch_tokens);
  if (opt.prefix_cache_tokens > 0) impl->cache = std::make_unique<detail::PrefixCache>(opt.prefix_cache_tokens);
  return TorchGenerator(std::move(impl));
}

std::vector<std::int32_t> TorchGenerator::prompt_ids(const Problem& problem) { return impl_->prompt(problem); }

void TorchGenerator::clear_cache() {
  if (impl_->cache) impl_->cache = std::make_unique<detail::PrefixCache>(impl_->opt.prefix_cache_tokens);
}

namespace {

/// A request's context: prompt + the prefix's token ids (re-tokenised only when a step has none).
std::vector<std::int32_t> context_ids(TorchGenerator::Impl& g, const Problem* problem, const PathView& prefix, std::size_t r,
                                      const char* what) {
  TTSEARCH_REQUIRE(problem != nullptr, "{}: request {} has no problem", what, r);
  std::vector<std::int32_t> ctx = g.prompt(*problem);
  for (const Step& s : prefix) {
    const auto ids = s.token_ids.empty() ? g.m.tokenizer->encode(s.text) : s.token_ids;
    ctx.insert(ctx.end(), ids.begin(), ids.end());
  }
  TTSEARCH_REQUIRE(static_cast<std::int64_t>(ctx.size()) < g.m.config.max_position_embeddings,
                   "{}: context of {} tokens exceeds max_position_embeddings {}", what, ctx.size(), g.m.config.max_position_embeddings);
  return ctx;
}

}  // namespace

Generation TorchGenerator::generate(std::span<const GenerateRequest> requests) {
  Impl& g = *impl_;
  ::torch::InferenceMode guard;
  Generation out;
  out.outputs.resize(requests.size());
  if (requests.empty()) return out;
  std::vector<std::vector<std::int32_t>> ctx(requests.size());
  for (std::size_t r = 0; r < requests.size(); ++r) ctx[r] = context_ids(g, requests[r].problem, requests[r].prefix, r, "generate");
  // one batched prefill of every context's uncached suffix
  // a continuation stops at the model's context length (finish "length"), like vLLM's max_model_len
  std::vector<std::int64_t> cap(requests.size());
  for (std::size_t r = 0; r < requests.size(); ++r) {
    cap[r] = std::min(requests[r].params.max_tokens, g.m.config.max_position_embeddings - static_cast<std::int64_t>(ctx[r].size()));
  }
  std::int64_t longest_new = 0, samples = 0, S = 0;
  for (std::size_t r = 0; r < requests.size(); ++r) {
    longest_new = std::max(longest_new, cap[r]);
    samples += requests[r].num_samples;
    S = std::max<std::int64_t>(S, static_cast<std::int64_t>(ctx[r].size()));
  }
  if (samples * (S + longest_new) > g.opt.max_batch_tokens) {  // checked before any work, against the uncached worst case
    throw CapacityExceeded(fmt::format("generate: {} sequences x {} positions ({} context + {} new) exceed max_batch_tokens {}",
                                       samples, S + longest_new, S, longest_new, g.opt.max_batch_tokens));
  }
  const auto dev = g.m.device;
  Prefill pre = prefill_cached(g.m.model, g.cache.get(), ctx, dev);
  for (std::size_t r = 0; r < requests.size(); ++r) {
    const auto n = static_cast<std::int64_t>(ctx[r].size());
    out.usage.push_back({n * requests[r].num_samples, pre.hits[r].length + n * (requests[r].num_samples - 1)});
  }
  const at::Tensor& h = pre.hidden;
  const at::Tensor& prefill_mask = pre.mask;
  const auto first_logits = g.m.model->lm_logits(h.select(1, -1));  // [R,V], on the device
  // sequences: every sample of every request, sharing its request's cache rows
  struct Seq {
    std::size_t req;
    Rng rng;
    std::vector<std::int32_t> gen;
    std::string text;  // the exact bytes decoded so far (sanitised into the step text at the end)
    bool done = false;
    FinishReason finish = FinishReason::kLength;
    std::int64_t fed = 0;  // generated tokens whose keys and values are in the cache
    double logprob = 0;    // summed log-probability of the generated tokens (temperature 1)
    std::vector<float> token_logprobs, token_confidences;  // when the request asked for token confidence
    std::optional<ConfidenceWindow> window;                 // DeepConf-online early stop
  };
  std::vector<Seq> seqs;
  std::vector<std::int64_t> row_of;
  for (std::size_t r = 0; r < requests.size(); ++r) {
    for (std::int32_t i = 0; i < requests[r].num_samples; ++i) {
      seqs.push_back(Seq{r, Rng(requests[r].seed).split(static_cast<std::uint64_t>(i)), {}, {}, false, FinishReason::kLength, 0, 0.0, {}, {}, {}});
      const auto& params = requests[r].params;
      if (params.confidence_stop) seqs.back().window.emplace(*params.confidence_stop, params.confidence_window);
      row_of.push_back(static_cast<std::int64_t>(r));
    }
  }
  const auto index = at::tensor(row_of, at::kLong).to(g.m.device);
  // the prefill's keys and values stay one copy per request, read by all its samples as a shared
  // prefix (forking n samples copies nothing of it); each row caches only its own new tokens
  detail::KVCache cache;
  cache.shared = std::make_shared<detail::SharedPrefix>();
  cache.shared->layers = std::move(pre.cache.layers);
  for (auto& layer : cache.shared->layers) {  // a fresh prefill's keys are a transposed view: make them one block, once
    layer.k = layer.k.contiguous();
    layer.v = layer.v.contiguous();
  }
  cache.shared->mask = prefill_mask;
  cache.shared->set_groups(row_of, dev);
  for (const auto& layer : cache.shared->layers) {
    auto sizes = layer.k.sizes().vec();
    sizes[0] = static_cast<std::int64_t>(seqs.size());
    sizes[2] = 0;
    cache.layers.push_back({at::empty(sizes, layer.k.options()), at::empty(sizes, layer.v.options()), 0});
  }
  at::Tensor key_mask = at::empty({static_cast<std::int64_t>(seqs.size()), 0}, prefill_mask.options());
  const auto V = g.m.config.vocab_size;
  // model vocabularies are padded past the tokenizer (Qwen2.5: 151936 vs 151665): never sample an id without a token
  const auto sampled = static_cast<std::size_t>(std::min<std::int64_t>(V, static_cast<std::int64_t>(g.m.tokenizer->vocab_size())));
  const auto& eos = g.m.config.eos_token_ids;
  // appends a token to a sequence: EOS, stop strings on decoded text (vLLM), max_tokens
  auto push = [&](Seq& s, std::int32_t tok) {
    const auto& params = requests[s.req].params;
    s.gen.push_back(tok);
    if (std::find(eos.begin(), eos.end(), tok) != eos.end()) {  // the EOS token adds no text
      s.done = true;
      s.finish = FinishReason::kEos;
      return;
    }
    // byte-level decoding concatenates per-token bytes: append this token's instead of re-decoding the sequence
    const std::size_t before = s.text.size();
    s.text += g.m.tokenizer->decode(std::span<const std::int32_t>(&s.gen.back(), 1), true);
    for (const auto& stop : params.stop) {
      const std::size_t from = before + 1 >= stop.size() ? before + 1 - stop.size() : 0;
      const auto at = s.text.find(stop, std::min(from, s.text.size()));
      if (at != std::string::npos) {
        s.text.resize(params.include_stop_in_output ? at + stop.size() : at);
        s.done = true;
        s.finish = FinishReason::kStop;
        return;
      }
    }
    if (static_cast<std::int64_t>(s.gen.size()) >= cap[s.req]) {
      s.done = true;
      s.finish = FinishReason::kLength;
    }
  };
  // samples one token for each of `rows` (finished rows run greedy and are ignored); only the
  // ids and log-probs leave the device (the fused sampling kernel on CUDA)
  std::vector<cuda::SampleRow> row_params;
  std::vector<std::int32_t> row_tokens;
  std::vector<float> row_logprobs, row_confidences;
  // token confidence is computed only when some request asked for it, with the largest k asked
  // (each row's own k when they differ: rare, so one pass per distinct k)
  std::vector<std::int32_t> conf_ks;
  for (const auto& req : requests) {
    if (req.params.token_confidence && std::find(conf_ks.begin(), conf_ks.end(), req.params.confidence_topk) == conf_ks.end()) {
      conf_ks.push_back(req.params.confidence_topk);
    }
  }
  std::vector<float> conf_k;
  auto sample = [&](const at::Tensor& logits, std::span<Seq* const> rows) {
    row_params.resize(rows.size());
    row_tokens.resize(rows.size());
    row_logprobs.resize(rows.size());
    static const SamplingParams kGreedy{.temperature = 0.0};
    for (std::size_t b = 0; b < rows.size(); ++b) row_params[b] = sample_row(rows[b]->done ? kGreedy : requests[rows[b]->req].params, rows[b]->rng);
    detail::sample_rows(logits, static_cast<std::int64_t>(sampled), row_params, row_tokens, row_logprobs);
    row_confidences.assign(rows.size(), 0.0f);
    for (const std::int32_t k : conf_ks) {
      bool needed = false;
      for (const Seq* s : rows) needed = needed || (!s->done && requests[s->req].params.token_confidence && requests[s->req].params.confidence_topk == k);
      if (!needed) continue;
      conf_k.resize(rows.size());
      detail::token_confidences(logits, static_cast<std::int64_t>(sampled), k, conf_k);
      for (std::size_t b = 0; b < rows.size(); ++b) {
        if (requests[rows[b]->req].params.confidence_topk == k) row_confidences[b] = conf_k[b];
      }
    }
    for (std::size_t b = 0; b < rows.size(); ++b) {
      Seq& s = *rows[b];
      if (s.done) continue;
      TTSEARCH_REQUIRE(row_tokens[b] >= 0, "generate: the model's logits for a sample of request {} have no distribution "
                       "(NaN or +inf, or all -inf) after {} tokens", s.req, s.gen.size());
      s.logprob += row_logprobs[b];
      const bool confidence = requests[s.req].params.token_confidence;
      if (confidence) {
        s.token_logprobs.push_back(row_logprobs[b]);
        s.token_confidences.push_back(row_confidences[b]);
      }
      push(s, row_tokens[b]);
      if (!s.done && s.window && s.window->push(row_confidences[b])) {  // DeepConf-online: a full window below the threshold
        s.done = true;
        s.finish = FinishReason::kLowConfidence;
      }
    }
  };
  {
    std::vector<Seq*> all;
    for (auto& s : seqs) all.push_back(&s);
    sample(first_logits.index_select(0, index), all);
  }
  // keeps a sequence's keys and values (batch row `row`) for later calls: the next round of a tree
  // search extends these
  auto keep = [&](std::int64_t row, const Seq& s) {
    if (!g.cache) return;
    std::vector<std::int32_t> ids(ctx[s.req]);
    ids.insert(ids.end(), s.gen.begin(), s.gen.begin() + s.fed);
    std::vector<at::Tensor> k, v;
    row_kv(cache, key_mask[row], row, k, v);
    TTSEARCH_CHECK(static_cast<std::int64_t>(ids.size()) == k.front().size(1), "prefix cache: {} ids for {} cached positions", ids.size(),
                   k.front().size(1));
    g.cache->insert(ids, k, v);
  };
  // one forward per token step for the batch's unfinished rows; keys and values are appended in
  // place, and the batch is compacted when half its rows have finished
  cache.reserve(longest_new);
  std::vector<std::size_t> row_seq(seqs.size());
  std::iota(row_seq.begin(), row_seq.end(), std::size_t{0});
  for (;;) {
    std::size_t live_rows = 0;
    for (std::size_t i : row_seq) live_rows += !seqs[i].done;
    if (live_rows == 0) break;
    if (live_rows * 2 <= row_seq.size() && row_seq.size() >= 8) {
      std::vector<std::int64_t> kept;
      std::vector<std::size_t> next;
      for (std::size_t b = 0; b < row_seq.size(); ++b) {
        const Seq& s = seqs[row_seq[b]];
        if (s.done) {
          keep(static_cast<std::int64_t>(b), s);
        } else {
          kept.push_back(static_cast<std::int64_t>(b));
          next.push_back(row_seq[b]);
        }
      }
      cache.select_rows(kept, dev);
      key_mask = key_mask.index_select(0, at::tensor(kept, at::kLong).to(dev));
      row_seq = std::move(next);
    }
    const auto B = static_cast<std::int64_t>(row_seq.size());
    std::vector<std::int64_t> ids(static_cast<std::size_t>(B)), step_pos(static_cast<std::size_t>(B)), live(static_cast<std::size_t>(B));
    for (std::int64_t b = 0; b < B; ++b) {
      Seq& s = seqs[row_seq[static_cast<std::size_t>(b)]];
      ids[static_cast<std::size_t>(b)] = s.gen.back();
      step_pos[static_cast<std::size_t>(b)] = static_cast<std::int64_t>(ctx[s.req].size() + s.gen.size()) - 1;
      live[static_cast<std::size_t>(b)] = s.done ? 0 : 1;  // finished rows run along, masked out
      if (!s.done) ++s.fed;
    }
    key_mask = at::cat({key_mask, at::tensor(live, at::kLong).view({B, 1}).to(at::kBool).to(dev)}, 1);
    const auto hs = g.m.model->hidden(at::tensor(ids, at::kLong).view({B, 1}).to(dev),
                                      at::tensor(step_pos, at::kLong).view({B, 1}).to(dev), key_mask, &cache);
    std::vector<Seq*> rows(static_cast<std::size_t>(B));
    for (std::int64_t b = 0; b < B; ++b) rows[static_cast<std::size_t>(b)] = &seqs[row_seq[static_cast<std::size_t>(b)]];
    sample(g.m.model->lm_logits(hs.select(1, 0)), rows);
  }
  for (std::size_t b = 0; b < row_seq.size(); ++b) keep(static_cast<std::int64_t>(b), seqs[row_seq[b]]);
  for (auto& s : seqs) {
    Step step;
    step.text = sanitize_utf8(s.text);
    step.num_tokens = static_cast<std::int64_t>(s.gen.size());
    step.token_ids = std::move(s.gen);
    step.logprob = s.logprob;
    step.finish = s.finish;
    step.token_logprobs = std::move(s.token_logprobs);
    step.token_confidences = std::move(s.token_confidences);
    out.outputs[s.req].push_back(std::move(step));
  }
  return out;
}

std::vector<LogprobResult> TorchGenerator::logprobs(std::span<const LogprobRequest> requests) {
  Impl& g = *impl_;
  ::torch::InferenceMode guard;
  std::vector<LogprobResult> out(requests.size());
  if (requests.empty()) return out;
  std::vector<std::vector<std::int32_t>> seqs(requests.size());
  std::vector<std::int64_t> ctx_len(requests.size()), max_hit(requests.size());
  std::int64_t longest = 0;
  for (std::size_t r = 0; r < requests.size(); ++r) {
    const auto& req = requests[r];
    seqs[r] = context_ids(g, req.problem, req.prefix, r, "logprobs");
    ctx_len[r] = static_cast<std::int64_t>(seqs[r].size());
    out[r].token_ids = req.token_ids.empty() ? g.m.tokenizer->encode(req.text) : req.token_ids;
    TTSEARCH_REQUIRE(!out[r].token_ids.empty(), "logprobs: request {} has an empty continuation", r);
    for (const auto id : out[r].token_ids) {
      TTSEARCH_REQUIRE(id >= 0 && static_cast<std::size_t>(id) < g.m.tokenizer->vocab_size(), "logprobs: request {}: token id {} is not in the vocabulary",
                       r, id);
    }
    seqs[r].insert(seqs[r].end(), out[r].token_ids.begin(), out[r].token_ids.end());
    TTSEARCH_REQUIRE(static_cast<std::int64_t>(seqs[r].size()) <= g.m.config.max_position_embeddings,
                     "logprobs: request {}: {} tokens exceed max_position_embeddings {}", r, seqs[r].size(), g.m.config.max_position_embeddings);
    max_hit[r] = ctx_len[r] - 1;  // the last context token must be computed: its hidden state predicts the first token
    longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(seqs[r].size()));
  }
  if (static_cast<std::int64_t>(requests.size()) * longest > g.opt.max_batch_tokens) {
    throw CapacityExceeded(fmt::format("logprobs: {} sequences x {} positions exceed max_batch_tokens {}", requests.size(), longest,
                                       g.opt.max_batch_tokens));
  }
  const auto dev = g.m.device;
  Prefill pre = prefill_cached(g.m.model, g.cache.get(), seqs, dev, &max_hit);
  // the hidden state at position t predicts token t + 1: rows ctx_len - 1 .. n - 2 of each sequence
  std::vector<std::int64_t> rows;
  std::vector<std::int32_t> targets;
  for (std::size_t r = 0; r < seqs.size(); ++r) {
    const auto n = static_cast<std::int64_t>(seqs[r].size()), hit = pre.hits[r].length;
    for (std::int64_t t = ctx_len[r] - 1; t + 1 < n; ++t) {
      rows.push_back(static_cast<std::int64_t>(r) * pre.S + pre.S - (n - hit) + (t - hit));
      targets.push_back(seqs[r][static_cast<std::size_t>(t + 1)]);
    }
  }
  const auto hidden = pre.hidden.reshape({-1, pre.hidden.size(-1)}).index_select(0, at::tensor(rows, at::kLong).to(dev));
  const auto vocab = std::min<std::int64_t>(g.m.config.vocab_size, static_cast<std::int64_t>(g.m.tokenizer->vocab_size()));
  const at::Tensor lp = detail::target_logprobs(hidden, g.m.model->lm_head->weight, vocab, targets);
  const auto host = lp.to(at::kFloat).contiguous().cpu();
  std::size_t k = 0;
  for (auto& res : out) {
    for (std::size_t i = 0; i < res.token_ids.size(); ++i, ++k) {
      res.token_logprobs.push_back(host.data_ptr<float>()[k]);
      res.total += res.token_logprobs.back();
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------ PRM

struct TorchPRM::Impl {
  Loaded m;
  PrmOptions opt;
  std::unique_ptr<detail::PrefixCache> cache;  // keys, values and each position's step score
  std::int32_t tag_id = -1, good_id = -1, bad_id = -1;
  std::string bos;  // kValueHead: the text every input starts with
};

TorchPRM::TorchPRM(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TorchPRM::TorchPRM(TorchPRM&&) noexcept = default;
TorchPRM& TorchPRM::operator=(TorchPRM&&) noexcept = default;
TorchPRM::~TorchPRM() = default;

TorchPRM TorchPRM::load(const std::string& dir, const PrmOptions& opt) {
  auto impl = std::make_unique<Impl>();
  impl->opt = opt;
  TTSEARCH_REQUIRE(opt.max_batch_tokens > 0, "max_batch_tokens must be > 0 (got {})", opt.max_batch_tokens);
  const bool value_head = opt.convention == RewardConvention::kValueHead;
  const bool chat = opt.convention != RewardConvention::kTokenPair && !value_head && !opt.prompt_format;
  std::optional<ModelHead> head;
  if (value_head && load_model_config(dir).head == ModelHead::kCausalLM) head = ModelHead::kValueHead;  // saved as *ForCausalLM
  impl->m = load_folder(dir, opt.load, chat, head);
  const ModelConfig& c = impl->m.config;
  const Tokenizer& tok = *impl->m.tokenizer;
  auto single = [&](const std::string& text, const char* what) {
    if (auto id = tok.token_to_id(text)) return *id;
    const auto ids = tok.encode(text);
    TTSEARCH_REQUIRE(!ids.empty(), "{}: the {} \"{}\" encodes to no token", dir, what, text);
    return ids.back();  // Math-Shepherd: encode("ки")[-1], encode("+")[-1]
  };
  switch (opt.convention) {
    case RewardConvention::kQwenPrm:
      TTSEARCH_REQUIRE(c.head == ModelHead::kProcessReward && c.num_labels == 2,
                       "{}: {} is not a two-label process reward model (Qwen2ForProcessRewardModel)", dir, c.architecture);
      TTSEARCH_REQUIRE(tok.token_to_id(opt.step_tag).has_value(), "{}: the step tag \"{}\" is not a token of the PRM's tokenizer", dir,
                       opt.step_tag);
      impl->tag_id = *tok.token_to_id(opt.step_tag);
      break;
    case RewardConvention::kTokenPair:
      TTSEARCH_REQUIRE(c.head == ModelHead::kCausalLM, "{}: the token-pair convention needs a causal LM, not {}", dir, c.architecture);
      impl->tag_id = single(opt.step_tag, "step tag");
      impl->good_id = single(opt.good_token, "good token");
      impl->bad_id = single(opt.bad_token, "bad token");
      TTSEARCH_REQUIRE(impl->good_id != impl->bad_id, "{}: the good and bad tokens are the same id {}", dir, impl->good_id);
      break;
    case RewardConvention::kOutcome:
      TTSEARCH_REQUIRE(c.head == ModelHead::kSequenceClassification && c.num_labels == 1,
                       "{}: {} is not a one-label sequence classifier (an outcome reward model)", dir, c.architecture);
      break;
    case RewardConvention::kValueHead: {
      TTSEARCH_REQUIRE(c.head == ModelHead::kValueHead, "{}: {} has no value head (v_head.summary)", dir, c.architecture);
      impl->tag_id = single("\n", "step token");  // Skywork: encode("\n")[-1]
      const auto path = std::filesystem::path(dir) / "tokenizer_config.json";
      const nlohmann::json j = detail::read_json_file(path);
      const auto b = j.contains("bos_token") ? j["bos_token"] : nlohmann::json();
      if (b.is_string()) impl->bos = b.get<std::string>();
      if (b.is_object() && b.contains("content") && b["content"].is_string()) impl->bos = b["content"].get<std::string>();
      TTSEARCH_REQUIRE(!impl->bos.empty(), "{}: bos_token is not set; the value-head (Skywork) convention starts every input with it",
                       path.string());
      break;
    }
  }
  TTSEARCH_REQUIRE(opt.prefix_cache_tokens >= 0, "prefix_cache_tokens must be >= 0 (got {})", opt.prefix_cache_tokens);
  if (opt.prefix_cache_tokens > 0 && opt.convention != RewardConvention::kOutcome) {
    impl->cache = std::make_unique<detail::PrefixCache>(opt.prefix_cache_tokens);
  }
  return TorchPRM(std::move(impl));
}

namespace {

/// The token ids the PRM reads for each request (cut after the last tag for the step-tag
/// conventions) and the positions whose score is read.
void prm_inputs(const TorchPRM::Impl& p, std::span<const ScoreRequest> requests, std::vector<std::vector<std::int32_t>>& seqs,
                std::vector<std::vector<char>>& flagged) {
  for (const auto& req : requests) {
    TTSEARCH_REQUIRE(req.problem != nullptr, "score: a request has no problem");
    if (p.opt.convention == RewardConvention::kValueHead) {  // Skywork: token by token, a flag on each piece's "\n"
      auto& sq = seqs.emplace_back(p.m.tokenizer->encode(p.bos + req.problem->question + "\n"));
      auto& fl = flagged.emplace_back(sq.size(), 0);
      const std::string text = req.path.text();
      for (std::size_t start = 0;;) {
        const std::size_t e = text.find('\n', start);
        const auto piece = p.m.tokenizer->encode(text.substr(start, e == std::string::npos ? std::string::npos : e - start));
        sq.insert(sq.end(), piece.begin(), piece.end());
        sq.push_back(p.tag_id);
        fl.resize(sq.size(), 0);
        fl.back() = 1;
        if (e == std::string::npos) break;
        start = e + 1;
      }
      continue;
    }
    // steps: the path text split on the separator; empty pieces dropped
    const std::string text = req.path.text();
    std::vector<std::string> steps;
    std::size_t start = 0;
    while (start < text.size()) {
      const std::size_t e = text.find(p.opt.step_separator, start);
      std::string piece = text.substr(start, e == std::string::npos ? std::string::npos : e - start);
      if (!piece.empty()) steps.push_back(std::move(piece));
      if (e == std::string::npos) break;
      start = e + p.opt.step_separator.size();
    }
    std::string input;
    if (p.opt.convention == RewardConvention::kTokenPair) {
      // Math-Shepherd: "{question} {step1} {tag}\n\n{step2} {tag}" (the tag after every step)
      input = req.problem->question + " ";
      for (std::size_t i = 0; i < steps.size(); ++i) input += steps[i] + " " + p.opt.step_tag + (i + 1 < steps.size() ? p.opt.step_separator : "");
      if (steps.empty()) input += p.opt.step_tag;
    } else {
      std::string answer;
      if (p.opt.convention == RewardConvention::kQwenPrm) {
        for (const auto& st : steps) answer += st + p.opt.step_tag;
        if (answer.empty()) answer = p.opt.step_tag;  // an empty path: score the question alone
      } else {
        answer = text;
      }
      if (p.opt.prompt_format) {
        input = format_prompt(*p.opt.prompt_format, req.problem->question) + answer;
      } else {
        const std::vector<ChatMessage> msgs{{"system", p.opt.system_prompt}, {"user", req.problem->question}, {"assistant", answer}};
        input = render_chat(*p.m.chat, msgs, {.add_generation_prompt = false, .continue_final_message = false});
      }
    }
    seqs.push_back(p.m.tokenizer->encode(input));
    flagged.emplace_back(seqs.back().size(), 0);
    for (std::size_t t = 0; t < seqs.back().size(); ++t) flagged.back()[t] = seqs.back()[t] == p.tag_id;
  }
  const bool tags = p.opt.convention != RewardConvention::kOutcome;
  const std::size_t R = seqs.size();
  if (tags) {  // nothing after the last tag changes a score (causal): cut there, so a path's input prefixes its extensions'
    for (std::size_t r = 0; r < R; ++r) {
      auto& sq = seqs[r];
      const auto last = std::find(flagged[r].rbegin(), flagged[r].rend(), 1);
      if (last == flagged[r].rend()) {
        throw InvalidArgument(fmt::format("score: path {}: the step tag \"{}\" (id {}) does not occur in the tokenised input "
                                          "(the tokenizer merges it with its neighbours); choose a tag that is a single token",
                                          r, p.opt.step_tag, p.tag_id));
      }
      sq.resize(static_cast<std::size_t>(flagged[r].rend() - last));
    }
  }
}

/// Scores one chunk of requests in one batched forward.
Scoring score_chunk(TorchPRM::Impl& p, std::span<const ScoreRequest> requests) {
  ::torch::InferenceMode guard;
  Scoring out;
  if (requests.empty()) return out;
  std::vector<std::vector<std::int32_t>> seqs;
  std::vector<std::vector<char>> flagged;  // the positions whose score is read
  prm_inputs(p, requests, seqs, flagged);
  const bool tags = p.opt.convention != RewardConvention::kOutcome;
  const std::size_t R = seqs.size();
  const auto dev = p.m.device;
  Prefill pre = prefill_cached(p.m.model, p.cache.get(), seqs, dev);
  const auto S = pre.S;
  const auto L = static_cast<std::size_t>(p.m.config.num_hidden_layers);
  // read only what is needed: the hidden states at the new tags (or the last token), then the
  // head, or just the two LM-head rows of the token pair (never [B, L, vocab] logits)
  std::vector<std::int64_t> flat;
  std::vector<std::pair<std::size_t, std::size_t>> where;  // (path, position)
  for (std::size_t r = 0; r < R; ++r) {
    const auto n = static_cast<std::int64_t>(seqs[r].size()), hit = pre.hits[r].length;
    const auto column = [&](std::int64_t t) { return static_cast<std::int64_t>(r) * S + S - (n - hit) + (t - hit); };
    if (!tags) {
      flat.push_back(column(n - 1));
      where.emplace_back(r, static_cast<std::size_t>(n - 1));
      continue;
    }
    for (std::int64_t t = hit; t < n; ++t) {
      if (flagged[r][static_cast<std::size_t>(t)]) {
        flat.push_back(column(t));
        where.emplace_back(r, static_cast<std::size_t>(t));
      }
    }
  }
  std::vector<float> computed;
  if (!flat.empty()) {
    const auto picked = pre.hidden.reshape({static_cast<std::int64_t>(R) * S, -1}).index_select(0, at::tensor(flat, at::kLong).to(dev));
    at::Tensor values;
    switch (p.opt.convention) {
      case RewardConvention::kQwenPrm: {  // softmax(head)[1] = sigmoid(row 1 - row 0) of the head's last layer
        auto& head = *p.m.model->score;
        const auto last = head[2]->as<detail::Linear>();
        const auto inner = at::relu(head[0]->as<detail::Linear>()->forward(picked));
        const auto bias = last->bias.to(at::kFloat).cpu();
        values = detail::pair_scores(inner, last->weight[1], last->weight[0], bias[1].item<float>(), bias[0].item<float>());
        break;
      }
      case RewardConvention::kTokenPair: {  // P(good): only the two LM-head rows
        const auto& w = p.m.model->lm_head->weight;
        values = detail::pair_scores(picked, w[p.good_id], w[p.bad_id], 0.0f, 0.0f);
        break;
      }
      case RewardConvention::kOutcome: values = p.m.model->score_logits(picked).select(1, 0); break;
      case RewardConvention::kValueHead: values = at::sigmoid(p.m.model->score_logits(picked).select(1, 0)); break;
    }
    const auto cpu = values.contiguous().cpu();
    computed.assign(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
  }
  // every position's score: from the cache for the cached prefix, computed for the rest (NaN = not a tag)
  std::vector<std::vector<float>> at_pos(R);
  for (std::size_t r = 0; r < R; ++r) {
    at_pos[r].assign(seqs[r].size(), std::numeric_limits<float>::quiet_NaN());
    const auto& hit = pre.hits[r];
    if (hit.length > 0 && hit.k.size() > L) {
      const auto cached = hit.k[L].contiguous();
      std::copy(cached.data_ptr<float>(), cached.data_ptr<float>() + hit.length, at_pos[r].begin());
    }
  }
  for (std::size_t k = 0; k < where.size(); ++k) at_pos[where[k].first][where[k].second] = computed[k];
  out.scores.resize(R);
  for (std::size_t r = 0; r < R; ++r) {
    for (float v : at_pos[r]) if (!std::isnan(v)) out.scores[r].push_back(v);
    out.tokens.push_back(static_cast<std::int64_t>(seqs[r].size()) - pre.hits[r].length);  // tokens actually processed
    if (p.cache) {
      std::vector<at::Tensor> k, v;
      row_kv(pre.cache, pre.mask[static_cast<std::int64_t>(r)], static_cast<std::int64_t>(r), k, v);
      const auto scores = at::tensor(at_pos[r]).view({1, static_cast<std::int64_t>(seqs[r].size()), 1});
      k.push_back(scores);
      v.push_back(scores);
      p.cache->insert(seqs[r], k, v);
    }
  }
  return out;
}

}  // namespace

std::int64_t TorchPRM::estimate_tokens(std::span<const ScoreRequest> requests) {
  std::vector<std::vector<std::int32_t>> seqs;
  std::vector<std::vector<char>> flagged;
  prm_inputs(*impl_, requests, seqs, flagged);
  std::int64_t total = 0;
  for (const auto& sq : seqs) total += static_cast<std::int64_t>(sq.size());  // a cache hit only lowers it
  return total;
}

void TorchPRM::clear_cache() {
  if (impl_->cache) impl_->cache = std::make_unique<detail::PrefixCache>(impl_->opt.prefix_cache_tokens);
}

Scoring TorchPRM::score(std::span<const ScoreRequest> requests) {
  // chunks of at most max_batch_tokens (paths x longest path, estimated from the steps' token
  // counts): one huge batch would build attention matrices of paths x length^2 at once
  Scoring out;
  std::size_t begin = 0;
  while (begin < requests.size()) {
    std::size_t end = begin;
    std::int64_t longest = 0;
    while (end < requests.size()) {
      std::int64_t tokens = 64;  // the prompt and tags, roughly
      for (const Step& st : requests[end].path) tokens += st.num_tokens + 1;
      const std::int64_t l = std::max(longest, tokens);
      if (end > begin && l * static_cast<std::int64_t>(end - begin + 1) > impl_->opt.max_batch_tokens) break;
      longest = l;
      ++end;
    }
    Scoring part = score_chunk(*impl_, requests.subspan(begin, end - begin));
    for (auto& v : part.scores) out.scores.push_back(std::move(v));
    out.tokens.insert(out.tokens.end(), part.tokens.begin(), part.tokens.end());
    begin = end;
  }
  return out;
}

}  // namespace ttsearch::torch
