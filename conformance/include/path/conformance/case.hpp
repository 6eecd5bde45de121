#pragma once
// Conformance cases (docs/conformance.md): the whole case as stored in one safetensors file
// (Case: inputs, do, expected outputs in f64, tolerances and provenance). What a case asks for
// (CaseSpec) and the inputs an implementation receives (CaseInput) are in the light
// implementation.hpp.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "path/conformance/implementation.hpp"
#include "path/conformance/tolerance.hpp"
#include "path/io/safetensors.hpp"

namespace path::conformance {

// A whole conformance case.
struct Case {
  CaseInput input;
  std::map<std::string, std::vector<double>> expected;  // by output name, row-major, exact f64 roundings
  std::map<std::string, Tolerance> tolerances;           // by output name
  std::map<std::string, std::string> provenance;         // suite, seed, case_seed, oracle, ... (strings)
  std::string source;                                     // the file it was read from

  const CaseSpec& spec() const { return input.spec; }
  const std::string& name() const { return input.spec.name; }
};

// The case as a safetensors file: tensors q, k, v, w, beta, [g], [cu_seqlens], [do], then the
// expected outputs under their output names (F64); metadata as in docs/conformance.md.
io::TensorFile case_to_file(const Case& c);
// Reads a case back, checking everything (FileError naming the file and the tensor or key).
Case case_from_file(const io::TensorFile& f);

Case read_case(const std::string& path);
void write_case(const std::string& path, const Case& c, bool overwrite);

// The format tag every case file carries in metadata "format".
inline constexpr const char* kCaseFormat = "pathcheck-conformance-case";
// Version 2 (docs/tolerance.md): tolerance entries carry the norm and row criteria, and each
// output's per-row numbers are F64 tensors: row_tensor(output, 0) the row scales s_r, 1 the
// baseline family's errors b_r. Version 1 files are still read (judged by the max criterion
// alone).
inline constexpr int kCaseFormatVersion = 2;
inline std::string row_tensor(const std::string& output, int which) {
  static const char* const prefix[] = {"row_scale.", "row_baseline_error."};
  return prefix[which] + output;
}

}  // namespace path::conformance
