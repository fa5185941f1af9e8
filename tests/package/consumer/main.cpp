// A downstream project: links the installed ttsearch, plugs in its own generator and verifier.
#include <cstdio>

#include <ttsearch/ttsearch.hpp>
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
  std::printf("consumer: answer %s (%lld tokens)\n", r.answer.c_str(), static_cast<long long>(r.ledger.generated_tokens));
  return r.answer == "42" ? 0 : 1;
}
