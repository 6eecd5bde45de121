#pragma once
// The tolerance model (docs/tolerance.md; docs/design.md section 4).
//
// For one output X of one case: E the expected values (the mp100 oracle on the case's inputs,
// rounded to f64), R an implementation's result, B_1..B_K the same-precision baseline family
// (reference_outputs.hpp). Rows r are the [B, T, heads] vectors of a 4-d output and the elements
// of a 3-d one. Measured when the case is made, per row: the scale s_r of the terms that make it
// (row_scales: in quadrature) and the family's error b_r = max_k max_{i in r} |B_k,i - E_i|; for
// the output: beta_2 = max_k ||B_k - E||_2 over the rows that are not zero rows.
//
//   rho_i   = F ulp_X(|E_i|), F = floor_ulps = 1/2: the rounding of the exact result to X;
//             rho = F ulp_X(max|E|), rho_r = F ulp_X(max_{i in r}|E_i|), rho_2 = ||rho_i||_2
//   gamma   = gamma_n = n u / (1 - n u), u = 2^-24, n the roundings an element of a one-token
//             problem goes through (reference_outputs.hpp, gamma_terms); S = max_r s_r
//   zero row:        max_{i in r} |E_i| <= gamma s_r   (the exact value is zero at fp32 resolution)
//   degenerate row:  a zero row, or b_r <= rho_r       (the family is exact there up to rounding)
//   phi_r   = gamma S on a zero row (a scale not the row's own: its value cancelled), gamma s_r on
//             the other rows: the rounding of the row's terms in fp32
//   beta    = max_r b_r
//   lambda  = max_r b_r / s_r,  lambda_a = max_r (b_r - rho_r)^+ / s_r   (rows with s_r > 0)
//
// and three criteria must hold (NaN or Inf in R never passes):
//
//   max:   |R_i - E_i| <= c * max(beta, lambda_a s_r, phi_r if r is degenerate) + rho   (all i)
//   norm:  ||R - E||_2 <= c * max(beta_2, lambda_a S_2, phi_2) + rho_2   (over the rows that are
//          not zero rows; S_2 = sqrt(sum len_r s_r^2), phi_2 = sqrt(sum over their degenerate
//          rows of len_r phi_r^2))
//   rows:  max_{i in r} |R_i - E_i| <= c * max(lambda s_r, phi_r) + rho_r               (all r)
//
// lambda_a s_r is the family's arithmetic error predicted at row r from all rows at once: it
// keeps the global criteria from resting on the few largest elements of the family's errors.
//
// ulp_X(m) = 2^(floor(log2 m) - p_X + 1) is the spacing of X at the magnitude m (p = 8 BF16,
// 11 F16, 24 F32, 53 F64), and the subnormal spacing 2^(emin - p + 1) below the smallest normal
// number (m = 0 included).
//
// Each criterion's ratio is its error over (its tolerance / c), so that it passes iff ratio <= c;
// the output's ratio is the largest of the three. baseline_error and tolerance are the format
// version 1 fields: in version 2 the largest baseline term and tolerance of an element of a row
// that is not a zero row, in the max criterion. A version-1 case file has only those and is
// judged by the max criterion alone (model_version 1) with its stored numbers.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "path/io/safetensors.hpp"

namespace path::conformance {

// c's default by the case's input dtype (docs/tolerance.md, "c"): 2 for bf16 and fp16 inputs,
// whose errors are mostly the roundings to the input type that every correct kernel makes alike;
// 3 for fp32 inputs, whose errors are fp32 accumulation alone, which varies more from one correct
// kernel to another (measured: up to 2.7 times the baseline family's largest error).
double default_c(io::DType input_dtype);

struct ToleranceModel {
  std::optional<double> c;  // multiple of the baseline's error; absent: default_c(input dtype)
  double floor_ulps = 0.5;  // F: the rounding floor in units in the last place of the output dtype
};

// Significand bits p (implicit bit included) and smallest normal exponent emin of a floating dtype.
int significand_bits(io::DType t);
int min_normal_exponent(io::DType t);

// ulp_X(m) as above.
double ulp_at(double magnitude, io::DType t);

// gamma_n = n u / (1 - n u) with u = 2^-24: the worst-case relative error of an fp32 sum of n
// products (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. (3.5)); 0 for n <= 0.
double gamma_fp32(int n);

// Elements per row of an output of this shape: the last dimension of a [B, T, heads, dim]
// output, 1 for a [B, T, heads] output (each element its own row).
std::size_t row_length(const std::vector<std::int64_t>& output_shape);

struct Tolerance {
  io::DType dtype = io::DType::F32;  // the output's dtype X
  double max_abs_expected = 0;       // max_i |E_i|
  double c = 2.0;
  double floor_ulps = 0.5;           // F

  // The max criterion in format version 1's fields.
  double baseline_error = 0;         // v1: the baseline's error; v2: max over elements of the baseline term
  double floor = 0;                  // rho = F ulp_X(max_abs_expected)
  double tolerance = 0;              // c * baseline_error + floor

  // Version 2: measured when the case is made...
  int model_version = 1;
  int gamma_n = 0;                     // n of gamma
  double norm_baseline_error = 0;      // beta_2
  std::size_t row_length = 1;
  std::vector<double> row_scale;           // s_r
  std::vector<double> row_baseline_error;  // b_r
  // ...and derived from those and the expected values (derive_tolerance).
  double measured_baseline_error = 0;  // beta
  double row_level = 0;                // lambda
  double arithmetic_level = 0;         // lambda_a
  double arithmetic_floor = 0;         // gamma S: the floor of the zero rows
  double norm_floor = 0;               // rho_2
  double norm_arithmetic_floor = 0;    // phi_2
  double norm_envelope = 0;            // lambda_a S_2
  double norm_tolerance = 0;           // c * max(beta_2, lambda_a S_2, phi_2) + rho_2

  double gamma() const { return gamma_fp32(gamma_n); }
  std::size_t rows() const { return row_scale.size(); }
};

// Format version 1's model: the max criterion alone, from a baseline error and max|E| (the floor
// F ulp_X(max|E|)). Kept for reading version-1 case files and for hand-made cases.
Tolerance make_tolerance(double baseline_error, double max_abs_expected, io::DType t, const ToleranceModel& m = {});

// The full model (version 2) from the expected values, the baseline family's values (each the
// size of `expected`), the row scales (one per row of `row_len` elements) and gamma's n; an
// absent m.c is 2 here (case_tolerances resolves it to default_c of the case's input dtype).
Tolerance make_tolerance(const std::vector<double>& expected, const std::vector<std::vector<double>>& baselines,
                         const std::vector<double>& row_scale, std::size_t row_len, int gamma_n, io::DType t,
                         const ToleranceModel& m = {});

// Recomputes every derived number of a version-2 tolerance from its measured ones, c, F and the
// expected values (for version 1: floor and tolerance from max_abs_expected, baseline_error, c, F).
// Throws std::invalid_argument when the row vectors do not fit `expected`.
void derive_tolerance(Tolerance& t, const std::vector<double>& expected);

// The same tolerance with another c (validate --c): the measured numbers and the floors are kept.
Tolerance with_c(const Tolerance& t, double c);

// "" when the stored derived numbers are those derive_tolerance computes; otherwise the first
// that differs, in words (a case file edited after generation).
std::string inconsistency(const Tolerance& stored, const std::vector<double>& expected);

// Row r's status and arithmetic floor phi_r (version 2).
bool zero_row(const Tolerance& t, const std::vector<double>& expected, std::size_t row);
bool degenerate_row(const Tolerance& t, const std::vector<double>& expected, std::size_t row);
double row_floor(const Tolerance& t, const std::vector<double>& expected, std::size_t row);

// The max criterion's tolerance of element i and the rows criterion's tolerance of row r (for a
// version-1 tolerance both are t.tolerance), and the norm criterion's (t.norm_tolerance; +inf for
// version 1, which has no norm criterion).
double element_tolerance(const Tolerance& t, const std::vector<double>& expected, std::size_t i);
double row_tolerance(const Tolerance& t, const std::vector<double>& expected, std::size_t row);
double norm_tolerance(const Tolerance& t);

// error / (baseline + floor / c) for the max criterion's stored numbers; +inf for a non-finite error.
double error_ratio(double error, const Tolerance& t);

// Element-wise comparison of a result with the expected values (same size).
struct Comparison {
  double max_abs_error = 0;     // over the finite elements; +inf if any element is not finite
  std::size_t worst = 0;        // index of the largest |R_i - E_i| (or of the first non-finite R_i)
  std::size_t nonfinite = 0;    // how many R_i are NaN or +-Inf
  bool passes(const Tolerance& t) const { return nonfinite == 0 && max_abs_error <= t.tolerance; }
};

Comparison compare(const std::vector<double>& result, const std::vector<double>& expected);

// A result judged by every criterion of its tolerance's model.
struct Assessment {
  Comparison max;                         // max |R - E|, its element, the NaN count
  double ratio = 0;                       // the largest of the criteria's ratios (pass <=> ratio <= c)
  double max_ratio = 0;                   // max over elements of |R_i - E_i| / (tolerance_i / c)
  std::size_t max_worst = 0;              // the element of max_ratio
  double max_worst_tolerance = 0;         // its tolerance
  double norm_error = 0, norm_ratio = 0;  // ||R - E||_2 over the rows that are not zero rows, its ratio
  double row_ratio = 0;                   // the worst row's ratio
  std::size_t worst_row = 0;              // that row (its first element: worst_row * row_length)
  double worst_row_error = 0, worst_row_tolerance = 0;
  std::vector<std::string> failed;        // "max", "norm", "rows" or "non-finite"
  bool pass = false;
};

Assessment assess(const std::vector<double>& result, const std::vector<double>& expected, const Tolerance& t);

double max_abs(const std::vector<double>& x);

// One line naming the criteria, for the case files' provenance.
std::string tolerance_model_description();

}  // namespace path::conformance
