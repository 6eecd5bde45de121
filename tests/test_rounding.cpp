// The one rounding codec (path/core/rounding.hpp) against the hardware's conversions:
//   - every bf16 and fp16 bit pattern decodes to the value the hardware gives those bits
//     (fp16: the compiler's _Float16; bf16: the float whose high half they are), and encodes back;
//   - random doubles over the whole exponent range of each format (normals, subnormals, past
//     overflow), exact ties and values one double-ulp either side of a tie: fp16 against the
//     compiler's correctly rounded double -> _Float16 conversion, fp32 against the hardware's
//     double -> float conversion, bf16 against an independent reference (the two neighbouring bf16
//     values from the exhaustive table and their exact midpoint);
//   - hand-made ties, overflow and subnormal cases.
// A codec that rounded through float (double -> float -> bf16) fails the bf16 random test on the
// near-tie inputs: float's rounding can land them exactly on a bf16 midpoint.
#include "path/core/rounding.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "path/core/random.hpp"
#include "support/seed.hpp"

namespace {

using path::DType;
using path::round_to;

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

bool same_value(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b));
}

TEST(Rounding, Bf16TiesToEven) {
  EXPECT_EQ(round_to(1 + std::ldexp(1, -9), DType::BF16), 1.0);  // below half an ulp
  EXPECT_EQ(round_to(1 + std::ldexp(1, -8), DType::BF16), 1.0);  // tie, 1 is even
  EXPECT_EQ(round_to(1 + 3 * std::ldexp(1, -8), DType::BF16), 1 + std::ldexp(1, -6));  // tie, up to even
  EXPECT_EQ(round_to(1 + std::ldexp(1, -8) + std::ldexp(1, -40), DType::BF16), 1 + std::ldexp(1, -7));
  EXPECT_EQ(round_to(-(1 + std::ldexp(1, -8)), DType::BF16), -1.0);
}

TEST(Rounding, Bf16OverflowAndSubnormals) {
  const double max = std::ldexp(2 - std::ldexp(1, -7), 127);
  EXPECT_EQ(round_to(max, DType::BF16), max);
  EXPECT_EQ(round_to(std::ldexp(2 - std::ldexp(1, -8), 127), DType::BF16), kInf);  // tie -> inf
  EXPECT_EQ(round_to(std::ldexp(2 - std::ldexp(1, -7) - std::ldexp(1, -9), 127), DType::BF16), max);
  EXPECT_EQ(round_to(-1e300, DType::BF16), -kInf);
  const double tiny = std::ldexp(1, -133);  // smallest bf16 subnormal
  EXPECT_EQ(round_to(tiny, DType::BF16), tiny);
  EXPECT_EQ(round_to(tiny / 2, DType::BF16), 0.0);  // tie with 0, which is even
  EXPECT_EQ(round_to(1.5 * tiny, DType::BF16), 2 * tiny);
}

TEST(Rounding, F16OverflowTiesAndSubnormals) {
  EXPECT_EQ(round_to(65504.0, DType::F16), 65504.0);
  EXPECT_EQ(round_to(65519.99, DType::F16), 65504.0);
  EXPECT_EQ(round_to(65520.0, DType::F16), kInf);  // halfway to 2^16: ties to even = inf
  EXPECT_EQ(round_to(-65520.0, DType::F16), -kInf);
  EXPECT_EQ(round_to(1 + std::ldexp(1, -11), DType::F16), 1.0);
  EXPECT_EQ(round_to(1 + 3 * std::ldexp(1, -11), DType::F16), 1 + std::ldexp(1, -9));
  const double tiny = std::ldexp(1, -24);  // smallest f16 subnormal
  EXPECT_EQ(round_to(tiny, DType::F16), tiny);
  EXPECT_EQ(round_to(tiny / 2, DType::F16), 0.0);
  EXPECT_EQ(round_to(0.75 * tiny, DType::F16), tiny);
  EXPECT_EQ(round_to(1.5 * tiny, DType::F16), 2 * tiny);
  EXPECT_EQ(round_to(1023.5 * tiny, DType::F16), std::ldexp(1, -14));  // carry into the normals
  EXPECT_EQ(round_to(1e-300, DType::F16), 0.0);
}

TEST(Rounding, SpecialValues) {
  for (DType t : {DType::F64, DType::F32, DType::F16, DType::BF16}) {
    EXPECT_TRUE(std::isnan(round_to(kNaN, t)));
    EXPECT_EQ(round_to(kInf, t), kInf);
    EXPECT_EQ(round_to(-kInf, t), -kInf);
    EXPECT_TRUE(std::signbit(round_to(-0.0, t)));
    EXPECT_TRUE(std::signbit(round_to(-1e-300, t)));  // underflow keeps the sign
  }
}

TEST(Rounding, F32IsStaticCastWithIeeeOverflow) {
  EXPECT_EQ(round_to(0.1, DType::F32), static_cast<double>(0.1f));
  EXPECT_EQ(round_to(1 + std::ldexp(1, -24), DType::F32), 1.0);
  const double max = std::numeric_limits<float>::max();
  EXPECT_EQ(round_to(max, DType::F32), max);
  EXPECT_EQ(round_to(std::ldexp(2 - std::ldexp(1, -24), 127), DType::F32), kInf);
  EXPECT_EQ(round_to(-1e300, DType::F32), -kInf);
  EXPECT_EQ(round_to(std::ldexp(1, -149), DType::F32), std::ldexp(1, -149));
}

TEST(Rounding, IntegerDtypesHaveNoRounding) {
  for (DType t : {DType::I64, DType::I32, DType::I8, DType::U8, DType::BOOL})
    EXPECT_THROW(round_to(1.5, t), std::invalid_argument);
}


TEST(Rounding, EveryBf16PatternDecodesAsTheHardwareAndRoundTrips) {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const double hw = std::bit_cast<float>(b << 16);  // bf16 is the high half of an fp32
    ASSERT_TRUE(same_value(path::decode_bf16(static_cast<std::uint16_t>(b)), hw)) << std::hex << b;
    if (!std::isnan(hw)) ASSERT_EQ(path::encode_bf16(hw), b) << std::hex << b;
  }
}

#ifdef __FLT16_MAX__
TEST(Rounding, EveryFp16PatternDecodesAsTheHardwareAndRoundTrips) {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const double hw = static_cast<double>(std::bit_cast<_Float16>(static_cast<std::uint16_t>(b)));
    ASSERT_TRUE(same_value(path::decode_fp16(static_cast<std::uint16_t>(b)), hw)) << std::hex << b;
    if (!std::isnan(hw)) ASSERT_EQ(path::encode_fp16(hw), b) << std::hex << b;
  }
}
#endif

// Doubles drawn to hit every regime of a format: a random significand at an exponent spread over
// the format's range and beyond it, and every third one moved onto a tie of the format (or one
// double-ulp beside it).
double draw_near_format(path::random::Rng& rng, int p, int emin, int emax) {
  using namespace path::random;
  const int e = static_cast<int>(integer(rng, emin - p - 3, emax + 2));
  double x = std::ldexp(1.0 + uniform01(rng), e);
  const int kind = static_cast<int>(below(rng, 6));
  if (kind < 3) {
    const int q = std::max(e, emin) - p + 1;              // the format's quantum at x
    x = std::ldexp(std::floor(std::ldexp(x, -q)) + 0.5, q);  // exact tie
    if (kind == 1) x = std::nextafter(x, kInf);
    if (kind == 2) x = std::nextafter(x, 0.0);
  }
  return bernoulli(rng, 0.5) ? -x : x;
}

TEST(Rounding, RandomDoublesToFp32MatchTheHardware) {
  auto rng = path::random::Rng(path::random::derive_seed(path::testing::session_seed(), "RoundingFp32"));
  for (int i = 0; i < 1000000; ++i) {
    const double x = draw_near_format(rng, 24, -126, 127);
    // The hardware conversion (static_cast) is undefined past float's range in C++: overflow is
    // checked by hand below.
    if (std::fabs(x) >= std::ldexp(2 - std::ldexp(1, -24), 127)) {
      ASSERT_EQ(round_to(x, DType::F32), std::copysign(kInf, x)) << std::hexfloat << x;
      continue;
    }
    ASSERT_TRUE(same_value(round_to(x, DType::F32), static_cast<float>(x)))
        << std::hexfloat << x << "; " << path::testing::seed_note();
  }
}

#ifdef __FLT16_MAX__
TEST(Rounding, RandomDoublesToFp16MatchTheCompilersConversion) {
  auto rng = path::random::Rng(path::random::derive_seed(path::testing::session_seed(), "RoundingFp16"));
  for (int i = 0; i < 1000000; ++i) {
    const double x = draw_near_format(rng, 11, -14, 15);
    const double hw = static_cast<double>(static_cast<_Float16>(x));  // libgcc: correctly rounded
    ASSERT_TRUE(same_value(round_to(x, DType::F16), hw)) << std::hexfloat << x << "; " << path::testing::seed_note();
  }
}
#endif

TEST(Rounding, RandomDoublesToBf16MatchTheNearestNeighbour) {
  // The non-negative finite bf16 values in increasing order (bit patterns 0x0000..0x7f7f).
  std::vector<double> values;
  for (std::uint32_t b = 0; b <= 0x7f7f; ++b) values.push_back(std::bit_cast<float>(b << 16));
  const double max = values.back(), overflow = max + (max - values[values.size() - 2]) / 2;
  auto rng = path::random::Rng(path::random::derive_seed(path::testing::session_seed(), "RoundingBf16"));
  for (int i = 0; i < 1000000; ++i) {
    const double x = draw_near_format(rng, 8, -126, 127), a = std::fabs(x);
    double want;
    if (a >= overflow) {
      want = kInf;
    } else if (a >= max) {
      want = max;
    } else {
      const auto hi = std::upper_bound(values.begin(), values.end(), a);
      const double h = *hi, l = *(hi - 1), mid = (l + h) / 2;  // exact: bf16 neighbours
      const bool l_even = ((hi - 1 - values.begin()) % 2) == 0;
      want = a < mid ? l : a > mid ? h : (l_even ? l : h);
    }
    want = std::copysign(want, x);
    ASSERT_TRUE(same_value(round_to(x, DType::BF16), want)) << std::hexfloat << x << "; " << path::testing::seed_note();
  }
}

TEST(Rounding, NoDoubleRoundingThroughFloat) {
  // 1 + 2^-8 + 2^-30 is just above a bf16 tie; through float it would become the tie itself
  // (float keeps 23 bits) and then round down to 1.
  const double x = 1 + std::ldexp(1, -8) + std::ldexp(1, -30);
  EXPECT_EQ(round_to(x, DType::BF16), 1 + std::ldexp(1, -7));
  EXPECT_EQ(round_to(static_cast<double>(static_cast<float>(x)), DType::BF16), 1.0);
}

TEST(Rounding, FloatOverloadAgreesWithDouble) {
  auto rng = path::random::Rng(path::random::derive_seed(path::testing::session_seed(), "RoundingFloat"));
  for (int i = 0; i < 100000; ++i) {
    const float f = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
    if (std::isnan(f)) continue;
    for (DType t : {DType::BF16, DType::F16, DType::F32})
      ASSERT_TRUE(same_value(round_to(f, t), round_to(static_cast<double>(f), t))) << f;
  }
}

}  // namespace
