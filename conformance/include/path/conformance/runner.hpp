#pragma once
// Running a suite: suite directories (manifest + case files), running an implementation through
// the cases (third-party result files as an implementation: adapters/results).
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "path/conformance/case.hpp"
#include "path/conformance/implementation.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/progress.hpp"

namespace path::conformance {

// suite.json in a suite directory.
inline constexpr const char* kManifestName = "suite.json";

struct SuiteManifest {
  std::string suite;   // quick / standard / full / custom
  std::string dtype;   // bf16 / fp16 / fp32
  std::uint64_t seed = 0;
  std::vector<std::string> cases;  // case names; the files are <name>.safetensors
};

void write_manifest(const std::string& dir, const SuiteManifest& m);
// The manifest of a suite directory; without suite.json, every *.safetensors file in it, sorted
// (FileError for a missing directory, an unreadable or malformed manifest, or no cases).
SuiteManifest read_manifest(const std::string& dir);
std::string case_path(const std::string& dir, const std::string& case_name);

// One case through an implementation: poison, run (timing it), judge. An exception from the
// implementation fails the case with its message; an unsupported case is skipped.
// With `results_dir`, the outputs are also written there as <case>.safetensors.
CaseVerdict run_case(Implementation& impl, const Case& c, const JudgeOptions& judge_options,
                     const std::optional<std::string>& results_dir = std::nullopt);

struct SuiteRunOptions {
  JudgeOptions judge{};
  std::optional<std::string> results_dir;  // write each case's outputs there (run)
  std::ostream* progress = nullptr;        // one line per case (done/total, time left)
};

// Runs the implementation through every case of a suite directory (in manifest order). A case
// file that cannot be read, or whose metadata 'case' is not its file name, fails that case with
// the reason; the others still run.
Report run_suite_directory(Implementation& impl, const std::string& suite_dir, const SuiteRunOptions& options);
// The same over cases in memory.
Report run_cases(Implementation& impl, const std::vector<Case>& cases, const SuiteRunOptions& options);

// The results file an implementation's outputs make (tensors in their output dtypes).
io::TensorFile results_file(const Case& c, const Outputs& outputs, const std::string& implementation);

}  // namespace path::conformance
