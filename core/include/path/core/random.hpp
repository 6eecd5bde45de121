#pragma once
// Seeded random draws that are the same on every standard library and compiler
// (docs/architecture.md). The standard's engines are specified bit for bit, but its distributions
// (normal, uniform_real, uniform_int, bernoulli) and std::hash are not: a suite drawn with them
// from one seed differs between libstdc++, libc++ and MSVC. So every draw here is our own
// transform of the bits of a named generator, SplitMix64 (Steele, Lea and Flood, "Fast
// splittable pseudorandom number generators", OOPSLA 2014), using only integer arithmetic and
// correctly rounded IEEE operations (+ - * / sqrt): no libm function whose last bit may differ.
// tests/test_random.cpp pins the first values for a fixed seed. Standard library only.
#include <cmath>
#include <cstdint>
#include <string_view>

namespace path::random {

// SplitMix64: state advances by the golden gamma; each output is the state through a finalizer.
class SplitMix64 {
 public:
  using result_type = std::uint64_t;
  explicit constexpr SplitMix64(std::uint64_t seed) : state_(seed) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  constexpr result_type operator()() { return mix(state_ += 0x9e3779b97f4a7c15ULL); }
  // The finalizer alone (a good 64-bit hash of one word).
  static constexpr std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

using Rng = SplitMix64;

// A seed derived from a parent seed and a name (a case, a test): FNV-1a over the name's bytes,
// then mixed with the parent. Replaces std::hash, whose values are implementation-defined.
constexpr std::uint64_t derive_seed(std::uint64_t parent, std::string_view name) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return SplitMix64::mix(parent ^ h);
}

// Uniform in [0, 1): the top 53 bits as a multiple of 2^-53.
inline double uniform01(Rng& r) { return static_cast<double>(r() >> 11) * 0x1.0p-53; }

// Uniform in [lo, hi).
inline double uniform(Rng& r, double lo, double hi) { return lo + (hi - lo) * uniform01(r); }

// Uniform integer in [0, n) for n >= 1, without modulo bias (rejection of the short last range).
inline std::uint64_t below(Rng& r, std::uint64_t n) {
  const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
  for (;;) {
    const std::uint64_t x = r();
    if (x >= threshold) return x % n;
  }
}

// Uniform integer in [lo, hi] (lo <= hi).
inline std::int64_t integer(Rng& r, std::int64_t lo, std::int64_t hi) {
  const std::uint64_t span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo) + 1;
  if (span == 0) return static_cast<std::int64_t>(r());  // the whole 64-bit range
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + below(r, span));
}

// True with probability p.
inline bool bernoulli(Rng& r, double p) { return uniform01(r) < p; }

// Natural logarithm of x > 0 (finite, normal) from correctly rounded operations only: x = m 2^e
// with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(f), f = (m - 1)/(m + 1), |f| < 0.172, by its
// series to 1e-18. Accurate to a few ulps; its point is to give the same bits everywhere.
inline double portable_log(double x) {
  int e = 0;
  double m = std::frexp(x, &e);  // exact: m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2;
    --e;
  }
  const double f = (m - 1) / (m + 1), s = f * f;
  double series = 0;
  for (int k = 21; k >= 1; k -= 2) series = series * s + 1.0 / k;  // sum s^j / (2j + 1), Horner
  constexpr double ln2_hi = 0x1.62e42fefa3800p-1, ln2_lo = 0x1.ef35793c76730p-45;
  return (static_cast<double>(e) * ln2_lo + 2 * f * series) + static_cast<double>(e) * ln2_hi;
}

// e^x for |x| < 700 from correctly rounded operations only: x = k ln 2 + r, |r| <= ln 2 / 2, e^r by
// its Taylor series to 1e-18, times 2^k (exact). Same purpose as portable_log.
inline double portable_exp(double x) {
  constexpr double ln2_hi = 0x1.62e42fefa3800p-1, ln2_lo = 0x1.ef35793c76730p-45;
  const double k = std::nearbyint(x * 1.4426950408889634);  // exact integer; ties as the mode says, both fine
  const double r = (x - k * ln2_hi) - k * ln2_lo;
  double term = 1, sum = 1;
  for (int n = 1; n <= 20; ++n) {
    term = term * r / n;
    sum += term;
  }
  return std::ldexp(sum, static_cast<int>(k));
}

// Standard normal: Marsaglia's polar method (one of each pair; the other is dropped so that a
// draw's value does not depend on what was drawn before it in another call pattern).
inline double normal(Rng& r) {
  for (;;) {
    const double a = 2 * uniform01(r) - 1, b = 2 * uniform01(r) - 1;
    const double s = a * a + b * b;
    if (s > 0 && s < 1) return a * std::sqrt(-2 * portable_log(s) / s);
  }
}

inline double normal(Rng& r, double mean, double stddev) { return mean + stddev * normal(r); }

}  // namespace path::random
