// Closed intervals [lo, hi] with exact rational endpoints and outward rounding.
//
// Softmax needs exp, which maps rationals to irrationals; the proofs never use floating point:
// every quantity after a softmax is carried as a rational interval that provably contains the
// true real value. After each operation the endpoints are rounded outward (lo down, hi up) to
// precision_bits() significant bits, so the numbers stay small; rounding only widens, so every
// enclosure stays valid. The precision is a program-wide setting: Theorem A.1 claims errors
// below 1/n^101, so its check needs more than 101 log2 n bits.
#pragma once

#include <algorithm>
#include <ostream>

#include "scalar.hpp"

namespace proofs {

// Significant bits kept by the outward rounding (certified_exp.hpp rebuilds its cache when it
// changes; the flip-flop program raises it with the length bound n).
inline long long& precision_bits() {
  static long long bits = 128;
  return bits;
}

namespace detail {

// floor (up = false) or ceil (up = true) of a positive rational to precision_bits() bits.
inline BigQ round_positive(const BigQ& r, bool up) {
  const BigZ a = boost::multiprecision::numerator(r);
  const BigZ b = boost::multiprecision::denominator(r);
  const long long ma = static_cast<long long>(msb(a));
  const long long mb = static_cast<long long>(msb(b));
  const long long p = precision_bits();
  if (ma < p + 32 && mb < p + 32) return r;
  const long long k = p - (ma - mb);  // r * 2^k has about p bits
  BigZ num = a, den = b;
  if (k >= 0)
    num <<= static_cast<unsigned long long>(k);
  else
    den <<= static_cast<unsigned long long>(-k);
  BigZ q = num / den;
  if (up && q * den != num) q += 1;
  BigQ out(q);
  if (k >= 0)
    out /= BigQ(BigZ(1) << static_cast<unsigned long long>(k));
  else
    out *= BigQ(BigZ(1) << static_cast<unsigned long long>(-k));
  return out;
}

inline BigQ round_down(const BigQ& r) {
  if (r.is_zero()) return r;
  return r > 0 ? round_positive(r, false) : -round_positive(-r, true);
}
inline BigQ round_up(const BigQ& r) {
  if (r.is_zero()) return r;
  return r > 0 ? round_positive(r, true) : -round_positive(-r, false);
}

}  // namespace detail

struct Interval {
  BigQ lo, hi;

  Interval() = default;
  explicit Interval(const BigQ& x) : lo(x), hi(x) {}
  Interval(const BigQ& l, const BigQ& h) : lo(detail::round_down(l)), hi(detail::round_up(h)) {}

  bool exact() const { return lo == hi; }
  bool positive() const { return lo > 0; }
  bool negative() const { return hi < 0; }
  bool contains(const BigQ& x) const { return lo <= x && x <= hi; }
};

inline Interval operator+(const Interval& a, const Interval& b) { return Interval(a.lo + b.lo, a.hi + b.hi); }
inline Interval operator-(const Interval& a, const Interval& b) { return Interval(a.lo - b.hi, a.hi - b.lo); }

inline Interval operator*(const Interval& a, const Interval& b) {
  const BigQ p[4] = {a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi};
  return Interval(*std::min_element(p, p + 4), *std::max_element(p, p + 4));
}

inline Interval operator*(const BigQ& c, const Interval& a) {
  return c >= 0 ? Interval(c * a.lo, c * a.hi) : Interval(c * a.hi, c * a.lo);
}

// a / b for b > 0 (throws otherwise: a softmax normalizer is always positive).
inline Interval divide_by_positive(const Interval& a, const Interval& b) {
  if (!b.positive()) throw std::domain_error("interval division by a non-positive enclosure");
  const BigQ p[4] = {a.lo / b.lo, a.lo / b.hi, a.hi / b.lo, a.hi / b.hi};
  return Interval(*std::min_element(p, p + 4), *std::max_element(p, p + 4));
}

// Image of a nondecreasing function: [f(lo), f(hi)] is an exact enclosure.
template <class F>
Interval apply_monotone(const Interval& a, F f) {
  return Interval(f(a.lo), f(a.hi));
}

inline std::ostream& operator<<(std::ostream& os, const Interval& x) {
  if (x.exact()) return os << x.lo;
  return os << '[' << x.lo.convert_to<double>() << ", " << x.hi.convert_to<double>() << ']';
}

}  // namespace proofs
