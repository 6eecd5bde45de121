#pragma once
// Boost.Math forward-mode autodiff (fvar) as an Eigen scalar, so that the forward oracle's own code
// (extract_slice, naive_raw_logits, final_logits, softmax_attention) runs unchanged on dual numbers
// and yields directional derivatives of the forward: the independent check of the closed-form
// backward (tests/test_backward.cpp).
//
// Why instantiate the oracle rather than write a separate small forward: the backward claims to be
// the gradient of *this* forward, so differentiating the very code that computes o tests the claim
// directly; the forward itself is pinned by the exact-rational trust chain (test_exact_logits).
//
// Eigen needs NumTraits for a custom scalar (what boost/multiprecision/eigen.hpp does for the
// multiprecision types). fvar<R, 1> carries a value and one derivative: reading costs two R, add
// two R additions, multiply three R multiplications and one addition.
#include <boost/math/differentiation/autodiff.hpp>

#include <Eigen/Core>
#include <limits>

namespace path::testing {

namespace ad = boost::math::differentiation;

// A first-order dual number over R: value + eps * derivative.
template <class R>
using Dual = ad::autodiff_fvar<R, 1>;

template <class R>
Dual<R> dual(const R& value, const R& derivative) {
  const Dual<R> x = ad::make_fvar<R, 1>(value);  // value + eps
  return (x - value) * derivative + value;       // each step exact: 0 + eps, 0 + eps d, value + eps d
}

template <class R>
R value_of(const ad::detail::fvar<R, 1>& x) {
  return x[0];
}

template <class R>
R derivative_of(const ad::detail::fvar<R, 1>& x) {
  return x[1];  // the Taylor coefficient, = derivative(1) (1! = 1) without Boost's factorial, which
                // rationals lack
}

}  // namespace path::testing

namespace Eigen {

template <class R, std::size_t Order>
struct NumTraits<boost::math::differentiation::detail::fvar<R, Order>> : NumTraits<R> {
  using Self = boost::math::differentiation::detail::fvar<R, Order>;
  using Real = Self;
  using NonInteger = Self;
  using Nested = Self;
  using Literal = Self;
  enum {
    IsComplex = 0,
    IsInteger = 0,
    IsSigned = 1,
    RequireInitialization = 1,
    ReadCost = 2 * NumTraits<R>::ReadCost,
    AddCost = 2 * NumTraits<R>::AddCost,
    MulCost = 3 * NumTraits<R>::MulCost + NumTraits<R>::AddCost
  };
  static Self epsilon() { return Self(NumTraits<R>::epsilon()); }
  static Self dummy_precision() { return Self(NumTraits<R>::dummy_precision()); }
  static Self highest() { return Self(NumTraits<R>::highest()); }
  static Self lowest() { return Self(NumTraits<R>::lowest()); }
  static int digits10() { return NumTraits<R>::digits10(); }
};

}  // namespace Eigen
