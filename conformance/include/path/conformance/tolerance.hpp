#pragma once
// The tolerance model (docs/tolerance.md; docs/design.md section 4).
//
// For one output X of one case, with E the expected values (the mp100 oracle on the case's
// inputs, rounded to f64), B the same-precision baseline (path::emulate_forward and its
// backward/decode counterparts) and R an implementation's result:
//   error(R)   = max_i |R_i - E_i|                     (max absolute error; NaN/Inf never passes)
//   baseline   = error(B)
//   floor      = F * ulp_X(max_i |E_i|)                (F = floor_ulps, default 2)
//   tolerance  = c * baseline + floor                  (c default 2)
//   ratio      = error / (baseline + floor / c)        (pass <=> ratio <= c <=> error <= tolerance)
// where ulp_X(m) = 2^(floor(log2 m) - p_X + 1) is the spacing of the output's dtype X at the
// magnitude m (p = 8 BF16, 11 F16, 24 F32, 53 F64), and the subnormal spacing 2^(emin - p + 1)
// below the smallest normal number (m = 0 included).
#include <cstddef>
#include <limits>
#include <vector>

#include "path/io/safetensors.hpp"

namespace path::conformance {

struct ToleranceModel {
  double c = 2.0;           // multiple of the baseline's error
  double floor_ulps = 2.0;  // F: the floor in units in the last place of the output dtype
};

// Significand bits p (implicit bit included) and smallest normal exponent emin of a floating dtype.
int significand_bits(io::DType t);
int min_normal_exponent(io::DType t);

// ulp_X(m) as above.
double ulp_at(double magnitude, io::DType t);

struct Tolerance {
  io::DType dtype = io::DType::F32;  // the output's dtype X
  double max_abs_expected = 0;       // max_i |E_i|
  double baseline_error = 0;         // error(B)
  double c = 2.0;
  double floor_ulps = 2.0;
  double floor = 0;                  // floor_ulps * ulp_X(max_abs_expected)
  double tolerance = 0;              // c * baseline_error + floor
};

Tolerance make_tolerance(double baseline_error, double max_abs_expected, io::DType t, const ToleranceModel& m = {});
// The same tolerance with another c (validate --c): the floor is kept.
Tolerance with_c(const Tolerance& t, double c);

// error / (baseline + floor / c); +inf for a non-finite error.
double error_ratio(double error, const Tolerance& t);

// Element-wise comparison of a result with the expected values (same size).
struct Comparison {
  double max_abs_error = 0;     // over the finite elements; +inf if any element is not finite
  std::size_t worst = 0;        // index of the largest |R_i - E_i| (or of the first non-finite R_i)
  std::size_t nonfinite = 0;    // how many R_i are NaN or +-Inf
  bool passes(const Tolerance& t) const { return nonfinite == 0 && max_abs_error <= t.tolerance; }
};

Comparison compare(const std::vector<double>& result, const std::vector<double>& expected);

double max_abs(const std::vector<double>& x);

}  // namespace path::conformance
