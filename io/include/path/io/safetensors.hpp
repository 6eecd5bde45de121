// Reading and writing safetensors files: the exchange format for test cases, golden data and
// results. The reader is hardened: it treats the file as untrusted input, validates every field
// of the header against the data area before touching tensor bytes, and reports every problem as
// a FileError naming the file (and the tensor, where there is one). docs/file-format.md lists
// the checks one by one.
//
// All values are held as double in memory, whatever the stored dtype: the oracles work in f64 or
// wider, and every supported dtype converts to double exactly (integers only up to 2^53, which
// the reader and the writer both enforce), so nothing is lost between the file and the oracle.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "path/core/dtype.hpp"
#include "path/core/tensor.hpp"

namespace path::io {

// The element types (path/core/dtype.hpp; the reader rejects other safetensors dtypes, F8_*,
// U16, C64, ..., as unsupported) and the tensor (path/core/tensor.hpp), under their io names.
using DType = path::DType;
using Tensor = path::Tensor;
using path::dtype_from_name;
using path::dtype_name;
using path::dtype_size;

// Every problem with a file, its header or a tensor in it. Message format:
//   "<file>: tensor '<name>': <problem>"  for a problem with one tensor
//   "<file>: <problem>"                   for a problem with the file or the header as a whole
class FileError : public std::runtime_error {
  using runtime_error::runtime_error;
};

// A whole file: its tensors by name, and its "__metadata__" map (string to string only, as the
// format requires).
struct TensorFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
  // The tensor called `name`; throws FileError naming the file and the tensor when it is missing.
  const Tensor& require(const std::string& name) const;
  bool has(const std::string& name) const;
  std::string source;  // file path (or label) it was read from, used in error messages
};

// Parses a complete safetensors image held in memory. `label` names it in error messages and
// becomes TensorFile::source. Throws FileError, and nothing else, on any malformed input.
TensorFile parse_safetensors(const std::uint8_t* data, std::size_t size, const std::string& label);

// Reads the whole file at `path`, then parses it (errors name `path`).
TensorFile read_safetensors(const std::string& path);

// Writes each tensor with the dtype in Tensor::dtype: doubles are rounded to nearest-even for
// F32/F16/BF16 (path::round_to, path/core/rounding.hpp); integer dtypes require integral values in the dtype's range
// (and |x| <= 2^53 for I64, so the file reads back exactly); BOOL requires 0 or 1. Any violation,
// a shape that does not match the values, a tensor called "__metadata__", or a name or metadata
// string that is not valid UTF-8 throws FileError and writes nothing.
// The bytes go to "<path>.tmp.<pid>" first, which is flushed to disk and then renamed over
// `path`, so a failed or interrupted write never leaves a half-written file at `path`.
// With `overwrite` false, an existing `path` is an error (FileError) and is left untouched.
void write_safetensors(const std::string& path, const TensorFile& file, bool overwrite);

// The bytes write_safetensors would write. Header padded with spaces so that the data area
// starts at a multiple of 8; tensors laid out by decreasing dtype size, then by name, so each
// starts at an offset aligned to its element size. Errors name file.source (or "<memory>").
std::vector<std::uint8_t> serialize_safetensors(const TensorFile& file);

}  // namespace path::io
