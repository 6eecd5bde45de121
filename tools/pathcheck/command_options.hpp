#pragma once
// Options several commands share: --outputs, --shard, --only, the report files (--report-json,
// --junit: checked before anything runs, never overwritten without --force, never a file of the
// suite) and the results directory of run (no result file overwritten without --force).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/selection.hpp"

namespace pathcheck {

// Help lines of the shared options, for CommandLine declarations.
extern const char* const kOutputsHelp;
extern const char* const kShardHelp;
extern const char* const kForceHelp;

std::optional<path::conformance::OutputSelection> outputs_option(const Arguments& a);
// --seed S: a 64-bit unsigned integer (the seeds gen and check print); absent: std::nullopt.
std::optional<std::uint64_t> seed_option(const Arguments& a);
path::conformance::Shard shard_option(const Arguments& a);
// --only A,B ("" when absent; an empty value is a usage error, not "every case").
std::string only_option(const Arguments& a);

// Where the reports go, checked up front.
struct ReportPaths {
  std::optional<std::string> json, junit;
  bool overwrite = false;
};
// --report-json / --junit: refuses (FileError, before the run) an existing file without --force,
// both options naming one file, a file inside `suite_dir` (case files and manifests live there),
// a missing or unwritable folder.
ReportPaths report_paths(const Arguments& a, const std::string& suite_dir = "");
void write_reports(const ReportPaths& paths, const path::conformance::Report& report);

// FileError unless `dir` is an existing folder this process can create files in.
void require_writable_directory(const std::string& dir);

// The results folder of `run --impl NAME --results DIR`: created when absent; refused when it is
// the suite folder or inside it, when it cannot be written, or (without --force) when it already
// holds a result file of one of `cases`.
std::string prepare_results_for(const std::string& dir, const std::string& suite_dir,
                                const std::vector<std::string>& cases, bool force);

// Whether a and b name the same existing folder, or b lies inside a.
bool same_or_inside(const std::string& a, const std::string& b);

}  // namespace pathcheck
