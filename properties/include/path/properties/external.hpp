#pragma once
// An external program as a fuzzed implementation (pathcheck fuzz --impl-cmd). The program is the
// same kind `pathcheck run --impl-cmd` runs (adapters/command): it reads a suite directory and
// writes one result file per case. So that its start-up (a Python interpreter, a CUDA context) does
// not dominate, the campaign hands it its cases in batches: stage() writes the cases of many tests
// into one small suite directory and runs the program once; run() then answers from those result
// files. While shrinking, the campaign stages the cases of one candidate at a time.
//
// A batch run that fails (non-zero exit, a signal, a time-out) is retried case by case, so that one
// failing case does not fail the whole batch; a case whose own run fails throws from run() with how
// the program ended and the tail of its stderr, and the judge fails that case with the message.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "path/adapters/external_command.hpp"
#include "path/conformance/case.hpp"
#include "path/conformance/implementation.hpp"

namespace path::properties {

class CommandImplementation : public conformance::Implementation {
 public:
  explicit CommandImplementation(adapters::CommandOptions options);
  std::string name() const override { return "command"; }
  std::string description() const override { return "external command: " + options_.command_template; }
  // Runs the program once on these cases (forgetting what earlier stages ran).
  void stage(const std::vector<const conformance::Case*>& cases);
  // The outputs the program wrote for a staged case; std::logic_error for a case never staged.
  void run(const conformance::CaseInput& input, conformance::Outputs& outputs) override;
  std::size_t program_runs() const { return runs_; }
  const std::string& command_template() const { return options_.command_template; }

 private:
  struct Batch;
  std::shared_ptr<Batch> run_program(const std::vector<const conformance::Case*>& cases);

  adapters::CommandOptions options_;
  std::map<std::string, std::shared_ptr<Batch>> staged_;  // case name -> the run that has its results
  std::size_t runs_ = 0;
};

}  // namespace path::properties
