#pragma once
// Error measures used by the tests: maximum absolute error and the ulp distance in double.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "path/scalar.hpp"

namespace path::testing {

// The difference is formed in the type of `want` (the reference, at least as wide as `got`), so
// that differences far below double's resolution (quad vs mp100) are not rounded away.
template <class A, class B>
double max_abs_error(const std::vector<A>& got, const std::vector<B>& want) {
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const B diff = convert_scalar<B>(got[i]) - want[i];
    worst = std::max(worst, std::abs(to_double(diff)));
  }
  return worst;
}

template <class B>
double max_abs(const std::vector<B>& xs) {
  double m = 0;
  for (const B& x : xs) m = std::max(m, std::abs(to_double(x)));
  return m;
}

// Elements of a and b that are not the same double bit for bit, a NaN counting as different even
// from itself (an output a kernel never wrote is NaN-poisoned in both runs); when the sizes differ,
// every element of the longer.
inline std::size_t bitwise_differences(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::max(a.size(), b.size());
  std::size_t n = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    n += std::isnan(a[i]) || std::memcmp(&a[i], &b[i], sizeof(double)) != 0;
  return n;
}

// Distance in units in the last place between two finite doubles (0 for equal values).
inline std::uint64_t ulp_distance(double a, double b) {
  auto ordered = [](double x) {
    std::int64_t i;
    std::memcpy(&i, &x, sizeof x);
    return i < 0 ? std::numeric_limits<std::int64_t>::min() - i : i;
  };
  const std::int64_t ia = ordered(a), ib = ordered(b);
  return ia > ib ? static_cast<std::uint64_t>(ia - ib) : static_cast<std::uint64_t>(ib - ia);
}

}  // namespace path::testing
