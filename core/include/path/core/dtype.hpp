#pragma once
// The one element-type enum of the project (docs/architecture.md): file tensors, case inputs and
// outputs, the precision emulation and the GPU kernels all name their types with it.
// Standard library only: the light conformance interface includes this header.
#include <cstddef>
#include <optional>
#include <string_view>

namespace path {

// Floating types first, then the integer types that files may hold (cu_seqlens).
enum class DType { F64, F32, F16, BF16, I64, I32, I8, U8, BOOL };

struct DTypeTraits {
  DType type;
  std::string_view file_name;  // the safetensors name: "F64", "BF16", ...
  std::string_view label;      // the command-line and report name: "f64", "bf16", "fp16", "fp32", ...
  std::size_t bytes;
  int significand_bits;        // p, implicit bit included (0 for integer types)
  int min_normal_exponent;     // emin: smallest normal number is 2^emin (0 for integer types)
  int max_exponent;            // emax: largest finite number is (2 - 2^(1-p)) 2^emax (0 for integer types)
};

inline constexpr DTypeTraits kDTypeTraits[] = {
    {DType::F64, "F64", "f64", 8, 53, -1022, 1023},
    {DType::F32, "F32", "fp32", 4, 24, -126, 127},
    {DType::F16, "F16", "fp16", 2, 11, -14, 15},
    {DType::BF16, "BF16", "bf16", 2, 8, -126, 127},
    {DType::I64, "I64", "i64", 8, 0, 0, 0},
    {DType::I32, "I32", "i32", 4, 0, 0, 0},
    {DType::I8, "I8", "i8", 1, 0, 0, 0},
    {DType::U8, "U8", "u8", 1, 0, 0, 0},
    {DType::BOOL, "BOOL", "bool", 1, 0, 0, 0},
};

constexpr const DTypeTraits& traits(DType t) {
  for (const DTypeTraits& d : kDTypeTraits)
    if (d.type == t) return d;
  return kDTypeTraits[0];  // unreachable for valid enum values
}

constexpr bool is_floating(DType t) { return traits(t).significand_bits > 0; }
constexpr std::size_t dtype_size(DType t) { return traits(t).bytes; }
// "F64", "F32", "F16", "BF16", "I64", "I32", "I8", "U8", "BOOL" (safetensors' names).
constexpr std::string_view dtype_name(DType t) { return traits(t).file_name; }
// "f64", "fp32", "fp16", "bf16", ... (command lines, reports, case metadata).
constexpr std::string_view dtype_label(DType t) { return traits(t).label; }

// The inverse of dtype_name (case-sensitive, as the file format is).
constexpr std::optional<DType> dtype_from_name(std::string_view name) {
  for (const DTypeTraits& d : kDTypeTraits)
    if (d.file_name == name) return d.type;
  return std::nullopt;
}

// Input dtypes of a low-precision kernel under test: "bf16", "fp16", "fp32" (or their file names).
constexpr std::optional<DType> parse_input_dtype(std::string_view s) {
  for (DType t : {DType::BF16, DType::F16, DType::F32})
    if (s == dtype_label(t) || s == dtype_name(t)) return t;
  return std::nullopt;
}

}  // namespace path
