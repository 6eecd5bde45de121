#pragma once
// The one rounding codec of the project (docs/architecture.md): a double rounded to the nearest
// value of a floating dtype, ties to even, straight from the double's bits -- never through an
// intermediate type, so there is no double rounding (double -> float -> bf16 can differ from
// double -> bf16 when the first rounding lands on a bf16 midpoint). Overflow goes to +-inf as
// IEEE 754 round-to-nearest does (at or past max + half an ulp); values below the normal range
// round to subnormals; NaN stays NaN (canonical quiet NaN, sign kept); -0 stays -0.
// Integer arithmetic only: the result does not depend on the FP rounding mode or the compiler.
// tests/test_rounding.cpp checks it against the hardware conversions on every bf16 and fp16 bit
// pattern, on random doubles, ties, subnormals and overflow. Standard library only.
#include <bit>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "path/core/dtype.hpp"

namespace path {

namespace detail {

// Bits of the nearest value of a binary format with `exp_bits` exponent and `mant_bits` stored
// significand bits (at most 32 bits wide in all: fp32, fp16, bf16), from a double.
constexpr std::uint32_t encode_binary(double x, int exp_bits, int mant_bits) {
  const std::uint64_t d = std::bit_cast<std::uint64_t>(x);
  const std::uint32_t sign = static_cast<std::uint32_t>(d >> 63) << (exp_bits + mant_bits);
  const int dexp = static_cast<int>((d >> 52) & 0x7ff);
  const std::uint64_t dmant = d & ((std::uint64_t{1} << 52) - 1);
  const std::uint32_t exp_all_ones = (std::uint32_t{1} << exp_bits) - 1;
  if (dexp == 0x7ff)  // inf, or NaN (canonical quiet NaN: payloads are not carried)
    return sign | (exp_all_ones << mant_bits) | (dmant ? std::uint32_t{1} << (mant_bits - 1) : 0);
  if (dexp == 0) return sign;  // zero, or a double subnormal: far below half the smallest subnormal
  const int bias = (1 << (exp_bits - 1)) - 1;
  const int e = dexp - 1023;                               // x = 1.m * 2^e
  const std::uint64_t sig = (std::uint64_t{1} << 52) | dmant;  // 53 bits
  // Drop `shift` low bits of sig: the format keeps mant_bits below the leading bit for normals,
  // fewer for subnormals (exponent below emin = 1 - bias).
  const int emin = 1 - bias;
  const int shift = 52 - mant_bits + (e < emin ? emin - e : 0);
  if (shift >= 54) return sign;  // below half the smallest subnormal (sig < 2^53)
  const std::uint64_t kept = sig >> shift;
  const std::uint64_t rest = sig & ((std::uint64_t{1} << shift) - 1);
  const std::uint64_t half = std::uint64_t{1} << (shift - 1);
  const bool up = rest > half || (rest == half && (kept & 1));
  // Packing: a normal is (e + bias) << mant_bits plus the significand without its leading bit,
  // i.e. (e + bias - 1) << mant_bits plus the full significand; a subnormal has exponent field 0.
  // A carry out of the significand walks into the exponent field, and past the largest finite
  // number into the inf pattern: exactly the round-to-nearest result.
  std::uint64_t packed = e < emin ? kept : (static_cast<std::uint64_t>(e + bias - 1) << mant_bits) + kept;
  if (up) ++packed;
  const std::uint64_t inf = static_cast<std::uint64_t>(exp_all_ones) << mant_bits;
  if (e + bias >= static_cast<int>(exp_all_ones) || packed >= inf) packed = inf;  // overflow
  return sign | static_cast<std::uint32_t>(packed);
}

constexpr double decode_binary(std::uint32_t bits, int exp_bits, int mant_bits) {
  const bool negative = (bits >> (exp_bits + mant_bits)) & 1;
  const std::uint32_t exp_all_ones = (std::uint32_t{1} << exp_bits) - 1;
  const std::uint32_t exp = (bits >> mant_bits) & exp_all_ones;
  const std::uint32_t mant = bits & ((std::uint32_t{1} << mant_bits) - 1);
  double v = 0;
  if (exp == exp_all_ones) {
    v = mant ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else {
    const int bias = (1 << (exp_bits - 1)) - 1;
    // value = significand * 2^(exponent - mant_bits), built exactly from the double's bits
    const std::uint64_t significand = exp == 0 ? mant : ((std::uint32_t{1} << mant_bits) | mant);
    const int e2 = (exp == 0 ? 1 - bias : static_cast<int>(exp) - bias) - mant_bits;
    v = static_cast<double>(significand);  // exact: < 2^25
    // multiply by 2^e2 exactly (|e2| < 1000: a normal double power of two)
    const std::uint64_t pow2 = static_cast<std::uint64_t>(e2 + 1023) << 52;
    v *= std::bit_cast<double>(pow2);
  }
  return negative ? -v : v;
}

constexpr int exponent_bits(DType t) { return t == DType::F32 ? 8 : t == DType::F16 ? 5 : 8; }
constexpr int stored_mantissa_bits(DType t) { return traits(t).significand_bits - 1; }

}  // namespace detail

// Bits of the nearest bf16 / fp16 / fp32 value (ties to even).
constexpr std::uint16_t encode_bf16(double x) { return static_cast<std::uint16_t>(detail::encode_binary(x, 8, 7)); }
constexpr std::uint16_t encode_fp16(double x) { return static_cast<std::uint16_t>(detail::encode_binary(x, 5, 10)); }
constexpr std::uint32_t encode_fp32(double x) { return detail::encode_binary(x, 8, 23); }
// The exact value of bf16 / fp16 / fp32 bits.
constexpr double decode_bf16(std::uint16_t b) { return detail::decode_binary(b, 8, 7); }
constexpr double decode_fp16(std::uint16_t b) { return detail::decode_binary(b, 5, 10); }
constexpr double decode_fp32(std::uint32_t b) { return detail::decode_binary(b, 8, 23); }

// x rounded to the nearest value of floating dtype t, as a double (F64: x itself). Integer dtypes
// throw std::invalid_argument: they have no rounding the emulation could use.
constexpr double round_to(double x, DType t) {
  switch (t) {
    case DType::F64: return x;
    case DType::F32: return decode_fp32(encode_fp32(x));
    case DType::F16: return decode_fp16(encode_fp16(x));
    case DType::BF16: return decode_bf16(encode_bf16(x));
    default:
      throw std::invalid_argument("round_to: " + std::string(dtype_name(t)) + " is not a floating-point dtype");
  }
}

// The same for a float argument, returned as float (the precision emulation rounds fp32 values).
constexpr float round_to(float x, DType t) { return static_cast<float>(round_to(static_cast<double>(x), t)); }

}  // namespace path
