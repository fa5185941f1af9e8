// One CPU fp32 matrix product, Y = X W^T, compiled once per instruction set (CMake builds this file
// as ttsearch_gemm_avx2 with -mavx2 -mfma and as ttsearch_gemm_avx512 with -mavx512f/dq/vl), so the
// runtime's speed does not depend on the system BLAS recognising the CPU (cpu_gemm.cpp picks a
// copy with cpuid at run time). No torch here: this file only sees raw pointers.
//
// ODR: every copy gets its own Eigen namespace (the macro below renames it), so the linker can
// never pick an AVX-512 instantiation of an Eigen template for code that runs on an AVX2 CPU; the
// ctest `cpu_gemm_symbols_isolated` checks that each object defines no other weak symbol.
#ifndef TTSEARCH_GEMM_FN
#error "compile with -DTTSEARCH_GEMM_FN=<function name> -DTTSEARCH_GEMM_EIGEN=<namespace>"
#endif
#define Eigen TTSEARCH_GEMM_EIGEN
#define EIGEN_DONT_PARALLELIZE  // the caller splits the columns over libtorch's threads
#define EIGEN_NO_DEBUG
#include <Eigen/Core>

#include <cstdint>

/// y[i, j] = sum_l x[i, l] w[j, l] for i < m, j < n, l < k; row strides ldx, ldw, ldy (in floats).
extern "C" void TTSEARCH_GEMM_FN(const float* x, std::int64_t ldx, const float* w, std::int64_t ldw, float* y, std::int64_t ldy,
                                 std::int64_t m, std::int64_t n, std::int64_t k) noexcept {
  // Computed as Y^T = W X^T with W the left operand (Y^T is y read column-major): with a few rows in
  // X this packs the large W in Eigen's left-hand panels, measured 1.2x (16 rows) and 1.7x (64 rows)
  // faster than X W^T on weights that do not fit the caches (24 matrices of 4864 x 896, AVX-512).
  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ColMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  using Stride = Eigen::OuterStride<>;
  const Eigen::Map<const RowMat, 0, Stride> xs(x, m, k, Stride(ldx));
  const Eigen::Map<const RowMat, 0, Stride> ws(w, n, k, Stride(ldw));
  Eigen::Map<ColMat, 0, Stride> yt(y, n, m, Stride(ldy));
  yt.noalias() = ws * xs.transpose();
}
