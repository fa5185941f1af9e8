// The fused scoring ops against libtorch's reference ops, in the same run:
//   (1) log-softmax + gather: fused single pass vs at::log_softmax(x, -1).gather(-1, t)
//   (2) LM-head log-probs: fused tiles over the vocabulary vs log_softmax(h W^T).gather
//   (4) sampling one token per row of [rows, V] logits (temperature 0.8, top-p 0.95): the fused
//       sampler vs Hugging Face's way in libtorch ops (sort, softmax, cumsum, mask, multinomial);
//       rows = TTSEARCH_BENCH_ROWS (64), V = TTSEARCH_BENCH_SAMPLE_V (151936: one decode step of a
//       batch of 64 with Qwen2.5's vocabulary)
// CPU always (libtorch CPU, this machine); CUDA when ttsearch::cuda is built, libtorch has CUDA and
// a GPU is present (the GPU machine). Counters: GB_per_s (bytes of logits read once / second) and,
// for the reference rows, extra_bytes (the [rows, V] intermediates the fused op never allocates).
// Shapes: TTSEARCH_BENCH_B, _T, _V (default 4, 64, 32000 on CPU; perf.md's GPU shape is B=64,
// T=1024, V=151936).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>

#include <ttsearch/cuda/sampling.hpp>
#include <ttsearch/cuda/scoring.hpp>

namespace {

using namespace ttsearch::cuda;

std::int64_t env_int(const char* k, std::int64_t d) {
  const char* v = std::getenv(k);
  return v ? std::atoll(v) : d;
}

struct Shape {
  std::int64_t B = env_int("TTSEARCH_BENCH_B", 4), T = env_int("TTSEARCH_BENCH_T", 64), V = env_int("TTSEARCH_BENCH_V", 32000);
};

at::ScalarType dtype_of(int i) { return i == 0 ? at::kFloat : at::kBFloat16; }
ScalarType ours_of(int i) { return i == 0 ? ScalarType::kFloat32 : ScalarType::kBFloat16; }

void bytes_counter(benchmark::State& st, double bytes_per_iter) {
  st.counters["GB_per_s"] = benchmark::Counter(bytes_per_iter * static_cast<double>(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_LogSoftmaxGather_Fused_CPU(benchmark::State& st) {
  const Shape s;
  const auto x = at::randn({s.B, s.T, s.V}).to(dtype_of(static_cast<int>(st.range(0))));
  const auto t = at::randint(0, s.V, {s.B, s.T}, at::kInt);
  std::vector<float> out(static_cast<std::size_t>(s.B * s.T));
  for (auto _ : st) {
    log_softmax_gather_cpu(x.data_ptr(), ours_of(static_cast<int>(st.range(0))), s.B * s.T, s.V, s.V, t.data_ptr<std::int32_t>(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  bytes_counter(st, static_cast<double>(x.nbytes()));
}

void BM_LogSoftmaxGather_Torch_CPU(benchmark::State& st) {
  const Shape s;
  const auto x = at::randn({s.B, s.T, s.V}).to(dtype_of(static_cast<int>(st.range(0))));
  const auto t = at::randint(0, s.V, {s.B, s.T, 1}, at::kLong);
  for (auto _ : st) {
    auto r = at::log_softmax(x.to(at::kFloat), -1).gather(-1, t);
    benchmark::DoNotOptimize(r.data_ptr());
  }
  bytes_counter(st, static_cast<double>(x.nbytes()));
  st.counters["extra_bytes"] = static_cast<double>(s.B * s.T * s.V * 4);
}

void BM_LmHeadLogprobs_Fused_CPU(benchmark::State& st) {
  const Shape s;
  const std::int64_t n = s.B * s.T, d = 256;
  const auto h = at::randn({n, d}), w = at::randn({s.V, d}) * 0.05;
  const auto t = at::randint(0, s.V, {n}, at::kInt);
  std::vector<float> out(static_cast<std::size_t>(n));
  for (auto _ : st) {
    lm_head_logprobs_cpu(h.data_ptr<float>(), w.data_ptr<float>(), n, d, s.V, t.data_ptr<std::int32_t>(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  st.counters["extra_bytes"] = 0;
}

void BM_LmHeadLogprobs_Torch_CPU(benchmark::State& st) {
  const Shape s;
  const std::int64_t n = s.B * s.T, d = 256;
  const auto h = at::randn({n, d}), w = at::randn({s.V, d}) * 0.05;
  const auto t = at::randint(0, s.V, {n, 1}, at::kLong);
  for (auto _ : st) {
    auto r = at::log_softmax(at::matmul(h, w.t()), -1).gather(-1, t);
    benchmark::DoNotOptimize(r.data_ptr());
  }
  st.counters["extra_bytes"] = static_cast<double>(2 * n * s.V * 4);  // logits + log-softmax
}

struct SampleShape {
  std::int64_t rows = env_int("TTSEARCH_BENCH_ROWS", 64), V = env_int("TTSEARCH_BENCH_SAMPLE_V", 151936);
};
constexpr float kTemperature = 0.8f, kTopP = 0.95f;

std::vector<SampleRow> sample_params(std::int64_t rows) {
  std::vector<SampleRow> p(static_cast<std::size_t>(rows));
  for (std::size_t r = 0; r < p.size(); ++r) p[r] = {.uniform = static_cast<double>(r) / static_cast<double>(p.size()), .temperature = kTemperature, .top_p = kTopP};
  return p;
}

/// Hugging Face's temperature + top-p warpers and multinomial, in libtorch ops.
at::Tensor torch_sample(const at::Tensor& logits) {
  const auto [sorted, order] = (logits.to(at::kFloat) / kTemperature).sort(-1, /*descending=*/true);
  const auto probs = at::softmax(sorted, -1);
  const auto outside = (probs.cumsum(-1) - probs) > kTopP;  // mass before a token already reaches top_p
  const auto kept = at::softmax(sorted.masked_fill(outside, -std::numeric_limits<float>::infinity()), -1);
  return order.gather(-1, at::multinomial(kept, 1));
}

void BM_Sample_Fused_CPU(benchmark::State& st) {
  const SampleShape s;
  const auto x = (at::randn({s.rows, s.V}) * 3).to(dtype_of(static_cast<int>(st.range(0))));
  const auto params = sample_params(s.rows);
  std::vector<std::int32_t> tok(params.size());
  std::vector<float> lp(params.size());
  for (auto _ : st) {
    sample_rows_cpu(x.data_ptr(), ours_of(static_cast<int>(st.range(0))), s.rows, s.V, s.V, params.data(), tok.data(), lp.data());
    benchmark::DoNotOptimize(tok.data());
  }
  bytes_counter(st, static_cast<double>(x.nbytes()));
}

void BM_Sample_Torch_CPU(benchmark::State& st) {
  const SampleShape s;
  const auto x = (at::randn({s.rows, s.V}) * 3).to(dtype_of(static_cast<int>(st.range(0))));
  for (auto _ : st) benchmark::DoNotOptimize(torch_sample(x).data_ptr());
  bytes_counter(st, static_cast<double>(x.nbytes()));
}

#ifdef TTSEARCH_HAVE_CUDA_KERNELS
bool cuda_ready() { return device_available() && torch::cuda::is_available(); }

void BM_LogSoftmaxGather_Fused_CUDA(benchmark::State& st) {
  if (!cuda_ready()) return st.SkipWithError("no CUDA device (or libtorch without CUDA)");
  const Shape s;
  const auto x = at::randn({s.B, s.T, s.V}, at::kCUDA).to(dtype_of(static_cast<int>(st.range(0))));
  const auto t = at::randint(0, s.V, {s.B, s.T}, at::TensorOptions(at::kCUDA).dtype(at::kInt));
  auto out = at::empty({s.B, s.T}, at::TensorOptions(at::kCUDA).dtype(at::kFloat));
  for (auto _ : st) {
    log_softmax_gather_cuda(x.data_ptr(), ours_of(static_cast<int>(st.range(0))), s.B * s.T, s.V, s.V, t.data_ptr<std::int32_t>(),
                            out.data_ptr<float>());
    torch::cuda::synchronize();
  }
  bytes_counter(st, static_cast<double>(x.nbytes()));
}

void BM_LogSoftmaxGather_Torch_CUDA(benchmark::State& st) {
  if (!cuda_ready()) return st.SkipWithError("no CUDA device (or libtorch without CUDA)");
  const Shape s;
  const auto x = at::randn({s.B, s.T, s.V}, at::kCUDA).to(dtype_of(static_cast<int>(st.range(0))));
  const auto t = at::randint(0, s.V, {s.B, s.T, 1}, at::TensorOptions(at::kCUDA).dtype(at::kLong));
  for (auto _ : st) {
    auto r = at::log_softmax(x.to(at::kFloat), -1).gather(-1, t);
    torch::cuda::synchronize();
  }
  bytes_counter(st, static_cast<double>(x.nbytes()));
}

void BM_Sample_Fused_CUDA(benchmark::State& st) {
  if (!cuda_ready()) return st.SkipWithError("no CUDA device (or libtorch without CUDA)");
  const SampleShape s;
  const auto x = (at::randn({s.rows, s.V}, at::kCUDA) * 3).to(dtype_of(static_cast<int>(st.range(0))));
  const auto host = sample_params(s.rows);
  const auto bytes = static_cast<std::int64_t>(host.size() * sizeof(SampleRow));
  const auto params = at::from_blob(const_cast<SampleRow*>(host.data()), {bytes}, at::kByte).to(at::kCUDA);
  auto tok = at::empty({s.rows}, at::TensorOptions(at::kCUDA).dtype(at::kInt));
  auto lp = at::empty({s.rows}, at::TensorOptions(at::kCUDA).dtype(at::kFloat));
  for (auto _ : st) {
    sample_rows_cuda(x.data_ptr(), ours_of(static_cast<int>(st.range(0))), s.rows, s.V, s.V, reinterpret_cast<const SampleRow*>(params.data_ptr()),
                     tok.data_ptr<std::int32_t>(), lp.data_ptr<float>());
    torch::cuda::synchronize();
  }
  bytes_counter(st, static_cast<double>(x.nbytes()));
}

void BM_Sample_Torch_CUDA(benchmark::State& st) {
  if (!cuda_ready()) return st.SkipWithError("no CUDA device (or libtorch without CUDA)");
  const SampleShape s;
  const auto x = (at::randn({s.rows, s.V}, at::kCUDA) * 3).to(dtype_of(static_cast<int>(st.range(0))));
  for (auto _ : st) {
    benchmark::DoNotOptimize(torch_sample(x).data_ptr());
    torch::cuda::synchronize();
  }
  bytes_counter(st, static_cast<double>(x.nbytes()));
}

BENCHMARK(BM_Sample_Fused_CUDA)->Arg(0)->Arg(1)->UseRealTime();
BENCHMARK(BM_Sample_Torch_CUDA)->Arg(0)->Arg(1)->UseRealTime();
BENCHMARK(BM_LogSoftmaxGather_Fused_CUDA)->Arg(0)->Arg(1)->UseRealTime();
BENCHMARK(BM_LogSoftmaxGather_Torch_CUDA)->Arg(0)->Arg(1)->UseRealTime();
#endif

}  // namespace

// Arg: 0 = fp32 logits, 1 = bf16 logits
BENCHMARK(BM_LogSoftmaxGather_Fused_CPU)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LogSoftmaxGather_Torch_CPU)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LmHeadLogprobs_Fused_CPU)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LmHeadLogprobs_Torch_CPU)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Sample_Fused_CPU)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Sample_Torch_CPU)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
