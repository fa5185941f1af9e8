#pragma once
/// ttsearch::torch: the libtorch runtime (compiled; link ttsearch::torch). This header does not
/// include libtorch: what it declares is implemented in src/torch/.
#include <string>
#include <string_view>

namespace ttsearch::torch {

/// A parsed device spec: "cpu", "cuda" (= "cuda:0") or "cuda:N".
struct DeviceSpec {
  enum class Kind : unsigned char { kCpu, kCuda };
  Kind kind = Kind::kCpu;
  int index = 0;
  [[nodiscard]] std::string str() const;
};

/// Parses a device spec; throws InvalidArgument naming the bad spec.
DeviceSpec parse_device(std::string_view spec);

/// Parses and checks that the device exists in this build and machine; throws InvalidArgument
/// ("cuda:1 requested but this machine has 1 CUDA device" / "libtorch was built without CUDA").
DeviceSpec resolve_device(std::string_view spec);

/// libtorch's version string (e.g. "1.13.0").
std::string torch_version();

/// Whether libtorch can use a CUDA device here, and how many.
bool cuda_available();

/// The BLAS libtorch's CPU matrix products run on, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY
/// Prescott MAX_THREADS=64 (core Prescott) in /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3":
/// the library file that provides sgemm_ and, for OpenBLAS, its build and the kernel it chose for
/// this CPU (OPENBLAS_CORETYPE overrides that choice). CPU results can differ in the last bit
/// between kernels, and speed differs a lot.
std::string blas_info();

/// The kernel behind the runtime's CPU fp32 linear layers of at least 2^18 weights: "avx512" or
/// "avx2" (Eigen compiled for that instruction set, chosen with cpuid at run time, so the speed
/// does not hinge on the system BLAS recognising the CPU: OpenBLAS 0.3.21 falls back to its SSE3
/// "Prescott" kernels on CPUs newer than it knows), "blas" (at::linear on the system BLAS), or
/// "auto" (the default): the widest ISA kernel the CPU runs for products of up to 8 rows (decode
/// at small batch), and above that the BLAS when it is OpenBLAS running AVX2-class kernels or
/// newer, else the ISA kernel. The TTSEARCH_CPU_GEMM environment variable sets the starting
/// choice. Throws InvalidArgument for an unknown name or a kernel this CPU cannot run. Smaller
/// layers, autograd, other dtypes and CUDA always use libtorch's own product. Set it between
/// calls, not while another thread runs the model.
void set_cpu_gemm(std::string_view kind);
/// The choice in use, e.g. "avx512", "blas" or "auto: avx512 up to 8 rows, blas above".
std::string cpu_gemm();

/// Sets libtorch's intra-op CPU threads and, when OpenBLAS is the loaded BLAS, its threads (n >= 1).
/// For tiny models one thread is fastest (the arithmetic demo: 1.5x faster than two).
void set_num_threads(int n);

/// glibc only (a no-op returning false elsewhere): keeps freed memory for reuse instead of giving
/// each large tensor a fresh mmap() that page-faults on first touch, by setting M_MMAP_THRESHOLD
/// to its maximum (32 MiB) and M_TRIM_THRESHOLD to 1 GiB, process-wide. Measured on the
/// Qwen2.5-0.5B-shaped bench model (2-core VM): a batched prefill of 4 x 340 tokens took 18 s
/// without and 6.3-6.8 s with it. Model loading calls it unless LoadOptions::tune_malloc is false.
bool keep_freed_memory();
int cuda_device_count();

}  // namespace ttsearch::torch
