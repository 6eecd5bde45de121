// An external program fuzzed in batches (properties/external.hpp).
#include "path/properties/external.hpp"

#include <stdexcept>

#include "path/adapters/result_files.hpp"
#include "path/conformance/runner.hpp"

namespace path::properties {

namespace pc = conformance;

struct CommandImplementation::Batch {
  adapters::TemporaryDirectory suite{"pathcheck-fuzz-suite"};
  adapters::TemporaryDirectory results{"pathcheck-fuzz-results"};
  adapters::CommandOutcome outcome;
};

CommandImplementation::CommandImplementation(adapters::CommandOptions options) : options_(std::move(options)) {}

std::shared_ptr<CommandImplementation::Batch> CommandImplementation::run_program(const std::vector<const pc::Case*>& cases) {
  auto batch = std::make_shared<Batch>();
  pc::SuiteManifest m;
  m.suite = "fuzz-batch";
  m.dtype = cases.empty() ? "" : std::string(dtype_label(cases.front()->spec().dtype));
  for (const pc::Case* c : cases) {
    pc::write_case(pc::case_path(batch->suite.path(), c->name()), *c, false);
    m.cases.push_back(c->name());
  }
  pc::write_manifest(batch->suite.path(), m);
  batch->outcome = adapters::CommandRunner(options_).run(batch->suite.path(), batch->results.path());
  ++runs_;
  return batch;
}

void CommandImplementation::stage(const std::vector<const pc::Case*>& cases) {
  staged_.clear();
  if (cases.empty()) return;
  std::shared_ptr<Batch> all = run_program(cases);
  if (all->outcome.succeeded() || cases.size() == 1) {
    for (const pc::Case* c : cases) staged_[c->name()] = all;
    return;
  }
  // One bad case must not fail its neighbours: each case again, on its own.
  for (const pc::Case* c : cases) staged_[c->name()] = run_program({c});
}

void CommandImplementation::run(const pc::CaseInput& input, pc::Outputs& outputs) {
  const auto it = staged_.find(input.spec.name);
  if (it == staged_.end())
    throw std::logic_error("case " + input.spec.name + " was not staged for the external command (a pathcheck bug)");
  const Batch& b = *it->second;
  if (!b.outcome.succeeded()) {
    std::string tail = b.outcome.stderr_tail;
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
    throw std::runtime_error("the command " + b.outcome.how_it_ended() +
                             (tail.empty() ? std::string("; its stderr was empty") : "; its stderr ended with: " + tail));
  }
  adapters::ResultFiles(b.results.path()).run(input, outputs);
}

}  // namespace path::properties
