// The radix prefix cache on its own: matching, splitting where sequences diverge, LRU eviction.
// ATen pulls in glog, whose CHECK macro would clash with Catch's: include it first, then drop it.
#include "../src/torch/prefix_cache.hpp"
#undef CHECK

#include <catch2/catch.hpp>

using ttsearch::torch::detail::PrefixCache;

namespace {
/// Keys whose values encode the token ids, so a gathered match can be checked: [1 head, n, 1].
std::vector<at::Tensor> kv_for(const std::vector<std::int32_t>& ids) {
  std::vector<float> v(ids.begin(), ids.end());
  return {at::tensor(v).view({1, static_cast<std::int64_t>(ids.size()), 1})};
}
std::vector<float> values(const at::Tensor& t) {
  const auto c = t.contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}
}  // namespace

TEST_CASE("prefix cache: match / split on divergence / gather / LRU eviction", "[torch][cache]") {
  PrefixCache c(12);
  const std::vector<std::int32_t> a = {1, 2, 3, 4, 5}, b = {1, 2, 3, 9, 9, 9};
  c.insert(a, kv_for(a), kv_for(a));
  CHECK(c.tokens() == 5);
  auto m = c.match(b, 100);
  CHECK(m.length == 3);
  CHECK(values(m.k[0]) == std::vector<float>{1, 2, 3});
  c.insert(b, kv_for(b), kv_for(b));  // splits [1..5] into [1,2,3] + [4,5], adds [9,9,9]
  CHECK(c.tokens() == 8);
  CHECK(c.match(a, 100).length == 5);
  CHECK(values(c.match(a, 100).v[0]) == std::vector<float>{1, 2, 3, 4, 5});
  CHECK(c.match(b, 100).length == 6);
  CHECK(c.match(b, 4).length == 4);  // the limit leaves tokens to prefill
  CHECK(c.match(std::vector<std::int32_t>{7, 1}, 100).length == 0);
  // capacity 12: adding 6 new tokens evicts the least recently used leaf ([4,5], last touched before b)
  c.match(b, 100);
  const std::vector<std::int32_t> d = {8, 8, 8, 8, 8, 8};
  c.insert(d, kv_for(d), kv_for(d));
  CHECK(c.tokens() <= 12);
  CHECK(c.match(a, 100).length == 3);  // [4,5] is gone, the shared [1,2,3] stays
  CHECK(c.match(b, 100).length == 6);
  CHECK(c.match(d, 100).length == 6);
  PrefixCache off(0);
  off.insert(a, kv_for(a), kv_for(a));
  CHECK(off.tokens() == 0);
}
