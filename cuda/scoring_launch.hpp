#pragma once
// Internal: the kernel launchers of cuda/scoring_kernels.cu (plain types only, so both nvcc and
// the host compiler read it). They return a cudaError_t as int (0 = success).
#include <cstdint>

namespace ttsearch::cuda::detail {

int launch_log_softmax_gather(const void* logits, int type, std::int64_t rows, std::int64_t vocab, std::int64_t stride,
                              const std::int32_t* targets, float* out, void* stream);
int launch_lm_head_logprobs(const float* hidden, const float* weight, std::int64_t n, std::int64_t d, std::int64_t vocab,
                            const std::int32_t* targets, float* out, void* stream);
int launch_pair_scores(const float* hidden, std::int64_t d, const std::int64_t* positions, std::int64_t n, const float* good,
                       const float* bad, float bias_good, float bias_bad, float* out, void* stream);
/// The layout of ttsearch::cuda::SampleRow (include/ttsearch/cuda/sampling.hpp; scoring.cpp checks they match).
struct SampleRowLayout {
  double uniform;
  float temperature;
  float top_p;
  float min_p;
  std::int32_t top_k;
};
int launch_sample_rows(const void* logits, int type, std::int64_t rows, std::int64_t vocab, std::int64_t stride, const SampleRowLayout* params,
                       std::int32_t* tokens, float* logprobs, void* stream);
const char* error_string(int code);
int device_count();

}  // namespace ttsearch::cuda::detail
