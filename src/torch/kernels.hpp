#pragma once
// Internal: the runtime's calls into the fused ops of include/ttsearch/cuda/. Tensors on a CUDA
// device go to the CUDA kernels when ttsearch::cuda was built (TTSEARCH_HAVE_CUDA_KERNELS);
// everything else runs the CPU versions (sampling) or libtorch ops (scores), so a CPU-only build
// and a CUDA libtorch without the kernels both work.
#include <ATen/ATen.h>

#include <cstdint>
#include <span>

#include "ttsearch/cuda/sampling.hpp"

namespace ttsearch::torch::detail {

/// True when tensors on CUDA use ttsearch's CUDA kernels (ttsearch::cuda built in).
bool cuda_kernels_built() noexcept;

/// One token per row of `logits` [B, >= vocab] (fp32 / bf16 / fp16, any device) from its first
/// `vocab` columns, with the rule of cuda::sample_rows_cpu; only B ids and B log-probs leave the
/// device. A row with no distribution (NaN, +inf, all -inf) gets token -1: the caller decides.
void sample_rows(const at::Tensor& logits, std::int64_t vocab, std::span<const cuda::SampleRow> params, std::span<std::int32_t> tokens,
                 std::span<float> logprobs);

/// DeepConf token confidence of each row of `logits` [B, >= vocab] over its first `vocab` columns
/// (the rule of cuda::token_confidence_cpu; k = the top-k). Only B numbers leave the device: on
/// CUDA the top-k log-probs are taken with libtorch ops there. NaN for a row with no distribution.
void token_confidences(const at::Tensor& logits, std::int64_t vocab, std::int32_t k, std::span<float> out);

/// P(good) = sigmoid(h . good + bias_good - h . bad - bias_bad) for each row of hidden [n, d]
/// (fp32 out, on hidden's device): the two-row PRM read (a "+"/"-" LM-head pair, or the last
/// layer of a 2-class head). One kernel on CUDA; libtorch ops elsewhere.
at::Tensor pair_scores(const at::Tensor& hidden, const at::Tensor& good, const at::Tensor& bad, float bias_good, float bias_bad);

/// log_softmax(hidden . weight[:vocab]^T)[targets] per row of hidden [n, d] (fp32 out, on hidden's
/// device), without [n, vocab] log-softmax output: on CUDA the fused LM-head kernel (fp32 weight:
/// O(n + vocab x d) memory) or LM-head logits + the fused log-softmax + gather (bf16 / fp16); on CPU
/// libtorch in chunks of rows.
at::Tensor target_logprobs(const at::Tensor& hidden, const at::Tensor& weight, std::int64_t vocab, std::span<const std::int32_t> targets);

}  // namespace ttsearch::torch::detail
