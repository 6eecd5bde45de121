#pragma once
// The implementation-under-test interface (docs/conformance.md, docs/architecture.md): the CPU
// oracles (adapters/cpu), our CUDA kernels (adapters/cuda), a third party's result files
// (adapters/results) and an external program (adapters/command) all plug in here, and are judged
// by the same code (judge.hpp).
//
// This header is light: it and everything it includes use the C++ standard library alone (no
// Eigen, Boost or GMP), so an adapter needs none of them. tests/test_light_interface.cpp
// proves it by compiling a minimal adapter with only core/include and conformance/include on the
// include path and checking every header it pulled in.
//
// The harness hands an implementation the case's inputs and an Outputs map that already holds
// every expected output tensor, with its shape and dtype, filled with NaN ("poisoned"): an
// implementation writes the values it computes into them, and any element it leaves unwritten
// stays NaN and fails the case. An implementation may also erase an output it does not produce
// (the judge then reports it missing) or replace a tensor (the judge checks its shape).
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

#include "path/core/dtype.hpp"
#include "path/core/tensor.hpp"
#include "path/problem.hpp"

namespace path::conformance {

// prefill: one forward (and backward) pass over every token. decode: per sequence, the first
// prefill_length tokens by prefill-to-cache (their o and lse from that pass), every later token
// by one decode step (apply H_t to the cached keys, append k_t, attend).
enum class Mode { prefill, decode };

std::string_view to_string(Mode m);
std::optional<Mode> parse_mode(std::string_view s);

struct CaseSpec {
  std::string name;
  Shape shape;
  DType dtype = DType::BF16;  // q, k, v, do (w, beta, g are always F32)
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
DType output_dtype(const CaseSpec& spec, std::string_view output);

// What an implementation under test receives: the inputs exactly as stored (q, k, v and do
// already rounded to the input dtype; w, beta, g already rounded to F32).
struct CaseInput {
  CaseSpec spec;
  Problem<double> problem;
  std::vector<double> dO;  // [B,T,HQ,Dv]; empty unless spec.gradients
};

using Outputs = std::map<std::string, Tensor>;

// Every output of the spec, shaped and typed as output_shape/output_dtype say, all NaN.
Outputs poisoned_outputs(const CaseSpec& spec);

// Writes values into an output tensor, rounded to the tensor's dtype (as a kernel that returns
// that dtype would store them). Throws std::invalid_argument on a size mismatch.
void store_rounded(Tensor& out, const std::vector<double>& values);

class Implementation {
 public:
  virtual ~Implementation() = default;
  virtual std::string name() const = 0;
  // One line for listings and reports (configuration, precision, device).
  virtual std::string description() const { return name(); }
  // An empty string: the implementation can run the case. Otherwise why not (unsupported head
  // dim, dtype, mode, ...): the case is then reported as skipped with that reason.
  virtual std::string cannot_run(const CaseSpec&) const { return {}; }
  // Computes the case's outputs into the poisoned `outputs`. May throw: the case then fails
  // with the message (an implementation's error never stops the suite).
  virtual void run(const CaseInput& input, Outputs& outputs) = 0;
};

}  // namespace path::conformance
