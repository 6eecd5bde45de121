// The statistics of path_gpu_drift (gpu/tools/drift_stats.hpp), on hand-made vectors whose answers are
// worked out here by hand: relative L2 and max errors, NaN never hidden, the rounding floor in the
// dtype it names, the window of the last steps before a checkpoint (row 0, the prefilled token, and
// rows past the checkpoint excluded), and the floors of a checkpoint in the right dtypes (o: the
// input dtype; the cache: the cache's). Each expectation would fail under the plausible slip named
// beside it.
#include "drift_stats.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace {

using path::DType;
using path::index_t;
namespace drift = path::drift;

const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::size_t fields(const std::string& line) {
  std::size_t n = 1;
  for (char c : line) n += c == ',';
  return n;
}

TEST(DriftStats, RelativeL2AndMaxAgainstHandValues) {
  const std::vector<double> exact = {3, 4}, got = {3, 5};  // ||exact|| = 5, max |exact| = 4, diff (0, 1)
  const drift::ErrorStats e = drift::compare(got.data(), exact.data(), 2);
  EXPECT_DOUBLE_EQ(e.rel_l2, 0.2);    // not 1/4 (the max's denominator) nor 1/sqrt(2) (a mean)
  EXPECT_DOUBLE_EQ(e.max_rel, 0.25);  // relative to max |exact|, not to the element's own 5 or to the norm
}

TEST(DriftStats, NonFiniteIsNeverSmall) {
  const std::vector<double> exact = {1, 2, 3}, got = {1, kNaN, 3};
  EXPECT_TRUE(std::isnan(drift::compare(got.data(), exact.data(), 3).rel_l2));
  EXPECT_TRUE(std::isnan(drift::compare(got.data(), exact.data(), 3).max_rel));
  EXPECT_TRUE(std::isnan(drift::compare(got.data(), exact.data(), 0).rel_l2));  // nothing compared
  const std::vector<double> zero = {0, 0}, same = {0, 0}, off = {0, 1e-30};
  EXPECT_EQ(drift::compare(same.data(), zero.data(), 2).rel_l2, 0.0);
  EXPECT_TRUE(std::isinf(drift::compare(off.data(), zero.data(), 2).rel_l2));
  EXPECT_TRUE(std::isnan(drift::ratio(kNaN, 1.0)));
  EXPECT_DOUBLE_EQ(drift::ratio(3e-3, 1.5e-3), 2.0);
  EXPECT_EQ(drift::ratio(0.0, 0.0), 0.0);
  EXPECT_TRUE(std::isinf(drift::ratio(1e-9, 0.0)));
}

TEST(DriftStats, RoundingFloorUsesTheDtypeItNames) {
  // 1 + 2^-9 is an fp16 and fp32 value but not a bf16 one (bf16's ulp at 1 is 2^-7: it rounds to 1);
  // 1 + 2^-12 is only fp32; 1 + 2^-30 none of them.
  const double a = 1 + std::ldexp(1, -9), b = 1 + std::ldexp(1, -12), c = 1 + std::ldexp(1, -30);
  const std::vector<double> x = {a, b, c};
  const double norm = std::sqrt(a * a + b * b + c * c);
  const drift::ErrorStats bf16 = drift::rounding_floor(x.data(), 3, DType::BF16);
  const drift::ErrorStats fp16 = drift::rounding_floor(x.data(), 3, DType::F16);
  const drift::ErrorStats fp32 = drift::rounding_floor(x.data(), 3, DType::F32);
  const double e9 = std::ldexp(1, -9), e12 = std::ldexp(1, -12), e30 = std::ldexp(1, -30);
  EXPECT_NEAR(bf16.rel_l2, std::sqrt(e9 * e9 + e12 * e12 + e30 * e30) / norm, 1e-15);
  EXPECT_NEAR(fp16.rel_l2, std::sqrt(e12 * e12 + e30 * e30) / norm, 1e-15);
  EXPECT_NEAR(fp32.rel_l2, e30 / norm, 1e-20);
  EXPECT_NEAR(bf16.max_rel, e9 / a, 1e-15);
  EXPECT_NEAR(fp16.max_rel, e12 / a, 1e-15);
  EXPECT_NEAR(fp32.max_rel, e30 / a, 1e-20);
}

TEST(DriftStats, WindowIsTheLastStepsBeforeTheCheckpoint) {
  // Checkpoint L: L tokens in the cache, steps produced rows 1 .. L-1 (row 0 was prefilled).
  EXPECT_EQ(drift::last_steps(2048, 1024).begin, 1024);
  EXPECT_EQ(drift::last_steps(2048, 1024).end, 2048);
  EXPECT_EQ(drift::last_steps(2048, 1024).count(), 1024);
  EXPECT_EQ(drift::last_steps(1024, 1024).begin, 1);  // row 0 has no step output
  EXPECT_EQ(drift::last_steps(1024, 1024).count(), 1023);
  EXPECT_EQ(drift::last_steps(5, 1024).begin, 1);
  EXPECT_EQ(drift::all_steps(65536).begin, 1);
  EXPECT_EQ(drift::all_steps(65536).end, 65536);
  // Rows of a [T, width] array: only those rows.
  const std::vector<double> exact = {1, 1, 2, 2, 3, 3, 4, 4}, got = {kNaN, kNaN, 2, 3, 3, 3, kNaN, kNaN};
  const drift::ErrorStats e = drift::compare_rows(got, exact, 2, {1, 3});
  EXPECT_DOUBLE_EQ(e.rel_l2, 1 / std::sqrt(26.0));
  EXPECT_DOUBLE_EQ(e.max_rel, 1 / 3.0);
  // The floor of rows 1..2 only: row 3's value is not an fp16 value, row 1's and 2's are.
  const std::vector<double> x = {1, 1, 2, 2, 3, 3, 1 + std::ldexp(1, -12), 1};
  EXPECT_EQ(drift::floor_rows(x, 2, {1, 3}, DType::F16).rel_l2, 0.0);
  EXPECT_GT(drift::floor_rows(x, 2, {2, 4}, DType::F16).rel_l2, 0.0);
}

TEST(DriftStats, CheckpointComparesTheRightRowsWithTheRightFloors) {
  // o: T = 8 rows of width 2, checkpoint L = 6, window 3. The exact row (a, b) with a = 1 + 2^-9
  // (fp16, not bf16) and b = 1 + 2^-12 (neither): the floors tell the dtypes apart. got = exact plus
  //   row 0: NaN (the prefilled token: no step wrote it), rows 1-2: +0.5 (outside the window),
  //   rows 3, 4, 5: +0.1, +0.2, +0.3 (the window: a window one row shorter or longer changes the
  //   result), rows 6-7: NaN (past the checkpoint: not yet decoded).
  const double a = 1 + std::ldexp(1, -9), b = 1 + std::ldexp(1, -12);
  const index_t T = 8, L = 6, window = 3;
  std::vector<double> exact, got;
  const double err[] = {kNaN, 0.5, 0.5, 0.1, 0.2, 0.3, kNaN, kNaN};
  for (index_t t = 0; t < T; ++t) {
    exact.insert(exact.end(), {a, b});
    got.insert(got.end(), {a + err[t], b});
  }
  // The cache: 2 keys of 2 elements; exact values fp32 but not bf16, got off by 1e-3 in one element.
  const std::vector<double> exact_cache = {a, b, 2, 2}, cache = {a, b, 2, 2 + 1e-3};
  const double row2 = a * a + b * b;
  const drift::CheckpointStats s =
      drift::checkpoint_stats(cache, exact_cache, got, exact, 2, L, window, DType::BF16, DType::F32);
  EXPECT_EQ(s.length, L);
  EXPECT_EQ(s.window.begin, 3);
  EXPECT_EQ(s.window.end, 6);
  EXPECT_NEAR(s.o_window.rel_l2, std::sqrt((0.01 + 0.04 + 0.09) / (3 * row2)), 1e-14);
  EXPECT_NEAR(s.o_window.max_rel, 0.3 / a, 1e-14);
  EXPECT_NEAR(s.o_all.rel_l2, std::sqrt((0.25 + 0.25 + 0.01 + 0.04 + 0.09) / (5 * row2)), 1e-14);
  // o's floor in the input dtype (bf16 rounds both a and b to 1), not the cache's fp32 (0 here).
  const double e9 = std::ldexp(1, -9), e12 = std::ldexp(1, -12);
  EXPECT_NEAR(s.o_window_floor.rel_l2, std::sqrt((e9 * e9 + e12 * e12) / row2), 1e-15);
  EXPECT_NEAR(s.o_all_floor.rel_l2, std::sqrt((e9 * e9 + e12 * e12) / row2), 1e-15);
  // The cache's floor in the cache's dtype: fp32 represents every value (0), bf16 would not.
  EXPECT_EQ(s.cache_floor.rel_l2, 0.0);
  EXPECT_NEAR(s.cache.rel_l2, 1e-3 / std::sqrt(row2 + 8), 1e-15);
  EXPECT_NEAR(s.cache.max_rel, 1e-3 / 2, 1e-15);
  // The same o with an fp16 input: only b's rounding remains.
  const drift::CheckpointStats h =
      drift::checkpoint_stats(cache, exact_cache, got, exact, 2, L, window, DType::F16, DType::F16);
  EXPECT_NEAR(h.o_window_floor.rel_l2, e12 / std::sqrt(row2), 1e-15);
  EXPECT_GT(h.cache_floor.rel_l2, 0.0);  // b is no fp16 value
  // A cache of the wrong length (a download of the wrong prefix) is NaN, not a partial comparison.
  const std::vector<double> short_cache = {a, b};
  EXPECT_TRUE(std::isnan(drift::checkpoint_stats(short_cache, exact_cache, got, exact, 2, L, window, DType::BF16,
                                                 DType::F32).cache.rel_l2));
}

TEST(DriftStats, CsvRowMatchesTheHeader) {
  drift::RunInfo info;
  info.config = "bf16+f32cache";
  info.input_dtype = DType::BF16;
  info.cache_dtype = DType::F32;
  info.T = 65536;
  info.seed = 42;
  drift::CheckpointStats s;
  s.length = 1024;
  s.window = drift::last_steps(1024, 1024);
  s.cache = {1e-3, 2e-3};
  s.cache_floor = {5e-4, 1e-3};
  const std::string row = drift::csv_row(info, s, 1.5);
  EXPECT_EQ(fields(row), fields(drift::csv_header()));
  EXPECT_EQ(row.rfind("path,bf16+f32cache,bf16,fp32,none,1,65536,1,1,1,42,1024,1023,", 0), 0u) << row;
  EXPECT_NE(row.find(",2.000000e+00,2.000000e+00,1,1023,"), std::string::npos) << row;  // the ratios, the window
}

}  // namespace
