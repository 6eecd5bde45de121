#pragma once
// The scalar types the oracles are instantiated on, and exact conversions between them.
//
// Floating types: float, double, long double, quad (113-bit significand, IEEE binary128 layout)
// and mp100 (100 decimal digits, about 333 bits). Exact type: rational (GMP or Boost cpp_rational, exact for every
// double input since a double is a dyadic rational). Expression templates are off so that the
// types compose with Eigen (boost/multiprecision/eigen.hpp supplies Eigen's NumTraits).
#include <boost/multiprecision/cpp_bin_float.hpp>
// Exact rationals: GMP's when the build found it (PATH_HAVE_GMP, cmake/FindGMP.cmake), else
// Boost's header-only cpp_rational (slower, same values: both are exact).
#if PATH_HAVE_GMP
#include <boost/multiprecision/gmp.hpp>
#else
#include <boost/multiprecision/cpp_int.hpp>

#include <iterator>
#include <type_traits>
// Boost 1.74's cpp_int asks, for any type C with a member const_iterator, whether C is a
// container of bytes by naming iterator_traits<C::const_iterator>::value_type outside a SFINAE
// context. Eigen's non-vector expressions declare `const_iterator` as void, so every Eigen
// product of cpp_rational matrices (which makes Eigen test is_convertible<Expression, Scalar>)
// became a hard error. This replaces that one trait with a SFINAE-safe equivalent: the same
// answer for real containers, false where the const_iterator has no value_type.
namespace boost::multiprecision::detail {
template <class C>
struct is_byte_container_imp<C, true> {
 private:
  template <class X>
  static constexpr bool test(typename std::iterator_traits<typename X::const_iterator>::value_type*) {
    using V = std::remove_cv_t<typename std::iterator_traits<typename X::const_iterator>::value_type>;
    return std::is_integral_v<V> && sizeof(V) == 1;
  }
  template <class X>
  static constexpr bool test(...) {
    return false;
  }

 public:
  static const bool value = test<C>(nullptr);
};
}  // namespace boost::multiprecision::detail
#endif
#include <boost/multiprecision/eigen.hpp>

#include <cmath>
#include <string_view>
#include <type_traits>
#include <vector>

#include "path/problem.hpp"

namespace path {

namespace mp = boost::multiprecision;

using quad = mp::cpp_bin_float_quad;
using mp100 = mp::number<mp::cpp_bin_float<100>, mp::et_off>;
#if PATH_HAVE_GMP
using rational = mp::number<mp::gmp_rational, mp::et_off>;
using big_integer = mp::number<mp::gmp_int, mp::et_off>;
#else
using rational = mp::number<mp::cpp_rational_backend, mp::et_off>;
using big_integer = mp::number<mp::cpp_int_backend<>, mp::et_off>;
#endif

template <class S>
inline constexpr bool is_exact_v = std::is_same_v<S, rational>;

// Every double is representable exactly in each of the wider types and in rational.
template <class S>
S from_double(double x) {
  return S(x);
}

template <class S>
double to_double(const S& x) {
  if constexpr (std::is_arithmetic_v<S>) {
    return static_cast<double>(x);
  } else {
    return x.template convert_to<double>();
  }
}

// Converts between two scalar types through the wider of them (exact when widening).
template <class To, class From>
To convert_scalar(const From& x) {
  if constexpr (std::is_same_v<To, From>) {
    return x;
  } else if constexpr (std::is_arithmetic_v<From> && std::is_arithmetic_v<To>) {
    return static_cast<To>(x);
  } else if constexpr (std::is_arithmetic_v<From>) {
    return To(x);
  } else {
    return x.template convert_to<To>();
  }
}

// Unit roundoff of a floating scalar type (2^-p for p significand bits).
template <class S>
S unit_roundoff() {
  static_assert(!is_exact_v<S>, "exact types have no roundoff");
  return std::numeric_limits<S>::epsilon() / 2;
}

template <class S>
constexpr std::string_view scalar_name() {
  if constexpr (std::is_same_v<S, float>) return "float";
  else if constexpr (std::is_same_v<S, double>) return "double";
  else if constexpr (std::is_same_v<S, long double>) return "long double";
  else if constexpr (std::is_same_v<S, quad>) return "quad";
  else if constexpr (std::is_same_v<S, mp100>) return "mp100";
  else if constexpr (std::is_same_v<S, rational>) return "rational";
  else return "unknown";
}

// A problem with every tensor converted to another scalar type (exact when widening).
template <class To, class From>
Problem<To> convert_problem(const Problem<From>& p) {
  auto conv = [](const std::vector<From>& xs) {
    std::vector<To> out;
    out.reserve(xs.size());
    for (const From& x : xs) out.push_back(convert_scalar<To>(x));
    return out;
  };
  Problem<To> r;
  r.shape = p.shape;
  r.scale = convert_scalar<To>(p.scale);
  r.gate_convention = p.gate_convention;
  r.q = conv(p.q);
  r.k = conv(p.k);
  r.v = conv(p.v);
  r.w = conv(p.w);
  r.beta = conv(p.beta);
  r.g = conv(p.g);
  r.cu_seqlens = p.cu_seqlens;
  return r;
}

// Elementwise conversions between vectors of double and of a scalar type (exact when widening).
template <class S>
std::vector<double> to_doubles(const std::vector<S>& xs) {
  std::vector<double> out;
  out.reserve(xs.size());
  for (const S& x : xs) out.push_back(to_double(x));
  return out;
}

template <class S>
std::vector<S> from_doubles(const std::vector<double>& xs) {
  std::vector<S> out;
  out.reserve(xs.size());
  for (double x : xs) out.push_back(from_double<S>(x));
  return out;
}

}  // namespace path
