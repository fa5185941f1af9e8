#pragma once
/// A small, seeded, splittable random number generator (xoshiro256** seeded by SplitMix64).
///
/// `split(k)` derives an independent child stream from the generator's *seed* and `k` only, not
/// from how many numbers were drawn, so a search can hand request i the stream `split(i)` and get
/// the same numbers whatever else happened in the batch.
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>

namespace ttsearch {

/// SplitMix64 finaliser: a good 64-bit mixing function (Steele, Lea, Flood 2014).
constexpr std::uint64_t mix64(std::uint64_t z) noexcept {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Combines two 64-bit values into one well-mixed seed.
constexpr std::uint64_t hash_combine(std::uint64_t a, std::uint64_t b) noexcept {
  return mix64(a ^ (mix64(b) + 0x632be59bd9b4e019ULL + (a << 6) + (a >> 2)));
}

/// FNV-1a over bytes, then mixed: a stable hash for strings (not std::hash, which varies).
constexpr std::uint64_t hash_bytes(const char* data, std::size_t n,
                                   std::uint64_t seed = 0xcbf29ce484222325ULL) noexcept {
  std::uint64_t h = seed;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

class Rng {
 public:
  using result_type = std::uint64_t;

  explicit Rng(std::uint64_t seed = 0) noexcept : seed_(seed) {
    std::uint64_t s = seed;
    for (auto& word : state_) {
      s += 0x9e3779b97f4a7c15ULL;
      word = mix64(s);
    }
  }

  /// The seed this generator was built from.
  [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }

  /// An independent generator for stream `stream`; depends only on seed() and `stream`.
  [[nodiscard]] Rng split(std::uint64_t stream) const noexcept {
    return Rng(hash_combine(seed_, stream));
  }

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }
  result_type operator()() noexcept { return next_u64(); }

  std::uint64_t next_u64() noexcept {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  /// Uniform integer in [0, n); n must be > 0. Lemire's nearly-divisionless method.
  std::uint64_t below(std::uint64_t n) noexcept {
    if (n == 0) return 0;
    __uint128_t m = static_cast<__uint128_t>(next_u64()) * n;
    auto low = static_cast<std::uint64_t>(m);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<__uint128_t>(next_u64()) * n;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

  /// Uniform integer in [lo, hi] (inclusive).
  std::int64_t uniform_int(std::int64_t lo, std::int64_t hi) noexcept {
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }

  bool bernoulli(double p) noexcept { return uniform() < p; }

  /// Standard normal (Box-Muller; one value per call, the pair's twin is discarded for
  /// simplicity and statelessness).
  double normal() noexcept {
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
  }
  std::uint64_t seed_;
  std::uint64_t state_[4]{};
};

}  // namespace ttsearch
