// libFuzzer target: the conformance case reader (path::conformance::case_from_file) on arbitrary
// bytes, through the safetensors reader. Properties: it returns or throws FileError, nothing else;
// an accepted case writes back and reads back as the same case.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "path/conformance/case.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_case_reader: property violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace pc = path::conformance;
  pc::Case c;
  try {
    c = pc::case_from_file(path::io::parse_safetensors(data, size, "fuzz-input"));
  } catch (const path::io::FileError&) {
    return 0;
  }
  try {
    const std::vector<std::uint8_t> bytes = path::io::serialize_safetensors(pc::case_to_file(c));
    const pc::Case again = pc::case_from_file(path::io::parse_safetensors(bytes.data(), bytes.size(), "round-trip"));
    if (again.name() != c.name() || again.expected != c.expected || again.input.problem.q != c.input.problem.q ||
        again.input.dO != c.input.dO || again.tolerances.size() != c.tolerances.size())
      fail("a case changed in a write/read round trip");
  } catch (const path::io::FileError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    fail("an accepted case does not survive a write/read round trip");
  }
  return 0;
}
