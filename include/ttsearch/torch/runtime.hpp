#pragma once
/// The libtorch backends: TorchGenerator (a Generator) and TorchPRM (a Verifier) over Hugging Face
/// model folders. This header does not include libtorch.
///
/// TorchGenerator: the prompt is the model's chat template over [system?, user: question] with
///   the generation prompt (or the question itself with `raw_prompt`); a request's prefix is the
///   token ids of its steps (not re-tokenised text). All requests of a call decode together: one
///   batched prefill per distinct context (a request's samples share it: its keys and values are
///   computed once, and counted as cached prompt tokens), then one forward per token step for the
///   whole batch. A radix prefix cache keeps the keys and values of earlier calls' sequences, so a
///   context only prefills what no earlier call computed (tree search pays for new tokens, not for
///   depth); cached tokens are reported as cached_prompt_tokens. Sample i of a request draws from Rng(seed).split(i), so its tokens do not depend
///   on the rest of the batch. Stop strings are matched on the decoded text after every token, as
///   vLLM does: the step ends at the end of the stop string (or its start without
///   include_stop_in_output) even inside a token; EOS ids end it with finish "eos"; max_tokens,
///   or reaching the model's max_position_embeddings, with "length" (a context already at the limit
///   is an error). Each step's logprob is the summed log-probability of its tokens under the
///   model's own distribution (temperature 1, before top-k/top-p). Ids past the tokenizer's vocabulary (padded model vocabularies) are never sampled.
/// TorchPRM: by default the Qwen2.5-Math-PRM convention: chat template over [system: PRM prompt,
///   user: question, assistant: steps joined by the step tag (default "<extra_0>") with one after
///   the last], no generation prompt; each step's score is softmax(score head)[1] at its tag. Steps
///   are the path text split on "\n\n" (search-and-learn's convention). Also the "+"/"-" token-pair
///   convention of Math-Shepherd-style PRMs and outcome reward models (RewardConvention). With the
///   step-tag conventions a radix prefix cache keeps earlier paths' keys, values and step scores:
///   a path that extends a scored one costs only its new tokens (Scoring::tokens reports them).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ttsearch/core/concepts.hpp"
#include "ttsearch/core/rng.hpp"
#include "ttsearch/torch/model.hpp"

namespace ttsearch::torch {

/// Samples one token id from `logits` (fp32, one row) with the params' temperature / top-k /
/// top-p / min-p by the rule of cuda::sample_rows_cpu (include/ttsearch/cuda/sampling.hpp: ties at
/// the top-k / top-p boundary kept, inverse CDF in id order); temperature 0 is argmax (ties: lowest
/// id). Draws one number from `rng` when sampling. Throws InvalidArgument when the logits have no
/// distribution (NaN, +inf, all -inf).
std::int32_t sample_token(std::span<const float> logits, const SamplingParams& params, Rng& rng);

struct GeneratorOptions {
  LoadOptions load;
  std::optional<std::string> system_prompt;  ///< a system message (none: the template's default)
  bool raw_prompt = false;                    ///< no chat template: the prompt is the question text
  /// No chat template: the prompt is this text with "{question}" replaced by the question (e.g.
  /// "{question}\n\n" for the arithmetic models). Overrides raw_prompt.
  std::optional<std::string> prompt_format;
  /// Prefix cache across calls (radix tree keyed by token ids): keys and values of up to this many
  /// tokens are kept (least recently used evicted first); 0 turns it off.
  std::int64_t prefix_cache_tokens = 65536;
  /// A call whose batch would need more than this many cached token positions (sequences x
  /// longest length) fails with CapacityExceeded instead of exhausting memory.
  std::int64_t max_batch_tokens = 1 << 22;
};

/// A continuation to score: log p(continuation | prompt + prefix), token by token.
struct LogprobRequest {
  const Problem* problem = nullptr;
  PathView prefix;                          ///< the steps before the continuation
  std::string text;                         ///< the continuation (tokenised) ...
  std::vector<std::int32_t> token_ids = {};  ///< ... or its token ids (used when not empty)
};

struct LogprobResult {
  std::vector<std::int32_t> token_ids;
  std::vector<float> token_logprobs;  ///< log_softmax at temperature 1 over the sampled vocabulary
  double total = 0;                   ///< their sum (what Step::logprob is for a generated step)
};

class TorchGenerator {
 public:
  /// Loads a causal LM folder (config.json, weights, tokenizer.json, tokenizer_config.json).
  static TorchGenerator load(const std::string& dir, const GeneratorOptions& opt = {});
  TorchGenerator(TorchGenerator&&) noexcept;
  TorchGenerator& operator=(TorchGenerator&&) noexcept;
  ~TorchGenerator();

  Generation generate(std::span<const GenerateRequest> requests);
  /// Scores given continuations in one batched forward (the prompt and prefix served from the
  /// prefix cache when cached). Only the continuation positions' hidden states go through the LM
  /// head: on CUDA the fused LM-head log-prob kernel (fp32 weights) or the fused log-softmax +
  /// gather (bf16 / fp16), never [tokens, vocab] log-softmax output; on CPU libtorch in chunks.
  std::vector<LogprobResult> logprobs(std::span<const LogprobRequest> requests);
  /// The prompt token ids of a problem (what generate() puts before a request's prefix).
  [[nodiscard]] std::vector<std::int32_t> prompt_ids(const Problem& problem);
  /// Forgets every cached prefix (the next calls cost what a fresh generator's would).
  void clear_cache();

  struct Impl;

 private:
  explicit TorchGenerator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// How a reward model reads scores.
enum class RewardConvention : unsigned char {
  kQwenPrm,    ///< Qwen2ForProcessRewardModel: chat template, step tag after each step, softmax(score head)[1] at the tags
  kTokenPair,  ///< a causal LM (Math-Shepherd style): "{question} {step1} {tag}\n\n{step2} {tag}", P(good) = softmax over
               ///< the logits of the good and bad tokens at each tag (only those two LM-head rows are computed)
  kOutcome,    ///< a sequence classifier (ORM): chat template over question + answer; the score head at the last token
  kValueHead,  ///< Skywork-o1-Open-PRM (a causal LM plus v_head.summary): bos_token + question + "\n", then the answer split
               ///< on "\n", each piece's own tokens followed by the "\n" token; sigmoid(value) at those "\n" tokens (a blank
               ///< line is a piece too, so "\n\n" steps give two scores each, as in Skywork's reference code)
};

struct PrmOptions {
  LoadOptions load;
  RewardConvention convention = RewardConvention::kQwenPrm;
  std::string system_prompt = "Please reason step by step, and put your final answer within \\boxed{}.";
  /// kQwenPrm / kOutcome without a chat template: the input is this text with "{question}" replaced,
  /// then the steps (each followed by the tag) or the answer text. Unset: the model's chat template.
  std::optional<std::string> prompt_format;
  std::string step_tag = "<extra_0>";   ///< Math-Shepherd: "ки"; not used by kValueHead (always "\n")
  std::string step_separator = "\n\n";
  std::string good_token = "+";         ///< kTokenPair
  std::string bad_token = "-";          ///< kTokenPair
  /// Prefix cache (step-tag conventions): keys, values and step scores of up to this many tokens
  /// are kept, so a path extending a scored one is read from its first new token; 0 turns it off.
  std::int64_t prefix_cache_tokens = 65536;
  /// Paths are scored in batches of at most this many token positions (paths x longest path):
  /// bounds the attention matrices of one forward.
  std::int64_t max_batch_tokens = 32768;
};

class TorchPRM {
 public:
  /// Loads a reward-model folder for `opt.convention` (checks the head and the tokens it needs).
  static TorchPRM load(const std::string& dir, const PrmOptions& opt = {});
  TorchPRM(TorchPRM&&) noexcept;
  TorchPRM& operator=(TorchPRM&&) noexcept;
  ~TorchPRM();

  Scoring score(std::span<const ScoreRequest> requests);
  /// An upper bound of the verifier tokens score(requests) will charge: every token of every
  /// input (prompt, template, steps and tags), as if nothing were cached. The driver checks
  /// verifier-token budgets against it.
  std::int64_t estimate_tokens(std::span<const ScoreRequest> requests);
  /// Forgets every cached path (the next calls cost what a fresh PRM's would).
  void clear_cache();

  struct Impl;

 private:
  explicit TorchPRM(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

static_assert(Generator<TorchGenerator>);
static_assert(VerifierWithCost<TorchPRM>);

}  // namespace ttsearch::torch
