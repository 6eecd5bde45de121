#pragma once
// The CPU oracles as implementations under test ("cpu-blockwise", "cpu-naive"): the
// double-precision algorithm on the case's (already rounded) inputs, every output rounded to its
// dtype -- i.e. the behaviour of a low-precision kernel whose only errors are its output
// roundings. Forward: path::forward; gradients: path::backward; decode cases: path::decode
// (prefill-to-cache, then decode steps). The hooks let tests derive planted-bug variants (mutants).
#include <map>
#include <string>
#include <vector>

#include "path/conformance/implementation.hpp"
#include "path/conformance/registry.hpp"
#include "path/forward.hpp"

namespace path::adapters {

class CpuOracleImplementation : public conformance::Implementation {
 public:
  CpuOracleImplementation(std::string name, ForwardOptions options);
  std::string name() const override { return name_; }
  std::string description() const override;
  void run(const conformance::CaseInput& input, conformance::Outputs& outputs) override;

 protected:
  // The problem the algorithm sees (identity here; mutants perturb it).
  virtual Problem<double> prepare(const conformance::CaseInput& input) const { return input.problem; }
  // The gradient the backward is given (identity here).
  virtual std::vector<double> prepare_do(const conformance::CaseInput& input) const { return input.dO; }
  // Last look at the double-precision results before they are rounded into `outputs`.
  virtual void finish(const conformance::CaseInput&, std::map<std::string, std::vector<double>>&) const {}

  std::string name_;
  ForwardOptions options_;
};

// Adds cpu-blockwise (block 16) and cpu-naive.
void register_cpu_implementations(conformance::Registry& registry);

}  // namespace path::adapters
