// The public CUDA entry points of include/ttsearch/cuda/scoring.hpp: argument checks, launches,
// and CUDA errors as ttsearch::Error.
#include "ttsearch/cuda/scoring.hpp"

#include <cstddef>

#include "ttsearch/cuda/sampling.hpp"

#include "scoring_launch.hpp"

namespace ttsearch::cuda {

namespace {

void check(int code, const char* what) {
  if (code != 0) throw Error(fmt::format("{}: CUDA error {} ({})", what, code, detail::error_string(code)));
}

}  // namespace

void log_softmax_gather_cuda(const void* logits, ScalarType type, std::int64_t rows, std::int64_t vocab, std::int64_t row_stride,
                             const std::int32_t* targets, float* out, void* stream) {
  TTSEARCH_REQUIRE(rows >= 0 && vocab >= 1 && row_stride >= vocab, "log_softmax_gather: bad shape (rows {}, vocab {}, stride {})", rows,
                   vocab, row_stride);
  TTSEARCH_REQUIRE(rows < (std::int64_t{1} << 31), "log_softmax_gather: {} rows exceed one launch", rows);
  check(detail::launch_log_softmax_gather(logits, static_cast<int>(type), rows, vocab, row_stride, targets, out, stream), "log_softmax_gather");
}

void lm_head_logprobs_cuda(const float* hidden, const float* weight, std::int64_t n, std::int64_t d, std::int64_t vocab,
                           const std::int32_t* targets, float* out, void* stream) {
  TTSEARCH_REQUIRE(n >= 0 && d >= 1 && vocab >= 1, "lm_head_logprobs: bad shape (n {}, d {}, vocab {})", n, d, vocab);
  check(detail::launch_lm_head_logprobs(hidden, weight, n, d, vocab, targets, out, stream), "lm_head_logprobs");
}

void pair_scores_cuda(const float* hidden, std::int64_t rows, std::int64_t d, const std::int64_t* positions, std::int64_t n,
                      const float* good, const float* bad, float bias_good, float bias_bad, float* out, void* stream) {
  TTSEARCH_REQUIRE(rows >= 0 && d >= 1 && n >= 0, "pair_scores: bad shape (rows {}, d {}, n {})", rows, d, n);
  check(detail::launch_pair_scores(hidden, d, positions, n, good, bad, bias_good, bias_bad, out, stream), "pair_scores");
}

static_assert(sizeof(SampleRow) == sizeof(detail::SampleRowLayout) && offsetof(SampleRow, uniform) == offsetof(detail::SampleRowLayout, uniform) &&
              offsetof(SampleRow, temperature) == offsetof(detail::SampleRowLayout, temperature) &&
              offsetof(SampleRow, top_p) == offsetof(detail::SampleRowLayout, top_p) &&
              offsetof(SampleRow, min_p) == offsetof(detail::SampleRowLayout, min_p) &&
              offsetof(SampleRow, top_k) == offsetof(detail::SampleRowLayout, top_k),
              "SampleRow and the kernel's SampleRowLayout differ");

void sample_rows_cuda(const void* logits, ScalarType type, std::int64_t rows, std::int64_t vocab, std::int64_t row_stride,
                      const SampleRow* params, std::int32_t* tokens, float* logprobs, void* stream) {
  TTSEARCH_REQUIRE(rows >= 0 && vocab >= 1 && row_stride >= vocab, "sample_rows: bad shape (rows {}, vocab {}, stride {})", rows, vocab,
                   row_stride);
  TTSEARCH_REQUIRE(rows < (std::int64_t{1} << 31) && vocab < (std::int64_t{1} << 32), "sample_rows: {} rows x {} columns exceed one launch",
                   rows, vocab);
  check(detail::launch_sample_rows(logits, static_cast<int>(type), rows, vocab, row_stride,
                                   reinterpret_cast<const detail::SampleRowLayout*>(params), tokens, logprobs, stream),
        "sample_rows");
}

bool device_available() noexcept { return detail::device_count() > 0; }

}  // namespace ttsearch::cuda
