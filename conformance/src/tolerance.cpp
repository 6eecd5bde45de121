#include "path/conformance/tolerance.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace path::conformance {

int significand_bits(io::DType t) {
  switch (t) {
    case io::DType::BF16: return 8;
    case io::DType::F16: return 11;
    case io::DType::F32: return 24;
    case io::DType::F64: return 53;
    default: throw std::invalid_argument("tolerance: " + std::string(io::dtype_name(t)) + " is not a floating dtype");
  }
}

int min_normal_exponent(io::DType t) {
  switch (t) {
    case io::DType::BF16: return -126;
    case io::DType::F16: return -14;
    case io::DType::F32: return -126;
    case io::DType::F64: return -1022;
    default: throw std::invalid_argument("tolerance: " + std::string(io::dtype_name(t)) + " is not a floating dtype");
  }
}

double ulp_at(double magnitude, io::DType t) {
  const int p = significand_bits(t), emin = min_normal_exponent(t);
  const double m = std::fabs(magnitude);
  int e = emin;
  if (std::isfinite(m) && m >= std::ldexp(1.0, emin)) e = std::ilogb(m);
  if (!std::isfinite(m)) e = std::ilogb(std::numeric_limits<double>::max());
  return std::ldexp(1.0, e - p + 1);
}

Tolerance make_tolerance(double baseline_error, double max_abs_expected, io::DType t, const ToleranceModel& m) {
  Tolerance r;
  r.dtype = t;
  r.max_abs_expected = max_abs_expected;
  r.baseline_error = baseline_error;
  r.c = m.c;
  r.floor_ulps = m.floor_ulps;
  r.floor = m.floor_ulps * ulp_at(max_abs_expected, t);
  r.tolerance = m.c * baseline_error + r.floor;
  return r;
}

Tolerance with_c(const Tolerance& t, double c) {
  Tolerance r = t;
  r.c = c;
  r.tolerance = c * t.baseline_error + t.floor;
  return r;
}

double error_ratio(double error, const Tolerance& t) {
  if (!std::isfinite(error)) return std::numeric_limits<double>::infinity();
  const double denominator = t.baseline_error + t.floor / t.c;
  if (denominator <= 0) return error == 0 ? 0 : std::numeric_limits<double>::infinity();
  return error / denominator;
}

Comparison compare(const std::vector<double>& result, const std::vector<double>& expected) {
  if (result.size() != expected.size()) throw std::invalid_argument("compare: sizes differ");
  Comparison c;
  for (std::size_t i = 0; i < result.size(); ++i) {
    if (!std::isfinite(result[i])) {
      if (c.nonfinite++ == 0) c.worst = i;
      continue;
    }
    const double e = std::fabs(result[i] - expected[i]);
    if (c.nonfinite == 0 && e > c.max_abs_error) {
      c.max_abs_error = e;
      c.worst = i;
    }
  }
  if (c.nonfinite) c.max_abs_error = std::numeric_limits<double>::infinity();
  return c;
}

double max_abs(const std::vector<double>& x) {
  double m = 0;
  for (double v : x) m = std::max(m, std::fabs(v));
  return m;
}

}  // namespace path::conformance
