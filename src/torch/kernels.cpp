#include "kernels.hpp"

#include "cpu_gemm.hpp"

#include <fmt/format.h>

#include <cmath>

#include "ttsearch/core/error.hpp"

namespace ttsearch::torch::detail {

namespace {

cuda::ScalarType scalar_type(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat: return cuda::ScalarType::kFloat32;
    case at::kBFloat16: return cuda::ScalarType::kBFloat16;
    case at::kHalf: return cuda::ScalarType::kFloat16;
    default: throw InvalidArgument(fmt::format("logits of type {} (expected float32, bfloat16 or float16)", c10::toString(t.scalar_type())));
  }
}

}  // namespace

bool cuda_kernels_built() noexcept {
#ifdef TTSEARCH_HAVE_CUDA_KERNELS
  return true;
#else
  return false;
#endif
}

void sample_rows(const at::Tensor& logits, std::int64_t vocab, std::span<const cuda::SampleRow> params, std::span<std::int32_t> tokens,
                 std::span<float> logprobs) {
  TTSEARCH_CHECK(logits.dim() == 2 && logits.size(0) == static_cast<std::int64_t>(params.size()) && tokens.size() == params.size() &&
                     logprobs.size() == params.size() && vocab <= logits.size(1),
                 "sample_rows: logits of {} dimensions for {} rows of {} columns", logits.dim(), params.size(), vocab);
  const auto rows = static_cast<std::int64_t>(params.size());
  if (rows == 0) return;
  const at::Tensor x = logits.stride(1) == 1 ? logits : logits.contiguous();
#ifdef TTSEARCH_HAVE_CUDA_KERNELS
  if (x.is_cuda()) {
    const auto bytes = static_cast<std::int64_t>(params.size() * sizeof(cuda::SampleRow));
    const auto dev_params = at::from_blob(const_cast<cuda::SampleRow*>(params.data()), {bytes}, at::kByte).to(x.device());
    auto dev_tokens = at::empty({rows}, x.options().dtype(at::kInt));
    auto dev_logprobs = at::empty({rows}, x.options().dtype(at::kFloat));
    cuda::sample_rows_cuda(x.data_ptr(), scalar_type(x), rows, vocab, x.stride(0), reinterpret_cast<const cuda::SampleRow*>(dev_params.data_ptr()),
                           dev_tokens.data_ptr<std::int32_t>(), dev_logprobs.data_ptr<float>());
    const auto t = dev_tokens.cpu();
    const auto l = dev_logprobs.cpu();
    std::copy(t.data_ptr<std::int32_t>(), t.data_ptr<std::int32_t>() + rows, tokens.begin());
    std::copy(l.data_ptr<float>(), l.data_ptr<float>() + rows, logprobs.begin());
  } else
#endif
  {
    const at::Tensor host = x.cpu();
    cuda::sample_rows_cpu(host.data_ptr(), scalar_type(host), rows, vocab, host.stride(0), params.data(), tokens.data(), logprobs.data());
  }
}

void token_confidences(const at::Tensor& logits, std::int64_t vocab, std::int32_t k, std::span<float> out) {
  TTSEARCH_CHECK(logits.dim() == 2 && logits.size(0) == static_cast<std::int64_t>(out.size()) && vocab <= logits.size(1) && k >= 1,
                 "token_confidences: logits of {} dimensions for {} rows", logits.dim(), out.size());
  const auto rows = static_cast<std::int64_t>(out.size());
  if (rows == 0) return;
  if (logits.is_cuda()) {  // top-k log-probs on the device; B numbers come back
    const auto x = logits.narrow(1, 0, vocab).to(at::kFloat);
    const auto lp = at::log_softmax(x, -1);
    const auto top = std::get<0>(at::topk(lp, std::min<std::int64_t>(k, vocab), -1)).clamp_min(-9999.0);
    auto c = (-top.mean(-1)).cpu();
    const auto bad = (at::isnan(x).any(-1) | at::isinf(x).logical_and(x > 0).any(-1) | (x == -INFINITY).all(-1)).cpu();
    for (std::int64_t r = 0; r < rows; ++r) {
      out[static_cast<std::size_t>(r)] = bad[r].item<bool>() ? NAN : c[r].item<float>();
    }
    return;
  }
  const at::Tensor x = logits.stride(1) == 1 ? logits : logits.contiguous();
  cuda::token_confidence_cpu(x.data_ptr(), scalar_type(x), rows, vocab, x.stride(0), k, out.data());
}

at::Tensor target_logprobs(const at::Tensor& hidden, const at::Tensor& weight, std::int64_t vocab, std::span<const std::int32_t> targets) {
  const auto n = hidden.size(0);
  TTSEARCH_CHECK(hidden.dim() == 2 && static_cast<std::int64_t>(targets.size()) == n && vocab <= weight.size(0) && weight.size(1) == hidden.size(1),
                 "target_logprobs: {} rows, {} targets, vocabulary {} of {}", n, targets.size(), vocab, weight.size(0));
  const auto w = weight.narrow(0, 0, vocab);
  const auto t_host = at::tensor(std::vector<std::int32_t>(targets.begin(), targets.end()), at::kInt);
#ifdef TTSEARCH_HAVE_CUDA_KERNELS
  if (hidden.is_cuda()) {
    const auto t = t_host.to(hidden.device());
    auto out = at::empty({n}, hidden.options().dtype(at::kFloat));
    if (weight.scalar_type() == at::kFloat) {
      const auto h = hidden.to(at::kFloat).contiguous(), wc = w.contiguous();
      cuda::lm_head_logprobs_cuda(h.data_ptr<float>(), wc.data_ptr<float>(), n, h.size(1), vocab, t.data_ptr<std::int32_t>(),
                                  out.data_ptr<float>());
    } else {
      const auto logits = at::matmul(hidden, w.t()).contiguous();  // [n, vocab] in the model's dtype, read once
      cuda::log_softmax_gather_cuda(logits.data_ptr(), scalar_type(logits), n, vocab, vocab, t.data_ptr<std::int32_t>(), out.data_ptr<float>());
    }
    return out;
  }
#endif
  constexpr std::int64_t kChunk = 128;  // bounds the [chunk, vocab] logits
  std::vector<at::Tensor> parts;
  const auto t = t_host.to(at::kLong).to(hidden.device());
  for (std::int64_t i = 0; i < n; i += kChunk) {
    const auto c = std::min(kChunk, n - i);
    const auto logits = detail::linear(hidden.narrow(0, i, c), w).to(at::kFloat);  // the runtime's CPU product (cpu_gemm.hpp)
    parts.push_back(at::log_softmax(logits, -1).gather(1, t.narrow(0, i, c).unsqueeze(1)).squeeze(1));
  }
  return at::cat(parts);
}

at::Tensor pair_scores(const at::Tensor& hidden, const at::Tensor& good, const at::Tensor& bad, float bias_good, float bias_bad) {
  TTSEARCH_CHECK(hidden.dim() == 2 && good.numel() == hidden.size(1) && bad.numel() == hidden.size(1), "pair_scores: hidden of {} dimensions with rows of {}",
                 hidden.dim(), good.numel());
#ifdef TTSEARCH_HAVE_CUDA_KERNELS
  if (hidden.is_cuda()) {
    const auto h = hidden.to(at::kFloat).contiguous();
    const auto g = good.to(at::kFloat).contiguous(), b = bad.to(at::kFloat).contiguous();
    const auto n = h.size(0);
    const auto positions = at::arange(n, h.options().dtype(at::kLong));
    auto out = at::empty({n}, h.options());
    cuda::pair_scores_cuda(h.data_ptr<float>(), n, h.size(1), positions.data_ptr<std::int64_t>(), n, g.data_ptr<float>(), b.data_ptr<float>(),
                           bias_good, bias_bad, out.data_ptr<float>());
    return out;
  }
#endif
  const auto h = hidden.to(at::kFloat);
  const auto diff = at::matmul(h, (good.to(at::kFloat) - bad.to(at::kFloat)).reshape({-1})) + (bias_good - bias_bad);
  return at::sigmoid(diff);
}

}  // namespace ttsearch::torch::detail
