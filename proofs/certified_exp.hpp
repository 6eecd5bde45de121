// Rigorous rational enclosures of exp(x) for rational x (no floating point).
//
// x = m + f with m = floor(x), f in [0, 1):
//   exp(f) in [S_N(f), S_N(f) + 3 f^{N+1}/(N+1)!]   (Taylor sum S_N; remainder <= e f^{N+1}/(N+1)!)
//   exp(m) = e^m with e enclosed by the same series at f = 1, raised by repeated squaring.
// N is chosen so that the remainder 3/(N+1)! is below 2^-(precision + 16).
#pragma once

#include <map>

#include "interval.hpp"

namespace proofs {

namespace detail {

// Enclosure of exp(f) for 0 <= f <= 1.
inline Interval exp_unit(const BigQ& f) {
  const BigQ tiny = BigQ(1) / BigQ(BigZ(1) << static_cast<unsigned long long>(precision_bits() + 16));
  Interval term(BigQ(1));
  Interval sum(BigQ(1));
  BigQ remainder = 3;  // 3 / (N+1)! after the loop: bounds e^f - S_N(f) for f <= 1
  for (int k = 1; remainder >= tiny; ++k) {
    term = term * Interval(f / BigQ(k));
    sum = sum + term;
    remainder /= (k + 1);
  }
  return Interval(sum.lo, sum.hi + remainder);
}

inline Interval power(Interval base, BigZ exponent) {
  Interval result(BigQ(1));
  while (exponent > 0) {
    if ((exponent & 1) != 0) result = result * base;
    exponent >>= 1;
    if (exponent > 0) base = base * base;
  }
  return result;
}

inline BigZ floor_of(const BigQ& x) {
  const BigZ n = boost::multiprecision::numerator(x);
  const BigZ d = boost::multiprecision::denominator(x);
  BigZ q = n / d;  // truncates toward zero
  if (n < 0 && q * d != n) q -= 1;
  return q;
}

}  // namespace detail

// exp(x), enclosed; results are cached (per precision) because the constructions only produce
// a few distinct logit differences.
inline Interval certified_exp(const BigQ& x) {
  static std::map<BigQ, Interval> cache;
  static long long cached_precision = -1;
  static Interval e;
  if (cached_precision != precision_bits()) {
    cache.clear();
    cached_precision = precision_bits();
    e = detail::exp_unit(BigQ(1));
  }
  if (auto it = cache.find(x); it != cache.end()) return it->second;
  const BigZ m = detail::floor_of(x);
  const BigQ f = x - BigQ(m);
  Interval em = detail::power(e, m >= 0 ? m : BigZ(-m));
  if (m < 0) em = divide_by_positive(Interval(BigQ(1)), em);
  const Interval result = f.is_zero() ? em : detail::exp_unit(f) * em;
  cache.emplace(x, result);
  return result;
}

}  // namespace proofs
