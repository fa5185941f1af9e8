#include "ttsearch/torch/device.hpp"

#include <charconv>

#include <ATen/Parallel.h>
#include <dlfcn.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <torch/cuda.h>
#include <torch/version.h>

#include "ttsearch/core/error.hpp"

namespace ttsearch::torch {

std::string DeviceSpec::str() const {
  return kind == Kind::kCpu ? std::string("cpu") : fmt::format("cuda:{}", index);
}

DeviceSpec parse_device(std::string_view spec) {
  DeviceSpec d;
  if (spec == "cpu") return d;
  if (spec == "cuda") {
    d.kind = DeviceSpec::Kind::kCuda;
    return d;
  }
  if (spec.starts_with("cuda:")) {
    const std::string_view num = spec.substr(5);
    int index = -1;
    const auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), index);
    if (ec == std::errc() && end == num.data() + num.size() && index >= 0 && !num.empty()) {
      d.kind = DeviceSpec::Kind::kCuda;
      d.index = index;
      return d;
    }
  }
  throw InvalidArgument(fmt::format("bad device '{}': expected cpu, cuda or cuda:N", spec));
}

std::string torch_version() { return TORCH_VERSION; }

bool cuda_available() { return ::torch::cuda::is_available(); }

int cuda_device_count() { return static_cast<int>(::torch::cuda::device_count()); }

DeviceSpec resolve_device(std::string_view spec) {
  const DeviceSpec d = parse_device(spec);
  if (d.kind == DeviceSpec::Kind::kCuda) {
    const int n = cuda_available() ? cuda_device_count() : 0;
    if (n == 0) {
      throw InvalidArgument(fmt::format("device '{}' requested but libtorch {} sees no CUDA device here", spec, torch_version()));
    }
    if (d.index >= n) {
      throw InvalidArgument(fmt::format("device '{}' requested but this machine has {} CUDA device(s)", spec, n));
    }
  }
  return d;
}

bool keep_freed_memory() {
#if defined(__GLIBC__)
  static const bool done = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  return done;
#else
  return false;
#endif
}

std::string blas_info() {
  std::string out;
  using Text = char* (*)();
  const Text config = reinterpret_cast<Text>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
  const Text core = reinterpret_cast<Text>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (config) out = config();
  if (core) out += fmt::format("{}(core {})", out.empty() ? "OpenBLAS " : " ", core());
  Dl_info where{};
  if (void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_"); sgemm && dladdr(sgemm, &where) && where.dli_fname) {
    out += fmt::format("{}in {}", out.empty() ? "" : " ", where.dli_fname);
  }
  return out.empty() ? std::string("unknown (no sgemm_ symbol found)") : out;
}

void set_num_threads(int n) {
  TTSEARCH_REQUIRE(n >= 1, "set_num_threads: n must be >= 1 (got {})", n);
  at::set_num_threads(n);
  // OpenBLAS (Debian's BLAS for libtorch) keeps its own thread pool, which at::set_num_threads
  // does not reach; its idle workers spin in sched_yield. Set it too when it is the loaded BLAS.
  using SetThreads = void (*)(int);
  if (auto* f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
}

}  // namespace ttsearch::torch
