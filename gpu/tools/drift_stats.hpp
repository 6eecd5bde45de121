#pragma once
// The statistics of path_gpu_drift (gpu/tools/decode_drift.cpp, docs/decode.md section 7): how far a
// decode's key cache and step outputs have drifted from the exact decode after L tokens, and the
// error of merely rounding the exact values to the stored dtype (the "rounding floor"), so that a
// drift reads as a multiple of what no kernel storing that dtype can avoid.
// Kept apart from the tool (standard library and path/core only) so that a CPU test runs exactly
// this code (tests/test_drift_stats.cpp): the windows, the floors' dtypes, the CSV columns.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "path/core/dtype.hpp"
#include "path/core/rounding.hpp"
#include "path/problem.hpp"

namespace path::drift {

struct ErrorStats {
  double rel_l2 = 0;   // ||got - exact||_2 / ||exact||_2
  double max_rel = 0;  // max |got - exact| / max |exact| (relative to the largest exact value: an
                       // element-wise relative error is meaningless for keys or outputs near 0)
};

// got against exact over n elements. A non-finite difference (an unwritten, NaN-poisoned slot; an
// overflow) makes both NaN, so that it can never look small; no elements: NaN as well. An exact
// of norm 0 gives 0 when got is exact too, else infinity.
inline ErrorStats compare(const double* got, const double* exact, std::size_t n) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  if (n == 0) return {nan, nan};
  double diff2 = 0, ref2 = 0, diff_max = 0, ref_max = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = got[i] - exact[i];
    if (!std::isfinite(d)) return {nan, nan};
    diff2 += d * d;
    ref2 += exact[i] * exact[i];
    diff_max = std::max(diff_max, std::abs(d));
    ref_max = std::max(ref_max, std::abs(exact[i]));
  }
  return {ref2 > 0 ? std::sqrt(diff2 / ref2) : (diff2 == 0 ? 0 : inf),
          ref_max > 0 ? diff_max / ref_max : (diff_max == 0 ? 0 : inf)};
}

// The error of storing the exact values in dtype t: compare(round_to(exact, t), exact).
inline ErrorStats rounding_floor(const double* exact, std::size_t n, DType t) {
  std::vector<double> rounded(exact, exact + n);
  for (double& x : rounded) x = round_to(x, t);
  return compare(rounded.data(), exact, n);
}

// error / floor; a floor of 0 (every exact value representable) gives 0 for an exact result and
// infinity otherwise. NaN stays NaN.
inline double ratio(double error, double floor) {
  if (std::isnan(error) || std::isnan(floor)) return std::numeric_limits<double>::quiet_NaN();
  if (floor > 0) return error / floor;
  return error == 0 ? 0 : std::numeric_limits<double>::infinity();
}

// Token rows [begin, end).
struct Rows {
  index_t begin = 0, end = 0;
  index_t count() const { return end - begin; }
};

// The decode is one prefilled token (row 0 has no step output) and then one step per token, so at
// checkpoint L (the cache holds L tokens) the step outputs are rows 1 .. L-1, and the window of the
// last `window` steps is rows max(1, L - window) .. L-1.
inline Rows all_steps(index_t L) { return {1, L}; }
inline Rows last_steps(index_t L, index_t window) { return {std::max<index_t>(1, L - window), L}; }

// o stored step-major, [T, row_width] (row_width = B * HQ * Dv: row t holds every sequence's output
// at token t), got and exact alike; the rows r of it.
inline ErrorStats compare_rows(const std::vector<double>& got, const std::vector<double>& exact, index_t row_width,
                               Rows r) {
  const std::size_t at = static_cast<std::size_t>(r.begin * row_width);
  const std::size_t n = static_cast<std::size_t>(r.count() * row_width);
  return compare(got.data() + at, exact.data() + at, n);
}
inline ErrorStats floor_rows(const std::vector<double>& exact, index_t row_width, Rows r, DType t) {
  return rounding_floor(exact.data() + static_cast<std::size_t>(r.begin * row_width),
                        static_cast<std::size_t>(r.count() * row_width), t);
}

// One checkpoint: the key cache (every cached key k_j^(L-1), docs/decode.md (1); got and exact of
// the same length) against the exact one, its floor in the cache's dtype; o over the window and
// over every step so far, their floors in the input dtype (o is stored in the input dtype whatever
// the cache's dtype).
struct CheckpointStats {
  index_t length = 0;  // L, tokens in the cache; L - 1 decode steps
  ErrorStats cache, cache_floor;
  Rows window, all;
  ErrorStats o_window, o_window_floor, o_all, o_all_floor;
};

inline CheckpointStats checkpoint_stats(const std::vector<double>& cache, const std::vector<double>& exact_cache,
                                        const std::vector<double>& o, const std::vector<double>& exact_o,
                                        index_t row_width, index_t L, index_t window, DType input_dtype,
                                        DType cache_dtype) {
  CheckpointStats s;
  s.length = L;
  s.cache = cache.size() == exact_cache.size() ? compare(cache.data(), exact_cache.data(), cache.size())
                                               : ErrorStats{std::numeric_limits<double>::quiet_NaN(),
                                                            std::numeric_limits<double>::quiet_NaN()};
  s.cache_floor = rounding_floor(exact_cache.data(), exact_cache.size(), cache_dtype);
  s.window = last_steps(L, window);
  s.all = all_steps(L);
  s.o_window = compare_rows(o, exact_o, row_width, s.window);
  s.o_window_floor = floor_rows(exact_o, row_width, s.window, input_dtype);
  s.o_all = compare_rows(o, exact_o, row_width, s.all);
  s.o_all_floor = floor_rows(exact_o, row_width, s.all, input_dtype);
  return s;
}

// The CSV path_gpu_drift writes and scripts/plot-drift.py reads: one row per (implementation,
// config, checkpoint). `impl` names whose decode it is ("path"; an FLA script writing the same
// columns names itself "fla"), so one plot can hold both.
struct RunInfo {
  std::string impl = "path", config;
  DType input_dtype = DType::BF16, cache_dtype = DType::BF16;
  std::string gate = "none";
  index_t B = 1, T = 1, H = 1, HQ = 1, D = 1;
  std::uint64_t seed = 0;
};

inline std::string csv_header() {
  return "impl,config,input_dtype,cache_dtype,gate,B,T,H,HQ,D,seed,checkpoint,steps,"
         "cache_rel_l2,cache_max_rel,cache_floor_rel_l2,cache_floor_max_rel,cache_ratio_l2,cache_ratio_max,"
         "window_first,window_steps,o_window_rel_l2,o_window_floor_rel_l2,o_window_ratio,"
         "o_all_rel_l2,o_all_floor_rel_l2,o_all_ratio,decode_s";
}

inline std::string csv_row(const RunInfo& r, const CheckpointStats& s, double decode_seconds) {
  std::string out = r.impl;
  for (const std::string& f :
       {r.config, std::string(dtype_label(r.input_dtype)), std::string(dtype_label(r.cache_dtype)), r.gate})
    out.append(",").append(f);
  auto integer = [&](long long x) { out.append(",").append(std::to_string(x)); };
  for (index_t x : {r.B, r.T, r.H, r.HQ, r.D}) integer(x);
  out.append(",").append(std::to_string(r.seed));
  integer(s.length);
  integer(s.length - 1);
  auto num = [&](double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, ",%.6e", x);
    out += buf;
  };
  num(s.cache.rel_l2);
  num(s.cache.max_rel);
  num(s.cache_floor.rel_l2);
  num(s.cache_floor.max_rel);
  num(ratio(s.cache.rel_l2, s.cache_floor.rel_l2));
  num(ratio(s.cache.max_rel, s.cache_floor.max_rel));
  integer(s.window.begin);
  integer(s.window.count());
  num(s.o_window.rel_l2);
  num(s.o_window_floor.rel_l2);
  num(ratio(s.o_window.rel_l2, s.o_window_floor.rel_l2));
  num(s.o_all.rel_l2);
  num(s.o_all_floor.rel_l2);
  num(ratio(s.o_all.rel_l2, s.o_all_floor.rel_l2));
  num(decode_seconds);
  return out;
}

}  // namespace path::drift
