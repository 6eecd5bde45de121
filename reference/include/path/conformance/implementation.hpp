#pragma once
// The implementation-under-test interface (DESIGN.md section 4): the CPU oracles, our CUDA kernels
// and a third party's result files all plug in here, and are judged by the same code.
//
// The harness hands an implementation the case's inputs and an Outputs map that already holds
// every expected output tensor, with its shape and dtype, filled with NaN ("poisoned"): an
// implementation writes the values it computes into them, and any element it leaves unwritten
// stays NaN and fails the case. An implementation may also erase an output it does not produce
// (the judge then reports it missing) or replace a tensor (the judge checks its shape).
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "path/conformance/case.hpp"
#include "path/forward.hpp"

namespace path::conformance {

using Outputs = std::map<std::string, io::Tensor>;

// Every output of the spec, shaped and typed as output_shape/output_dtype say, all NaN.
Outputs poisoned_outputs(const CaseSpec& spec);

class Implementation {
 public:
  virtual ~Implementation() = default;
  virtual std::string name() const = 0;
  // One line for listings and reports (configuration, precision, device).
  virtual std::string description() const { return name(); }
  // false: the case is reported as skipped (unsupported head dim, dtype, mode, ...).
  virtual bool supports(const CaseSpec&) const { return true; }
  // Computes the case's outputs into the poisoned `outputs`. May throw: the case then fails
  // with the message (an implementation's error never stops the suite).
  virtual void run(const CaseInput& input, Outputs& outputs) = 0;
};

using ImplementationFactory = std::function<std::unique_ptr<Implementation>()>;

// The registry of in-process implementations ("cpu-blockwise" and "cpu-naive" are built in;
// the CUDA kernels register themselves when built).
void register_implementation(const std::string& name, const std::string& description, ImplementationFactory f);
std::vector<std::pair<std::string, std::string>> registered_implementations();  // (name, description)
std::unique_ptr<Implementation> make_implementation(const std::string& name);   // nullptr when unknown

// Writes values into an output tensor, rounded to the tensor's dtype (as a kernel that returns
// that dtype would store them).
void store_rounded(io::Tensor& out, const std::vector<double>& values);

// The CPU oracles as implementations under test: the double-precision algorithm on the case's
// (already rounded) inputs, every output rounded to its dtype -- i.e. the behaviour of a
// low-precision kernel whose only errors are its output roundings. Forward: path::forward;
// gradients: path::backward; decode cases: path::decode (prefill-to-cache, then decode steps).
// The hooks let tests derive planted-bug variants (mutants).
class CpuOracleImplementation : public Implementation {
 public:
  CpuOracleImplementation(std::string name, ForwardOptions options);
  std::string name() const override { return name_; }
  std::string description() const override;
  void run(const CaseInput& input, Outputs& outputs) override;

 protected:
  // The problem the algorithm sees (identity here; mutants perturb it).
  virtual Problem<double> prepare(const CaseInput& input) const { return input.problem; }
  // The gradient the backward is given (identity here).
  virtual std::vector<double> prepare_do(const CaseInput& input) const { return input.dO; }
  // Last look at the double-precision results before they are rounded into `outputs`.
  virtual void finish(const CaseInput&, std::map<std::string, std::vector<double>>&) const {}

  std::string name_;
  ForwardOptions options_;
};

}  // namespace path::conformance
