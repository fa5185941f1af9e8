#pragma once
// A GenerateRequest for tests that call a Generator directly.
#include <ttsearch/core/concepts.hpp>

namespace ttsearch::testing {

inline GenerateRequest request(const Problem& p, const SearchTree& t, NodeId parent, int n, SamplingParams params, std::uint64_t seed) {
  GenerateRequest r;
  r.problem = &p;
  r.prefix = t.path(parent);
  r.num_samples = n;
  r.params = std::move(params);
  r.seed = seed;
  return r;
}

}  // namespace ttsearch::testing
