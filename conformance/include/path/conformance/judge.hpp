#pragma once
// Judging results against a case (docs/tolerance.md), and the reports: a table for people,
// JSON and JUnit XML for machines.
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "path/conformance/case.hpp"
#include "path/conformance/implementation.hpp"

namespace path::conformance {

enum class Verdict { pass, fail, skip };
std::string_view to_string(Verdict v);

struct WorstElement {
  std::size_t flat = 0;
  std::vector<std::int64_t> index;  // multi-index in the output's shape
  double got = 0, expected = 0;
};

// One output judged by the criteria of docs/tolerance.md (tolerance.hpp): max, norm, rows.
// Each criterion has a ratio that passes iff it is at most c; `ratio` is the largest.
struct OutputVerdict {
  std::string output;
  Verdict verdict = Verdict::fail;
  double error = 0;      // max |R - E| (+inf with a non-finite element or a missing output)
  Tolerance tolerance;   // baselines, floors, c and the tolerances
  double ratio = 0;      // the largest of the criteria's ratios; pass <=> ratio <= c
  std::string problem;   // why it failed, in words ("" on a pass)
  std::optional<WorstElement> worst;
  // Every criterion's ratio by name ("max", "norm", "rows"; a version-1 case has "max" alone);
  // each must be <= c for a pass. The reports show one column per name.
  std::map<std::string, double> ratios{};
  std::vector<std::string> failed{};  // the criteria that failed: "max", "norm", "rows", "non-finite"
};

struct CaseVerdict {
  std::string name;
  Verdict verdict = Verdict::fail;
  std::string problem;  // a failure of the case as a whole (unreadable result file, run error)
  std::vector<OutputVerdict> outputs;
  double seconds = 0;   // time the implementation took (run) or the judging took (validate)
  std::vector<std::string> not_judged{};  // outputs of the case left out by --outputs
};

struct JudgeOptions {
  std::optional<double> c;  // overrides the c stored in the case (the floor is kept)
};

// Judges every expected output of the case against `results` (extra result tensors are ignored).
CaseVerdict judge(const Case& c, const Outputs& results, const JudgeOptions& options = {});
// A case that could not be judged at all (the message becomes the problem).
CaseVerdict failed_case(const Case& c, const std::string& problem);
CaseVerdict skipped_case(const Case& c, const std::string& why);

struct Report {
  std::string command;         // "validate", "run", "check" or "merge"
  std::string suite;           // suite directory or name
  std::string implementation;  // implementation name or results directory
  std::string dtype;
  std::vector<CaseVerdict> cases;
  double seconds = 0;
  // What part of the suite this report covers (selection.hpp): the outputs judged ("all" or
  // "o,lse"), the shard ("K/N"; empty: every case) and the cases of the whole suite; cases
  // with none of the selected outputs, which were not run.
  std::string outputs = "all";
  std::string shard{};
  std::size_t suite_cases = 0;
  std::vector<std::string> not_judged_cases{};
  // manifest.hpp's suite_identity: the same for every shard of one suite (pathcheck merge).
  // (These later members have default initializers, so that callers listing the earlier ones
  // positionally, Report{"run", suite, name, dtype, cases, seconds}, compile without warnings.)
  std::string suite_identity{};

  std::size_t count(Verdict v) const;
  // Every case judged passed, none skipped, and at least one was judged (nothing is no pass).
  bool all_passed() const { return !cases.empty() && count(Verdict::fail) == 0 && count(Verdict::skip) == 0; }
};

// The table: one row per (case, output): case, output, error, baseline, tolerance, ratio, verdict;
// under a failing row its problem and worst element; what was not judged; then a summary that
// names the failing cases.
void print_report(std::ostream& os, const Report& r);
// What --outputs left out: "dq dk dv dw dbeta dg in 17 cases; k_cache in 4 cases" ("" for nothing).
std::string not_judged_summary(const Report& r);
std::string report_json(const Report& r);
// Back from report_json's text (pathcheck merge); io::FileError naming `source` when malformed.
Report report_from_json(const std::string& text, const std::string& source);
std::string report_junit(const Report& r);
// Several reports in one file (pathcheck check: one <testsuite> per implementation).
std::string report_junit(const std::vector<Report>& reports, const std::string& name);

// Writes text to a file through a temporary file renamed into place. An existing file is an
// io::FileError unless `overwrite` (--force).
void write_text_file(const std::string& path, const std::string& text, bool overwrite);

}  // namespace path::conformance
