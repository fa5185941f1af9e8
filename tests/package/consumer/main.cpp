// A downstream project: links the installed ttsearch, plugs in its own generator and verifier.
#include <cstdio>

#include <ttsearch/ttsearch.hpp>
#include <ttsearch/cuda/scoring.hpp>
#ifdef CONSUMER_HAS_TORCH
#include <ttsearch/torch/device.hpp>
#endif

struct FixedGenerator {  // a user's own backend: always answers 42, or 41 on odd seeds
  ttsearch::Generation generate(std::span<const ttsearch::GenerateRequest> reqs) {
    ttsearch::Generation g;
    for (const auto& r : reqs) {
      std::vector<ttsearch::Step> steps;
      for (int i = 0; i < r.num_samples; ++i) {
        ttsearch::Step s;
        s.text = (i % 3 == 2) ? "The answer is \\boxed{41}." : "The answer is \\boxed{42}.";
        s.num_tokens = 8;
        s.finish = ttsearch::FinishReason::kEos;
        steps.push_back(s);
      }
      g.outputs.push_back(std::move(steps));
    }
    return g;
  }
};

int main() {
  ttsearch::Problem p{.id = "p", .question = "6 * 7?", .reference = "42"};
  FixedGenerator gen;
  auto r = ttsearch::majority_vote(p, gen, {.n = 6});
#ifdef CONSUMER_HAS_TORCH
  std::printf("consumer: torch %s, device %s\n", ttsearch::torch::torch_version().c_str(),
              ttsearch::torch::parse_device("cpu").str().c_str());
#endif
  // the fused scoring ops' CPU versions are header-only; the CUDA ones come with ttsearch::cuda
  const float logits[3] = {0.0f, 0.0f, 0.0f};
  const std::int32_t target = 1;
  float logprob = 0;
  ttsearch::cuda::log_softmax_gather_cpu(logits, ttsearch::cuda::ScalarType::kFloat32, 1, 3, 3, &target, &logprob);
  std::printf("consumer: log(1/3) = %.4f\n", logprob);
#ifdef TTSEARCH_HAVE_CUDA_KERNELS
  std::printf("consumer: ttsearch::cuda linked, device %s\n", ttsearch::cuda::device_available() ? "present" : "absent");
#endif
  std::printf("consumer: answer %s (%lld tokens)\n", r.answer.c_str(), static_cast<long long>(r.ledger.generated_tokens));
  return r.answer == "42" ? 0 : 1;
}
