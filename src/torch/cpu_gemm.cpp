#include "cpu_gemm.hpp"

#include <atomic>
#include <cstdlib>

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include "ttsearch/core/error.hpp"
#include "ttsearch/torch/device.hpp"

#if defined(TTSEARCH_HAVE_ISA_GEMM)
extern "C" {
void ttsearch_gemm_avx2(const float* x, std::int64_t ldx, const float* w, std::int64_t ldw, float* y, std::int64_t ldy, std::int64_t m,
                        std::int64_t n, std::int64_t k) noexcept;
void ttsearch_gemm_avx512(const float* x, std::int64_t ldx, const float* w, std::int64_t ldw, float* y, std::int64_t ldy, std::int64_t m,
                          std::int64_t n, std::int64_t k) noexcept;
}
#endif

namespace ttsearch::torch {
namespace {

enum class Kind : int { kBlas, kAvx2, kAvx512, kAuto };
using Fn = void (*)(const float*, std::int64_t, const float*, std::int64_t, float*, std::int64_t, std::int64_t, std::int64_t,
                    std::int64_t) noexcept;

bool supports(Kind k) {
#if defined(TTSEARCH_HAVE_ISA_GEMM)
  __builtin_cpu_init();
  switch (k) {
    case Kind::kBlas:
    case Kind::kAuto: return true;
    case Kind::kAvx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Kind::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return false;
#else
  return k == Kind::kBlas || k == Kind::kAuto;
#endif
}

std::string_view name(Kind k) {
  return k == Kind::kBlas ? "blas" : k == Kind::kAvx2 ? "avx2" : k == Kind::kAvx512 ? "avx512" : "auto";
}

/// The widest ISA kernel this CPU runs (kBlas: none).
Kind best() { return supports(Kind::kAvx512) ? Kind::kAvx512 : supports(Kind::kAvx2) ? Kind::kAvx2 : Kind::kBlas; }

/// Whether the loaded BLAS is OpenBLAS running AVX2-class kernels or newer for this CPU. Measured
/// with bench_decode (Qwen2.5-0.5B shape, fp32, 2 threads, AMD EPYC): the AVX-512 kernel against
/// OpenBLAS 0.3.21 with its Haswell kernels: 1.34x at batch 1, 0.83x at 16, 0.89x at 64; against
/// its generic Prescott kernels (what it picks on CPUs newer than it knows): 2.04x, 1.81x, 1.92x.
bool blas_is_fast() {
  static const bool fast = [] {
    using Text = char* (*)();
    const auto core = reinterpret_cast<Text>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
    if (!core) return false;  // not OpenBLAS (reference BLAS, BLIS, ...): the kernels are the safe choice
    const std::string c = core();
    for (const char* good : {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"}) {
      if (c.find(good) != std::string::npos) return true;
    }
    return false;
  }();
  return fast;
}

/// "auto": the ISA kernel for matrix-vector-like products (up to kAutoRows rows), where it beats
/// any BLAS measured here; above that the BLAS when it runs AVX2-class kernels, else the ISA kernel.
constexpr std::int64_t kAutoRows = 8;

Kind parse(std::string_view s, std::string_view where) {
  if (s == "auto") return Kind::kAuto;
  for (Kind k : {Kind::kBlas, Kind::kAvx2, Kind::kAvx512}) {
    if (s != name(k)) continue;
    TTSEARCH_REQUIRE(supports(k), "{}: this CPU cannot run the '{}' kernels (choose auto, blas{})", where, s,
                     supports(Kind::kAvx2) ? " or avx2" : "");
    return k;
  }
  throw InvalidArgument(fmt::format("{}: unknown CPU GEMM '{}' (expected auto, blas, avx2 or avx512)", where, s));
}

std::atomic<int>& chosen() {
  static std::atomic<int> k = [] {
    const char* env = std::getenv("TTSEARCH_CPU_GEMM");
    const Kind kind = env && *env ? parse(env, "TTSEARCH_CPU_GEMM") : Kind::kAuto;
    return static_cast<int>(kind);
  }();
  return k;
}

Fn kernel(Kind k) {
#if defined(TTSEARCH_HAVE_ISA_GEMM)
  return k == Kind::kAvx512 ? ttsearch_gemm_avx512 : ttsearch_gemm_avx2;
#else
  (void)k;
  throw InternalError("no ISA-specific GEMM kernels in this build");
#endif
}

at::Tensor run(Kind kind, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  const std::int64_t n = w.size(0), k = w.size(1);
  TTSEARCH_REQUIRE(x.size(-1) == k, "linear: input has {} features, the weight expects {}", x.size(-1), k);
  const at::Tensor wc = w.contiguous();
  const at::Tensor x2 = x.reshape({-1, k}).contiguous();
  const std::int64_t m = x2.size(0);
  at::Tensor y = at::empty({m, n}, x2.options());
  if (m > 0 && n > 0) {
    const Fn fn = kernel(kind);
    const float* xp = x2.data_ptr<float>();
    const float* wp = wc.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    // columns split over libtorch's threads, at least `grain` (a multiple of 16) per chunk
    const std::int64_t threads = std::max<std::int64_t>(1, at::get_num_threads());
    const std::int64_t grain = std::max<std::int64_t>(16, (n / threads + 15) / 16 * 16);
    at::parallel_for(0, n, grain, [&](std::int64_t begin, std::int64_t end) {
      fn(xp, k, wp + begin * k, k, yp + begin, n, m, end - begin, k);
    });
  }
  if (b.defined()) y.add_(b);
  std::vector<std::int64_t> sizes = x.sizes().vec();
  sizes.back() = n;
  return y.view(sizes);
}

bool eligible(const at::Tensor& x, const at::Tensor& w) {
  return x.device().is_cpu() && w.device().is_cpu() && x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat && w.dim() == 2 &&
         x.dim() >= 1 && !(at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad()));
}

}  // namespace

void set_cpu_gemm(std::string_view kind) { chosen().store(static_cast<int>(parse(kind, "set_cpu_gemm"))); }

std::string cpu_gemm() {
  const auto k = static_cast<Kind>(chosen().load());
  if (k != Kind::kAuto) return std::string(name(k));
  if (best() == Kind::kBlas) return "auto: blas (this CPU runs no ISA kernel)";
  return fmt::format("auto: {} up to {} rows, {} above", name(best()), kAutoRows, blas_is_fast() ? "blas" : name(best()));
}

namespace detail {

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  if (!eligible(x, w) || w.numel() < kMinGemmWeights) return at::linear(x, w, b);  // before the choice: small models never read it
  auto kind = static_cast<Kind>(chosen().load());
  if (kind == Kind::kBlas) return at::linear(x, w, b);
  if (kind == Kind::kAuto) {
    const std::int64_t rows = w.size(1) > 0 ? x.numel() / w.size(1) : 0;
    kind = rows > kAutoRows && blas_is_fast() ? Kind::kBlas : best();
    if (kind == Kind::kBlas) return at::linear(x, w, b);
  }
  return run(kind, x, w, b);
}

at::Tensor linear_with(std::string_view kind, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  const Kind k = parse(kind, "linear_with");
  TTSEARCH_REQUIRE(k != Kind::kAuto, "linear_with: name a kernel (blas, avx2 or avx512), not auto");
  if (k == Kind::kBlas) return at::linear(x, w, b);
  TTSEARCH_REQUIRE(eligible(x, w), "linear_with: the '{}' kernels take CPU fp32 tensors without autograd", kind);
  return run(k, x, w, b);
}

}  // namespace detail
}  // namespace ttsearch::torch
