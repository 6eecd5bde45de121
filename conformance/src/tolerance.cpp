#include "path/conformance/tolerance.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
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

double default_c(io::DType input_dtype) { return input_dtype == io::DType::F32 ? 3.0 : 2.0; }

double gamma_fp32(int n) {
  if (n <= 0) return 0;
  const double nu = static_cast<double>(std::max(n, 0)) * std::ldexp(1.0, -24);
  if (nu >= 1) throw std::invalid_argument("gamma_fp32: n = " + std::to_string(n) + " is too large (n u >= 1)");
  return nu / (1 - nu);
}

std::size_t row_length(const std::vector<std::int64_t>& shape) {
  return shape.size() == 4 ? static_cast<std::size_t>(std::max<std::int64_t>(shape[3], 1)) : 1;
}

namespace {

double row_max_abs(const std::vector<double>& x, std::size_t row, std::size_t len) {
  double m = 0;
  for (std::size_t i = row * len; i < (row + 1) * len; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

double row_error(const std::vector<double>& r, const std::vector<double>& e, std::size_t row, std::size_t len) {
  double m = 0;
  for (std::size_t i = row * len; i < (row + 1) * len; ++i) m = std::max(m, std::fabs(r[i] - e[i]));
  return m;
}

double row_rho(const Tolerance& t, const std::vector<double>& expected, std::size_t row) {
  return t.floor_ulps * ulp_at(row_max_abs(expected, row, t.row_length), t.dtype);
}

// The tolerances from the baseline terms (derive_tolerance and with_c).
void derive_tolerances(Tolerance& r) {
  r.floor = r.floor_ulps * ulp_at(r.max_abs_expected, r.dtype);
  r.tolerance = r.c * r.baseline_error + r.floor;
  if (r.model_version >= 2)
    r.norm_tolerance =
        r.c * std::max({r.norm_baseline_error, r.norm_envelope, r.norm_arithmetic_floor}) + r.norm_floor;
}

// Agreement of a stored number with its recomputation: to a few ulps, since the judging machine
// may evaluate c * b + f with a fused multiply-add where the generating one did not.
bool same(double stored, double recomputed) {
  return std::fabs(stored - recomputed) <= 1e-12 * std::max(std::fabs(stored), std::fabs(recomputed));
}

}  // namespace

bool zero_row(const Tolerance& t, const std::vector<double>& expected, std::size_t row) {
  return row_max_abs(expected, row, t.row_length) <= t.gamma() * t.row_scale[row];
}

bool degenerate_row(const Tolerance& t, const std::vector<double>& expected, std::size_t row) {
  return zero_row(t, expected, row) || t.row_baseline_error[row] <= row_rho(t, expected, row);
}

double row_floor(const Tolerance& t, const std::vector<double>& expected, std::size_t row) {
  return zero_row(t, expected, row) ? t.arithmetic_floor : t.gamma() * t.row_scale[row];
}

double element_tolerance(const Tolerance& t, const std::vector<double>& expected, std::size_t i) {
  if (t.model_version < 2) return t.tolerance;
  const std::size_t row = i / t.row_length;
  const double term = std::max({t.measured_baseline_error, t.arithmetic_level * t.row_scale[row],
                                degenerate_row(t, expected, row) ? row_floor(t, expected, row) : 0.0});
  return t.c * term + t.floor;
}

double row_tolerance(const Tolerance& t, const std::vector<double>& expected, std::size_t row) {
  if (t.model_version < 2) return t.tolerance;
  return t.c * std::max(t.row_level * t.row_scale[row], row_floor(t, expected, row)) + row_rho(t, expected, row);
}

double norm_tolerance(const Tolerance& t) {
  return t.model_version < 2 ? std::numeric_limits<double>::infinity() : t.norm_tolerance;
}

void derive_tolerance(Tolerance& r, const std::vector<double>& expected) {
  r.max_abs_expected = max_abs(expected);
  if (r.model_version < 2) {
    derive_tolerances(r);
    return;
  }
  const std::size_t rows = r.row_scale.size();
  if (r.row_length == 0 || rows * r.row_length != expected.size() || r.row_baseline_error.size() != rows)
    throw std::invalid_argument("tolerance: " + std::to_string(rows) + " row scales and " +
                                std::to_string(r.row_baseline_error.size()) + " baseline errors of " +
                                std::to_string(r.row_length) + " elements for " + std::to_string(expected.size()) +
                                " expected values");
  const double gamma = r.gamma();
  double S = 0;
  for (double x : r.row_scale) S = std::max(S, x);
  r.arithmetic_floor = gamma * S;
  double beta = 0, lambda = 0, lambda_a = 0, rho2 = 0, s2 = 0, phi2 = 0, term_max = 0;
  for (std::size_t row = 0; row < rows; ++row) {
    const double b = r.row_baseline_error[row], s = r.row_scale[row], rho = row_rho(r, expected, row);
    beta = std::max(beta, b);
    if (s > 0) {
      lambda = std::max(lambda, b / s);
      lambda_a = std::max(lambda_a, std::max(0.0, b - rho) / s);
    }
    if (zero_row(r, expected, row)) continue;
    const double len = static_cast<double>(r.row_length);
    s2 += len * s * s;
    if (b <= rho) {  // degenerate
      phi2 += len * (gamma * s) * (gamma * s);
      term_max = std::max(term_max, gamma * s);
    }
    for (std::size_t i = row * r.row_length; i < (row + 1) * r.row_length; ++i) {
      const double f = r.floor_ulps * ulp_at(expected[i], r.dtype);
      rho2 += f * f;
    }
  }
  for (std::size_t row = 0; row < rows; ++row) term_max = std::max(term_max, lambda_a * r.row_scale[row]);
  r.measured_baseline_error = beta;
  r.row_level = lambda;
  r.arithmetic_level = lambda_a;
  r.norm_floor = std::sqrt(rho2);
  r.norm_arithmetic_floor = std::sqrt(phi2);
  r.norm_envelope = lambda_a * std::sqrt(s2);
  r.baseline_error = std::max(beta, term_max);  // the largest baseline term of an element outside the zero rows
  derive_tolerances(r);
}

Tolerance make_tolerance(double baseline_error, double max_abs_expected, io::DType t, const ToleranceModel& m) {
  Tolerance r;
  r.dtype = t;
  r.max_abs_expected = max_abs_expected;
  r.baseline_error = baseline_error;
  r.c = m.c.value_or(2.0);  // model 1: c = 2 whatever the dtype
  r.floor_ulps = m.floor_ulps;
  r.model_version = 1;
  derive_tolerances(r);
  return r;
}

Tolerance make_tolerance(const std::vector<double>& expected, const std::vector<std::vector<double>>& baselines,
                         const std::vector<double>& row_scale, std::size_t row_len, int gamma_n, io::DType t,
                         const ToleranceModel& m) {
  if (row_len == 0 || expected.size() != row_scale.size() * row_len)
    throw std::invalid_argument("make_tolerance: " + std::to_string(row_scale.size()) + " row scales of " +
                                std::to_string(row_len) + " elements for " + std::to_string(expected.size()) +
                                " expected values");
  for (double x : row_scale)
    if (!std::isfinite(x) || x < 0) throw std::invalid_argument("make_tolerance: a row scale is not finite and >= 0");
  for (const std::vector<double>& b : baselines)
    if (b.size() != expected.size() || compare(b, expected).nonfinite)
      throw std::invalid_argument("make_tolerance: a baseline has the wrong size or non-finite values");
  Tolerance r;
  r.dtype = t;
  r.c = m.c.value_or(2.0);  // case_tolerances resolves default_c
  r.floor_ulps = m.floor_ulps;
  r.model_version = 2;
  r.gamma_n = gamma_n;
  r.row_length = row_len;
  r.row_scale = row_scale;
  const std::size_t rows = row_scale.size();
  r.row_baseline_error.assign(rows, 0.0);
  for (const std::vector<double>& base : baselines)
    for (std::size_t row = 0; row < rows; ++row)
      r.row_baseline_error[row] = std::max(r.row_baseline_error[row], row_error(base, expected, row, row_len));
  for (const std::vector<double>& base : baselines) {
    double sq = 0;
    for (std::size_t row = 0; row < rows; ++row) {
      if (zero_row(r, expected, row)) continue;
      for (std::size_t i = row * row_len; i < (row + 1) * row_len; ++i)
        sq += (base[i] - expected[i]) * (base[i] - expected[i]);
    }
    r.norm_baseline_error = std::max(r.norm_baseline_error, std::sqrt(sq));
  }
  derive_tolerance(r, expected);
  return r;
}

Tolerance with_c(const Tolerance& t, double c) {
  Tolerance r = t;
  r.c = c;
  derive_tolerances(r);
  return r;
}

std::string inconsistency(const Tolerance& t, const std::vector<double>& expected) {
  auto num = [](double x) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    return std::string(buf);
  };
  Tolerance r = t;
  try {
    derive_tolerance(r, expected);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  const std::pair<const char*, std::pair<double, double>> fields[] = {
      {"max_abs_expected", {t.max_abs_expected, r.max_abs_expected}},
      {"baseline_error", {t.baseline_error, r.baseline_error}},
      {"floor", {t.floor, r.floor}},
      {"tolerance", {t.tolerance, r.tolerance}},
      {"measured_baseline_error", {t.measured_baseline_error, r.measured_baseline_error}},
      {"row_level", {t.row_level, r.row_level}},
      {"arithmetic_level", {t.arithmetic_level, r.arithmetic_level}},
      {"arithmetic_floor", {t.arithmetic_floor, r.arithmetic_floor}},
      {"norm_floor", {t.norm_floor, r.norm_floor}},
      {"norm_arithmetic_floor", {t.norm_arithmetic_floor, r.norm_arithmetic_floor}},
      {"norm_envelope", {t.norm_envelope, r.norm_envelope}},
      {"norm_tolerance", {t.norm_tolerance, r.norm_tolerance}},
  };
  for (const auto& [name, v] : fields) {
    if (t.model_version < 2 && std::string(name) != "max_abs_expected" && std::string(name) != "floor" &&
        std::string(name) != "tolerance")
      continue;
    if (!same(v.first, v.second))
      return std::string(name) + " is " + num(v.first) + " but the model gives " + num(v.second);
  }
  return {};
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


namespace {

// error / (tolerance / c): the ratio that passes iff it is at most c.
double ratio_of(double error, double tolerance, double c) {
  if (!std::isfinite(error)) return std::numeric_limits<double>::infinity();
  if (tolerance <= 0) return error == 0 ? 0 : std::numeric_limits<double>::infinity();
  return error / (tolerance / c);
}

}  // namespace

Assessment assess(const std::vector<double>& result, const std::vector<double>& expected, const Tolerance& t) {
  if (result.size() != expected.size()) throw std::invalid_argument("assess: sizes differ");
  Assessment a;
  a.max = compare(result, expected);
  const double inf = std::numeric_limits<double>::infinity();
  if (a.max.nonfinite) {
    a.ratio = a.max_ratio = a.norm_ratio = a.row_ratio = inf;
    a.norm_error = inf;
    a.max_worst = a.max.worst;
    a.failed.push_back("non-finite");
    return a;
  }
  if (t.model_version < 2) {
    a.max_ratio = error_ratio(a.max.max_abs_error, t);
    a.max_worst = a.max.worst;
    a.max_worst_tolerance = t.tolerance;
    if (a.max.max_abs_error > t.tolerance) a.failed.push_back("max");
  } else {
    bool max_failed = false, rows_failed = false;
    double sq = 0;
    for (std::size_t row = 0; row < t.rows(); ++row) {
      const bool zero = zero_row(t, expected, row);
      // every element of a row has the same max-criterion tolerance
      const double tol_i = element_tolerance(t, expected, row * t.row_length);
      const double e = row_error(result, expected, row, t.row_length);
      for (std::size_t i = row * t.row_length; i < (row + 1) * t.row_length; ++i) {
        const double d = std::fabs(result[i] - expected[i]);
        if (!zero) sq += d * d;
        const double r = ratio_of(d, tol_i, t.c);
        if (r > a.max_ratio || i == 0) {
          a.max_ratio = r;
          a.max_worst = i;
          a.max_worst_tolerance = tol_i;
        }
        max_failed |= d > tol_i;
      }
      const double tol_r = row_tolerance(t, expected, row);
      const double r = ratio_of(e, tol_r, t.c);
      if (r > a.row_ratio || row == 0) {
        a.row_ratio = r;
        a.worst_row = row;
        a.worst_row_error = e;
        a.worst_row_tolerance = tol_r;
      }
      rows_failed |= e > tol_r;
    }
    a.norm_error = std::sqrt(sq);
    a.norm_ratio = ratio_of(a.norm_error, t.norm_tolerance, t.c);
    if (max_failed) a.failed.push_back("max");
    if (a.norm_error > t.norm_tolerance) a.failed.push_back("norm");
    if (rows_failed) a.failed.push_back("rows");
  }
  a.ratio = std::max({a.max_ratio, a.norm_ratio, a.row_ratio});
  a.pass = a.failed.empty();
  return a;
}

double max_abs(const std::vector<double>& x) {
  double m = 0;
  for (double v : x) m = std::max(m, std::fabs(v));
  return m;
}

std::string tolerance_model_description() {
  return "model 2 (docs/tolerance.md): |R_i - E_i| <= c max(beta, lambda_a s_r, phi_r if degenerate) + rho; "
         "||R - E||_2 <= c max(beta_2, lambda_a S_2, phi_2) + rho_2; per row max |R - E| <= c max(lambda s_r, phi_r) "
         "+ rho_r; beta, lambda from the baseline family, phi = gamma_n s (s_r, or max s on a zero row), "
         "rho = floor_ulps ulp(E)";
}

}  // namespace path::conformance
