// libFuzzer target: the safetensors reader (path::io::parse_safetensors) on arbitrary bytes.
// Properties: it returns or throws FileError, nothing else (no crash, no other exception, no
// sanitizer report); and whatever it accepts, the writer writes back and the reader reads back
// identically (dtypes, shapes, values bit for bit except NaN payloads, metadata).
// Build and run: scripts/fuzz-reader.sh [SECONDS] (docs/conformance.md, "Fuzzing the reader").
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cstdio>

#include "path/io/safetensors.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_safetensors_reader: property violated: %s\n", what);
  std::abort();
}

bool same_value(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  std::uint64_t x, y;
  std::memcpy(&x, &a, 8);
  std::memcpy(&y, &b, 8);
  return x == y;  // -0 and +0 differ
}

void check_same(const path::io::TensorFile& a, const path::io::TensorFile& b) {
  if (a.metadata != b.metadata) fail("metadata changed in a write/read round trip");
  if (a.tensors.size() != b.tensors.size()) fail("tensor count changed in a round trip");
  for (const auto& [name, t] : a.tensors) {
    const auto it = b.tensors.find(name);
    if (it == b.tensors.end()) fail("a tensor disappeared in a round trip");
    const path::io::Tensor& u = it->second;
    if (t.dtype != u.dtype || t.shape != u.shape || t.values.size() != u.values.size())
      fail("dtype, shape or size changed in a round trip");
    if (t.numel() != t.values.size()) fail("numel() disagrees with the number of values");
    for (std::size_t i = 0; i < t.values.size(); ++i)
      if (!same_value(t.values[i], u.values[i])) fail("a value changed in a round trip");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  path::io::TensorFile file;
  try {
    file = path::io::parse_safetensors(data, size, "fuzz-input");
  } catch (const path::io::FileError&) {
    return 0;  // rejected with a message: the expected outcome for most inputs
  }
  std::vector<std::uint8_t> bytes;
  try {
    bytes = path::io::serialize_safetensors(file);
  } catch (const path::io::FileError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    fail("the writer refused a file the reader accepted");
  }
  path::io::TensorFile again;
  try {
    again = path::io::parse_safetensors(bytes.data(), bytes.size(), "round-trip");
  } catch (const path::io::FileError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    fail("the reader refused what the writer wrote");
  }
  check_same(file, again);
  return 0;
}
