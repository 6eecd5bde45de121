#pragma once
// Conformance cases (docs/conformance.md): what a case asks for (CaseSpec), the inputs an
// implementation receives (CaseInput), and the whole case as stored in one safetensors file
// (Case: inputs, do, expected outputs in f64, tolerances and provenance).
//
// Output names, shapes and dtypes (the dtype an implementation returns them in):
//   o [B,T,HQ,Dv] input dtype      lse [B,T,HQ] F32
//   gradient cases:  dq [B,T,HQ,D], dk [B,T,H,D], dv [B,T,H,Dv] in the input dtype;
//                    dw [B,T,H,D], dbeta [B,T,H], dg [B,T,HQ] (gated cases only) in F32
//   decode cases:    k_cache [B,T,H,D] in the input dtype (each sequence's key cache after its
//                    last token: k_j^(n-1) = H_{n-1} ... H_{j+1} k_j)
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "path/conformance/tolerance.hpp"
#include "path/emulation.hpp"
#include "path/io/safetensors.hpp"
#include "path/problem.hpp"

namespace path::conformance {

// prefill: one forward (and backward) pass over every token. decode: per sequence, the first
// prefill_length tokens by prefill-to-cache (their o and lse from that pass), every later token
// by one decode step (apply H_t to the cached keys, append k_t, attend).
enum class Mode { prefill, decode };

std::string_view to_string(Mode m);
std::optional<Mode> parse_mode(std::string_view s);

// "bf16" | "fp16" | "fp32" (also the safetensors names "BF16", "F16", "F32").
std::optional<io::DType> parse_input_dtype(std::string_view s);
// "bf16", "fp16", "fp32", "f64"
std::string_view dtype_label(io::DType t);
// The emulation precision of an input dtype (F32 -> fp32).
InputPrecision precision_of(io::DType t);

struct CaseSpec {
  std::string name;
  Shape shape;
  io::DType dtype = io::DType::BF16;  // q, k, v, do (w, beta, g are always F32)
  bool gated = false;
  GateConvention gate_convention = GateConvention::paper;
  std::vector<index_t> cu_seqlens;  // empty: B sequences of length T
  Mode mode = Mode::prefill;
  index_t prefill_length = 0;       // decode only: tokens of each sequence taken by prefill
  bool gradients = false;           // prefill only: also dq, dk, dv, dw, dbeta, dg from `do`
  std::string distribution = "standard";  // how the values were drawn (suite.hpp)
};

// The outputs a case expects, in a fixed order: o, lse, then the gradients or k_cache.
std::vector<std::string> output_names(const CaseSpec& spec);
std::vector<std::int64_t> output_shape(const CaseSpec& spec, std::string_view output);
io::DType output_dtype(const CaseSpec& spec, std::string_view output);

// What an implementation under test receives: the inputs exactly as stored (q, k, v and do
// already rounded to the input dtype; w, beta, g already rounded to F32).
struct CaseInput {
  CaseSpec spec;
  Problem<double> problem;
  std::vector<double> dO;  // [B,T,HQ,Dv]; empty unless spec.gradients
};

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
inline constexpr int kCaseFormatVersion = 1;

}  // namespace path::conformance
