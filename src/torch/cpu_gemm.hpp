#pragma once
// The CPU fp32 product behind the model's linear layers (see device.hpp: set_cpu_gemm).
#include <torch/torch.h>

namespace ttsearch::torch::detail {

/// y = x W^T + b, as at::linear, for any x [..., k] and W [n, k]. On CPU fp32 without autograd and
/// with W of at least kMinGemmWeights entries it runs the kernel chosen by set_cpu_gemm (the
/// ISA-specific Eigen copies, columns split over libtorch's threads); everything else, and the
/// "blas" choice, is at::linear (the system BLAS through libtorch).
at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b = {});

/// The same with `kind` ("blas", "avx2", "avx512") and no size threshold: for tests.
at::Tensor linear_with(std::string_view kind, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b = {});

/// Below this many weights a layer stays on at::linear: a call costs microseconds there either way,
/// and the shipped arithmetic models (at most 326 x 64 weights per layer) keep their exact figures.
inline constexpr std::int64_t kMinGemmWeights = std::int64_t{1} << 18;

}  // namespace ttsearch::torch::detail
