// The two exact scalar types of the proofs and the conversions between them.
//
// BigQ (path::rational: GMP rationals through Boost.Multiprecision, or Boost's cpp_rational
// where GMP is absent; expression templates off) is the reference
// exact type; Q64 (exact_q64.hpp) is the fast exact type of the exhaustive sweeps. Both are exact:
// a construction evaluated with either gives bit-identical logits, which the programs check.
#pragma once

#include "path/scalar.hpp"
#include <stdexcept>

#include "exact_q64.hpp"

namespace proofs {

using BigQ = path::rational;
using BigZ = path::big_integer;

inline BigQ to_bigq(const BigQ& x) { return x; }
inline BigQ to_bigq(const Q64& x) { return BigQ(x.num()) / BigQ(x.den()); }

// Exact conversion from BigQ; for Q64 it throws when the value does not fit.
template <class S>
S from_bigq(const BigQ& x);

template <>
inline BigQ from_bigq<BigQ>(const BigQ& x) {
  return x;
}

template <>
inline Q64 from_bigq<Q64>(const BigQ& x) {
  const BigZ n = boost::multiprecision::numerator(x);
  const BigZ d = boost::multiprecision::denominator(x);
  const BigZ limit = BigZ(INT64_MAX);
  if (abs(n) > limit || d > limit) throw std::overflow_error("value does not fit Q64");
  return Q64::ratio(n.convert_to<long long>(), d.convert_to<long long>());
}

inline bool is_zero(const Q64& x) { return x.is_zero(); }
inline bool is_zero(const BigQ& x) { return x.is_zero(); }

}  // namespace proofs
