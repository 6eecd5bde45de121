// Portable seeded draws (path/core/random.hpp): the first values for fixed seeds are pinned, bit
// for bit, so a generator or transform that changes -- or a standard-library distribution that
// sneaks back in -- fails here, and a suite made with `pathcheck gen --seed S` is the same file on
// every standard library (the last test pins the first inputs of a drawn case).
#include "path/core/random.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>

#include "path/conformance/suite.hpp"

namespace {

using namespace path::random;

TEST(PortableRandom, SplitMix64MatchesTheReferenceSequence) {
  // SplitMix64 from seed 0: the published reference outputs (Vigna's splitmix64.c).
  Rng r(0);
  EXPECT_EQ(r(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(r(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(r(), 0x06c45d188009454fULL);
}

TEST(PortableRandom, TransformsArePinned) {
  Rng r(42);
  EXPECT_EQ(r(), 0xbdd732262feb6e95ULL);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(uniform01(r)), 0x3fc477f199d93378ULL);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(normal(r)), 0xbff47f4af60c7f94ULL);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(normal(r)), 0xbfe342959c9fa344ULL);
  EXPECT_EQ(integer(r, -5, 5), 5);
  EXPECT_EQ(derive_seed(1234, "pinned"), 0xee60039a67e98212ULL);
}

// Accuracy is not their purpose (same bits everywhere is), but a wrong series or reduction would
// show here. Bounds: log sums 11 terms below 2 |f| <= 0.35 with e ln 2 added last, a few ulps of
// the result; exp sums 21 terms (each rounding <= u = 2^-53 of a partial sum <= e^(ln2/2) = 1.42)
// over a result >= e^(-ln2/2) = 0.71: <= 21 * 2 u = 4.7e-15 relative.
TEST(PortableRandom, LogAndExpAreAccurate) {
  for (double x = 1e-300; x < 1e300; x *= 1.37) EXPECT_NEAR(portable_log(x), std::log(x), 4e-16 * std::fabs(std::log(x)) + 1e-300);
  for (double x = -700; x < 700; x += 0.731) EXPECT_NEAR(portable_exp(x), std::exp(x), 4.7e-15 * std::exp(x));
}

TEST(PortableRandom, IntegersAreUniformAndInRange) {
  Rng r(7);
  int counts[5] = {};
  for (int i = 0; i < 50000; ++i) {
    const std::int64_t k = integer(r, -2, 2);
    ASSERT_GE(k, -2);
    ASSERT_LE(k, 2);
    ++counts[k + 2];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);  // > 5 sigma
}

TEST(PortableRandom, NormalHasUnitMoments) {
  Rng r(9);
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double z = normal(r);
    s += z;
    s2 += z * z;
  }
  EXPECT_NEAR(s / n, 0.0, 0.012);       // 5 sigma of the mean
  EXPECT_NEAR(s2 / n, 1.0, 0.016);      // 5 sigma of the second moment (sqrt(2/n))
}

TEST(PortableRandom, DrawnCaseInputsArePinned) {
  path::conformance::CaseSpec spec;
  spec.name = "pinned";
  spec.shape = {1, 4, 2, 1, 8, 8};
  spec.dtype = path::DType::F32;
  spec.gated = true;
  spec.gradients = true;
  const path::conformance::CaseInput in = path::conformance::draw_inputs(spec, path::conformance::case_seed(1234, "pinned"));
  EXPECT_EQ(in.problem.q[0], -0x1.340902p+0);
  EXPECT_EQ(in.problem.q[1], -0x1.8dbbccp-1);
  EXPECT_EQ(in.problem.w[0], -0x1.2c1364p-1);
  EXPECT_EQ(in.problem.w[1], 0x1.9ca634p-7);
  EXPECT_EQ(in.problem.beta[0], 0x1.c2a112p+0);
  EXPECT_EQ(in.problem.beta[1], 0x1.3eb68cp+0);
  EXPECT_EQ(in.problem.g[0], -0x1.7879acp-2);
  EXPECT_EQ(in.problem.g[1], -0x1.344318p-4);
  EXPECT_EQ(in.dO[0], 0x1.5ae9fp-5);
  EXPECT_EQ(in.dO[1], 0x1.866c36p+1);
}

}  // namespace
