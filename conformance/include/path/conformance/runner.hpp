#pragma once
// Running a suite: an implementation through the cases of a suite directory (manifest and case
// files, manifest.hpp) or of a suite in memory, judged case by case (third-party result files as
// an implementation: adapters/results).
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "path/conformance/case.hpp"
#include "path/conformance/implementation.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/manifest.hpp"
#include "path/conformance/progress.hpp"
#include "path/conformance/selection.hpp"

namespace path::conformance {

struct CaseRunOptions {
  JudgeOptions judge{};
  OutputSelection outputs{};                // only these are asked for and judged
  std::optional<std::string> results_dir;  // write the outputs there as <case>.safetensors
  bool overwrite_results = false;          // an existing result file is an error unless set (--force)
};

// The case an implementation is given under an output selection: without a selected gradient, a
// gradient case is a forward case (no `do`), so a forward-only implementation can run it.
CaseInput selected_input(const Case& c, const OutputSelection& outputs);

// One case through an implementation: poison the selected outputs, run (timing it), judge them;
// the outputs left out are listed in CaseVerdict::not_judged. An exception from the implementation
// fails the case with its message; a case it cannot run is skipped. A result file that cannot be
// written is an io::FileError (the run stops: that is no verdict on the implementation).
CaseVerdict run_case(Implementation& impl, const Case& c, const CaseRunOptions& options = {});

struct SuiteRunOptions {
  JudgeOptions judge{};
  std::optional<OutputSelection> outputs;  // --outputs; default: the suite manifest's (all)
  std::optional<std::string> results_dir;  // write each case's outputs there (run)
  bool overwrite_results = false;
  Shard shard{};                           // --shard K/N: the cases of this shard only
  std::string only;                        // --only A,B: the cases whose names contain A or B
  std::ostream* progress = nullptr;        // one line per case (done/total, time left)
};

// The cases of the manifest a run takes: its shard, then --only (FileError naming the filter when
// nothing is left).
std::vector<std::string> selected_cases(const SuiteManifest& m, const SuiteRunOptions& options);

// Runs the implementation through the selected cases of a suite directory (in manifest order),
// after checking their files against the manifest's digests (a mismatch refuses the whole suite:
// io::FileError). A case file that cannot be read, or whose metadata 'case' is not its file name,
// fails that case with the reason; the others still run.
Report run_suite_directory(Implementation& impl, const std::string& suite_dir, const SuiteRunOptions& options);
// The same over cases in memory (they are already the selected ones: options.shard and only are
// not applied again).
Report run_cases(Implementation& impl, const std::vector<Case>& cases, const SuiteRunOptions& options);

// The results file an implementation's outputs make (tensors in their output dtypes).
io::TensorFile results_file(const Case& c, const Outputs& outputs, const std::string& implementation);

}  // namespace path::conformance
