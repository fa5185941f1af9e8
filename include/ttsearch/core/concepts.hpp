#pragma once
/// The two backend concepts (DESIGN.md section 3).
///
/// Generator: extends many partial paths in ONE batched call. For each request it returns exactly
///   `num_samples` continuations, each at most `params.max_tokens` tokens. Continuations must be a
///   deterministic function of (problem, prefix, params, seed): never of what else is in the batch.
/// Verifier: scores many paths in ONE batched call. A process reward model returns one score per
///   step it sees (it may split a multi-step text itself, e.g. on "\n\n"); an outcome model returns
///   one score per path. Scores must be finite. Aggregation is the strategy's choice.
#include <concepts>
#include <cstdint>
#include <span>
#include <vector>

#include "ttsearch/core/tree.hpp"
#include "ttsearch/core/types.hpp"

namespace ttsearch {

/// Extend `prefix` by one step, `num_samples` times.
struct GenerateRequest {
  const Problem* problem = nullptr;
  PathView prefix;  ///< the steps generated so far (empty at the root)
  std::int32_t num_samples = 1;
  SamplingParams params;
  std::uint64_t seed = 0;  ///< continuation i uses the stream Rng(seed).split(i) or equivalent
};

/// Token usage of one request, as the backend counted it.
struct RequestUsage {
  std::int64_t prompt_tokens = 0;         ///< prompt + prefix tokens the request presented
  std::int64_t cached_prompt_tokens = 0;  ///< of those, served from a prefix cache
};

/// The answer to a batch of GenerateRequests: outputs[i] holds the continuations of request i.
/// `usage` is either empty (unknown) or one entry per request.
struct Generation {
  std::vector<std::vector<Step>> outputs;
  std::vector<RequestUsage> usage;
};

/// Score the path `path`.
struct ScoreRequest {
  const Problem* problem = nullptr;
  PathView path;
};

/// The answer to a batch of ScoreRequests: scores[i] holds the scores of path i.
/// `tokens` is either empty (the driver then charges each path's generated tokens) or one entry
/// per request: the tokens the verifier actually processed (new, not served from its cache).
struct Scoring {
  std::vector<std::vector<double>> scores;
  std::vector<std::int64_t> tokens;
};

template <class G>
concept Generator = requires(G& g, std::span<const GenerateRequest> requests) {
  { g.generate(requests) } -> std::convertible_to<Generation>;
};

template <class V>
concept Verifier = requires(V& v, std::span<const ScoreRequest> requests) {
  { v.score(requests) } -> std::convertible_to<Scoring>;
};

/// A Verifier that states, before a call, an upper bound of the verifier tokens the call will
/// charge; the driver checks the budget against it instead of the paths' generated tokens.
template <class V>
concept VerifierWithCost = Verifier<V> && requires(V& v, std::span<const ScoreRequest> requests) {
  { v.estimate_tokens(requests) } -> std::convertible_to<std::int64_t>;
};

/// A Verifier that describes itself as JSON ({"kind": ..., its options}); the audit trace records
/// it so replay can recompute the verifier's scores where it needs no model (ConfidenceVerifier).
template <class V>
concept DescribedVerifier = Verifier<V> && requires(const V& v) {
  { v.describe() } -> std::convertible_to<Json>;
};

/// The Verifier of strategies that never score (majority vote): calling it is a bug.
struct NoVerifier {
  Scoring score(std::span<const ScoreRequest>) {
    throw InvalidArgument("this strategy was given no verifier but asked for scores");
  }
};
static_assert(Verifier<NoVerifier>);

}  // namespace ttsearch
