#include <catch2/catch.hpp>

#include <set>

#include <ttsearch/core/rng.hpp>

using ttsearch::Rng;

TEST_CASE("Rng is deterministic for a seed and differs across seeds", "[core][rng]") {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next_u64();
    REQUIRE(x == b.next_u64());
    (void)c;
  }
  Rng d(42), e(43);
  int same = 0;
  for (int i = 0; i < 100; ++i) same += d.next_u64() == e.next_u64();
  REQUIRE(same == 0);
}

TEST_CASE("Rng::split depends only on the seed and the stream / not on draws", "[core][rng]") {
  Rng a(7);
  const auto before = a.split(3).next_u64();
  for (int i = 0; i < 10; ++i) a.next_u64();
  REQUIRE(a.split(3).next_u64() == before);
  REQUIRE(a.split(3).next_u64() != a.split(4).next_u64());
  REQUIRE(Rng(7).split(3).seed() != Rng(8).split(3).seed());
}

TEST_CASE("Rng distributions have the right moments", "[core][rng]") {
  Rng r(1);
  const int n = 200000;
  double sum = 0, sum2 = 0, usum = 0;
  std::int64_t below_hits[5] = {0, 0, 0, 0, 0};
  for (int i = 0; i < n; ++i) {
    const double z = r.normal();
    sum += z;
    sum2 += z * z;
    const double u = r.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    usum += u;
    below_hits[r.below(5)]++;
  }
  CHECK(sum / n == Approx(0.0).margin(0.01));
  CHECK(sum2 / n == Approx(1.0).margin(0.02));
  CHECK(usum / n == Approx(0.5).margin(0.005));
  for (auto h : below_hits) CHECK(static_cast<double>(h) / n == Approx(0.2).margin(0.005));
  for (int i = 0; i < 1000; ++i) {
    const auto v = r.uniform_int(-3, 3);
    REQUIRE(v >= -3);
    REQUIRE(v <= 3);
  }
}
