// CUDA kernels of include/ttsearch/cuda/scoring.hpp. This file includes no ttsearch header (nvcc
// compiles it); cuda/scoring.cpp wraps the launchers with the public API and its errors.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include "scoring_launch.hpp"

namespace ttsearch::cuda::detail {

namespace {


__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }

/// Online log-sum-exp state (max, sum of exp(x - max)).
struct Lse {
  float m, s;
};

__device__ __forceinline__ void lse_add(Lse& a, float x) {
  if (x == -INFINITY) return;
  if (x > a.m) {
    a.s = a.s * __expf(a.m - x) + 1.0f;
    a.m = x;
  } else {
    a.s += __expf(x - a.m);
  }
}

__device__ __forceinline__ Lse lse_combine(Lse a, Lse b) {
  if (a.s == 0.0f) return b;
  if (b.s == 0.0f) return a;
  const float m = fmaxf(a.m, b.m);
  return {m, a.s * __expf(a.m - m) + b.s * __expf(b.m - m)};
}

__device__ __forceinline__ Lse warp_reduce(Lse v) {
  for (int off = 16; off > 0; off >>= 1) {
    Lse o{__shfl_down_sync(0xffffffffu, v.m, off), __shfl_down_sync(0xffffffffu, v.s, off)};
    v = lse_combine(v, o);
  }
  return v;
}

/// Reduces one Lse per thread of the block; the result is valid in thread 0.
template <int kBlock>
__device__ Lse block_reduce(Lse v) {
  __shared__ Lse part[kBlock / 32];
  v = warp_reduce(v);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) part[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kBlock / 32 ? part[lane] : Lse{-INFINITY, 0.0f};
    v = warp_reduce(v);
  }
  return v;
}

__device__ __forceinline__ float logprob(float logit, Lse l) {
  if (logit == -INFINITY || l.s == 0.0f) return -INFINITY;
  return logit - (l.m + __logf(l.s));
}

/// (1) one block per row; 16-byte vector loads when the row is aligned (kVec elements per load).
template <class T, int kBlock>
__global__ void log_softmax_gather_kernel(const T* __restrict__ logits, std::int64_t vocab, std::int64_t stride,
                                          const std::int32_t* __restrict__ targets, float* __restrict__ out) {
  const std::int64_t r = blockIdx.x;
  const std::int32_t t = targets[r];
  if (t < 0) {
    if (threadIdx.x == 0) out[r] = 0.0f;
    return;
  }
  const T* row = logits + r * stride;
  Lse acc{-INFINITY, 0.0f};
  constexpr int kVec = 16 / sizeof(T);
  const bool aligned = (reinterpret_cast<std::uintptr_t>(row) % 16) == 0;
  std::int64_t head = 0;
  if (aligned) {
    const std::int64_t nvec = vocab / kVec;
    const uint4* vrow = reinterpret_cast<const uint4*>(row);
    for (std::int64_t i = threadIdx.x; i < nvec; i += kBlock) {
      const uint4 packed = __ldg(vrow + i);
      const T* e = reinterpret_cast<const T*>(&packed);
#pragma unroll
      for (int k = 0; k < kVec; ++k) lse_add(acc, to_float(e[k]));
    }
    head = nvec * kVec;
  }
  for (std::int64_t v = head + threadIdx.x; v < vocab; v += kBlock) lse_add(acc, to_float(row[v]));
  const Lse total = block_reduce<kBlock>(acc);
  if (threadIdx.x == 0) out[r] = logprob(to_float(row[t]), total);
}

/// (2) a block of 256 threads takes kRows hidden rows and walks the vocabulary in tiles of kCols
/// weight rows, multiplying through shared memory in chunks of kK features; each thread keeps the
/// online log-sum-exp of its (row, column) logits, reduced per row at the end.
constexpr int kRows = 16, kCols = 64, kK = 32, kThreads = 256;

__global__ void lm_head_logprobs_kernel(const float* __restrict__ hidden, const float* __restrict__ weight, std::int64_t n, std::int64_t d,
                                        std::int64_t vocab, const std::int32_t* __restrict__ targets, float* __restrict__ out) {
  __shared__ float hs[kRows][kK + 1];
  __shared__ float ws[kCols][kK + 1];
  __shared__ float target_logit[kRows];
  __shared__ Lse part[kThreads];
  const std::int64_t row0 = static_cast<std::int64_t>(blockIdx.x) * kRows;
  const int col = threadIdx.x % kCols;          // this thread's column within a tile
  const int rgroup = threadIdx.x / kCols;       // rows rgroup*4 .. rgroup*4+3
  constexpr int kPer = kRows / (kThreads / kCols);  // 4 rows per thread
  Lse acc[kPer];
  for (int i = 0; i < kPer; ++i) acc[i] = {-INFINITY, 0.0f};
  if (threadIdx.x < kRows) target_logit[threadIdx.x] = -INFINITY;
  std::int32_t tgt[kPer];
  for (int i = 0; i < kPer; ++i) {
    const std::int64_t r = row0 + rgroup * kPer + i;
    tgt[i] = r < n ? targets[r] : -1;
  }
  for (std::int64_t v0 = 0; v0 < vocab; v0 += kCols) {
    float dot[kPer] = {};
    for (std::int64_t k0 = 0; k0 < d; k0 += kK) {
      for (int i = threadIdx.x; i < kRows * kK; i += kThreads) {
        const int rr = i / kK, kk = i % kK;
        const std::int64_t r = row0 + rr, k = k0 + kk;
        hs[rr][kk] = (r < n && k < d) ? hidden[r * d + k] : 0.0f;
      }
      for (int i = threadIdx.x; i < kCols * kK; i += kThreads) {
        const int cc = i / kK, kk = i % kK;
        const std::int64_t v = v0 + cc, k = k0 + kk;
        ws[cc][kk] = (v < vocab && k < d) ? weight[v * d + k] : 0.0f;
      }
      __syncthreads();
#pragma unroll 8
      for (int kk = 0; kk < kK; ++kk) {
        const float w = ws[col][kk];
#pragma unroll
        for (int i = 0; i < kPer; ++i) dot[i] += hs[rgroup * kPer + i][kk] * w;
      }
      __syncthreads();
    }
    const std::int64_t v = v0 + col;
    if (v < vocab) {
#pragma unroll
      for (int i = 0; i < kPer; ++i) {
        lse_add(acc[i], dot[i]);
        if (tgt[i] == v) target_logit[rgroup * kPer + i] = dot[i];
      }
    }
  }
  // per row: combine the kCols threads that hold it
  for (int i = 0; i < kPer; ++i) {
    part[threadIdx.x] = acc[i];
    __syncthreads();
    for (int stride = kCols / 2; stride > 0; stride >>= 1) {
      if (col < stride) part[threadIdx.x] = lse_combine(part[threadIdx.x], part[threadIdx.x + stride]);
      __syncthreads();
    }
    if (col == 0) {
      const int rr = rgroup * kPer + i;
      const std::int64_t r = row0 + rr;
      if (r < n) out[r] = tgt[i] < 0 ? 0.0f : logprob(target_logit[rr], part[threadIdx.x]);
    }
    __syncthreads();
  }
}

/// (3) one warp per selected position: two dot products, then a sigmoid of their difference.
__global__ void pair_scores_kernel(const float* __restrict__ hidden, std::int64_t d, const std::int64_t* __restrict__ positions,
                                   std::int64_t n, const float* __restrict__ good, const float* __restrict__ bad, float bias_good,
                                   float bias_bad, float* __restrict__ out) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (i >= n) return;
  const int lane = threadIdx.x % 32;
  const float* h = hidden + positions[i] * d;
  float a = 0.0f, b = 0.0f;
  for (std::int64_t k = lane; k < d; k += 32) {
    a += h[k] * good[k];
    b += h[k] * bad[k];
  }
  for (int off = 16; off > 0; off >>= 1) {
    a += __shfl_down_sync(0xffffffffu, a, off);
    b += __shfl_down_sync(0xffffffffu, b, off);
  }
  if (lane == 0) out[i] = 1.0f / (1.0f + __expf((b + bias_bad) - (a + bias_good)));
}


struct MaxOp {
  __device__ __forceinline__ unsigned long long operator()(unsigned long long a, unsigned long long b) const { return a > b ? a : b; }
};

/// Monotone map of a float to an unsigned key (a < b  <=>  key(a) < key(b); NaN excluded).
__device__ __forceinline__ unsigned ordered_key(float x) {
  const unsigned b = __float_as_uint(x);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

/// (4) one block per row: (a) argmax, log-sum-exp and validity in one pass; (b) top-k: an 8-bit
/// radix select of the k-th largest key (4 histogram passes); (c) top-p: the same radix select
/// weighted by w, for the largest key whose upper mass reaches p x the kept mass; (d) each thread
/// sums the kept w of a contiguous chunk of ids, one block exclusive scan, and the thread whose
/// chunk holds u x total walks it to the token (the inverse CDF in id order).
template <class T, int kBlock>
__global__ void sample_rows_kernel(const T* __restrict__ logits, std::int64_t vocab, std::int64_t stride,
                                   const SampleRowLayout* __restrict__ params, std::int32_t* __restrict__ tokens,
                                   float* __restrict__ logprobs) {
  using ReduceKey = cub::BlockReduce<unsigned long long, kBlock>;
  using ReduceSum = cub::BlockReduce<double, kBlock>;
  using Scan = cub::BlockScan<double, kBlock>;
  __shared__ union {
    typename ReduceKey::TempStorage key;
    typename ReduceSum::TempStorage sum;
    typename Scan::TempStorage scan;
  } tmp;
  __shared__ unsigned count[256];
  __shared__ double weight[256];
  __shared__ unsigned long long s_best;
  __shared__ float s_lse;
  __shared__ unsigned s_prefix;
  __shared__ int s_stop, s_owner;
  __shared__ double s_target;
  const int tid = threadIdx.x;
  const std::int64_t r = blockIdx.x;
  const T* row = logits + r * stride;
  const SampleRowLayout p = params[r];
  // (a)
  unsigned long long best = 0;
  Lse acc{-INFINITY, 0.0f};
  int bad = 0;
  for (std::int64_t i = tid; i < vocab; i += kBlock) {
    const float x = to_float(row[i]);
    bad |= isnan(x) || x == INFINITY;
    lse_add(acc, x);
    const unsigned long long k = (static_cast<unsigned long long>(ordered_key(x)) << 32) | (0xffffffffu - static_cast<unsigned>(i));
    best = k > best ? k : best;
  }
  bad = __syncthreads_or(bad);
  best = ReduceKey(tmp.key).Reduce(best, MaxOp{});
  const Lse total = block_reduce<kBlock>(acc);
  if (tid == 0) {
    s_best = best;
    s_lse = total.s == 0.0f ? -INFINITY : total.m + logf(total.s);
  }
  __syncthreads();
  const std::int64_t arg = 0xffffffffu - static_cast<unsigned>(s_best & 0xffffffffu);
  const float m = to_float(row[arg]);
  if (bad || m == -INFINITY) {
    if (tid == 0) {
      tokens[r] = -1;
      if (logprobs) logprobs[r] = NAN;
    }
    return;
  }
  auto write = [&](std::int64_t token) {
    tokens[r] = static_cast<std::int32_t>(token);
    if (logprobs) logprobs[r] = to_float(row[token]) - s_lse;
  };
  if (!(p.temperature > 0.0f)) {
    if (tid == 0) write(arg);
    return;
  }
  const float temp = p.temperature;
  unsigned threshold = 0;  // kept: key >= threshold and w >= min_p
  // (b)
  if (p.top_k > 0 && p.top_k < vocab) {
    unsigned prefix = 0, mask = 0, remaining = static_cast<unsigned>(p.top_k);
    for (int shift = 24; shift >= 0; shift -= 8) {
      for (int b = tid; b < 256; b += kBlock) count[b] = 0;
      __syncthreads();
      for (std::int64_t i = tid; i < vocab; i += kBlock) {
        const unsigned k = ordered_key(to_float(row[i]));
        if ((k & mask) == prefix) atomicAdd(&count[(k >> shift) & 255u], 1u);
      }
      __syncthreads();
      if (tid == 0) {
        unsigned cum = 0;
        int b = 255;
        for (; b > 0; --b) {
          if (cum + count[b] >= remaining) break;
          cum += count[b];
        }
        remaining -= cum;
        s_prefix = prefix | (static_cast<unsigned>(b) << shift);
      }
      __syncthreads();
      prefix = s_prefix;
      mask |= 255u << shift;
    }
    threshold = prefix;
  }
  // (c)
  if (p.top_p < 1.0f) {
    double z = 0.0;
    for (std::int64_t i = tid; i < vocab; i += kBlock) {
      const float x = to_float(row[i]);
      if (ordered_key(x) >= threshold) z += expf((x - m) / temp);
    }
    z = ReduceSum(tmp.sum).Sum(z);
    if (tid == 0) {
      s_target = static_cast<double>(p.top_p) * z;
      s_stop = 0;
    }
    __syncthreads();
    double remaining = s_target;  // used by thread 0
    unsigned prefix = 0, mask = 0;
    for (int shift = 24; shift >= 0 && !s_stop; shift -= 8) {
      for (int b = tid; b < 256; b += kBlock) {
        count[b] = 0;
        weight[b] = 0.0;
      }
      __syncthreads();
      for (std::int64_t i = tid; i < vocab; i += kBlock) {
        const float x = to_float(row[i]);
        const unsigned k = ordered_key(x);
        if (k >= threshold && (k & mask) == prefix) {
          atomicAdd(&count[(k >> shift) & 255u], 1u);
          atomicAdd(&weight[(k >> shift) & 255u], static_cast<double>(expf((x - m) / temp)));
        }
      }
      __syncthreads();
      if (tid == 0) {
        double cum = 0.0;
        int pick = -1;
        for (int b = 255; b >= 0; --b) {
          if (count[b] == 0) continue;
          if (cum + weight[b] >= remaining) {
            pick = b;
            break;
          }
          cum += weight[b];
        }
        if (pick < 0) {
          s_stop = 1;  // rounding: the nucleus never reached p; keep everything (as the CPU version)
        } else {
          remaining -= cum;
          s_prefix = prefix | (static_cast<unsigned>(pick) << shift);
        }
      }
      __syncthreads();
      if (s_stop) break;
      prefix = s_prefix;
      mask |= 255u << shift;
      __syncthreads();
    }
    if (!s_stop) threshold = prefix;
  }
  // (d)
  const std::int64_t chunk = (vocab + kBlock - 1) / kBlock;
  const std::int64_t begin = tid * chunk, end = begin + chunk < vocab ? begin + chunk : vocab;
  auto kept_weight = [&](std::int64_t i) {
    const float x = to_float(row[i]);
    if (ordered_key(x) < threshold) return 0.0f;
    const float w = expf((x - m) / temp);
    return w >= p.min_p ? w : 0.0f;
  };
  double sum = 0.0;
  for (std::int64_t i = begin; i < end; ++i) sum += kept_weight(i);
  double excl = 0.0, all = 0.0;
  if (tid == 0) s_owner = -1;
  __syncthreads();
  Scan(tmp.scan).ExclusiveSum(sum, excl, all);
  const double target = p.uniform * all;
  if (sum > 0.0 && excl <= target) atomicMax(&s_owner, tid);
  __syncthreads();
  if (tid == s_owner) {
    double cum = excl;
    std::int64_t last = -1, token = -1;
    for (std::int64_t i = begin; i < end && token < 0; ++i) {
      const float w = kept_weight(i);
      if (w == 0.0f) continue;
      cum += w;
      last = i;
      if (cum > target) token = i;
    }
    write(token < 0 ? last : token);
  }
}

}  // namespace

int launch_log_softmax_gather(const void* logits, int type, std::int64_t rows, std::int64_t vocab, std::int64_t stride,
                              const std::int32_t* targets, float* out, void* stream) {
  if (rows == 0) return 0;
  constexpr int kBlock = 512;
  const auto s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case 0: log_softmax_gather_kernel<float, kBlock><<<rows, kBlock, 0, s>>>(static_cast<const float*>(logits), vocab, stride, targets, out); break;
    case 1: log_softmax_gather_kernel<__nv_bfloat16, kBlock><<<rows, kBlock, 0, s>>>(static_cast<const __nv_bfloat16*>(logits), vocab, stride, targets, out); break;
    default: log_softmax_gather_kernel<__half, kBlock><<<rows, kBlock, 0, s>>>(static_cast<const __half*>(logits), vocab, stride, targets, out); break;
  }
  return static_cast<int>(cudaGetLastError());
}

int launch_lm_head_logprobs(const float* hidden, const float* weight, std::int64_t n, std::int64_t d, std::int64_t vocab,
                            const std::int32_t* targets, float* out, void* stream) {
  if (n == 0) return 0;
  const auto blocks = static_cast<unsigned>((n + kRows - 1) / kRows);
  lm_head_logprobs_kernel<<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(hidden, weight, n, d, vocab, targets, out);
  return static_cast<int>(cudaGetLastError());
}

int launch_pair_scores(const float* hidden, std::int64_t d, const std::int64_t* positions, std::int64_t n, const float* good,
                       const float* bad, float bias_good, float bias_bad, float* out, void* stream) {
  if (n == 0) return 0;
  constexpr int kWarps = 8;
  const auto blocks = static_cast<unsigned>((n + kWarps - 1) / kWarps);
  pair_scores_kernel<<<blocks, kWarps * 32, 0, static_cast<cudaStream_t>(stream)>>>(hidden, d, positions, n, good, bad, bias_good, bias_bad, out);
  return static_cast<int>(cudaGetLastError());
}

int launch_sample_rows(const void* logits, int type, std::int64_t rows, std::int64_t vocab, std::int64_t stride, const SampleRowLayout* params,
                       std::int32_t* tokens, float* logprobs, void* stream) {
  if (rows == 0) return 0;
  constexpr int kBlock = 512;
  const auto s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case 0: sample_rows_kernel<float, kBlock><<<rows, kBlock, 0, s>>>(static_cast<const float*>(logits), vocab, stride, params, tokens, logprobs); break;
    case 1: sample_rows_kernel<__nv_bfloat16, kBlock><<<rows, kBlock, 0, s>>>(static_cast<const __nv_bfloat16*>(logits), vocab, stride, params, tokens, logprobs); break;
    default: sample_rows_kernel<__half, kBlock><<<rows, kBlock, 0, s>>>(static_cast<const __half*>(logits), vocab, stride, params, tokens, logprobs); break;
  }
  return static_cast<int>(cudaGetLastError());
}

const char* error_string(int code) { return cudaGetErrorString(static_cast<cudaError_t>(code)); }

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

}  // namespace ttsearch::cuda::detail
