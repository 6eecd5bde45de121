#pragma once
// Judging results against a case (docs/tolerance.md), and the reports: a table for people,
// JSON and JUnit XML for machines.
#include <cstdint>
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

struct OutputVerdict {
  std::string output;
  Verdict verdict = Verdict::fail;
  double error = 0;      // max |R - E| (+inf with a non-finite element or a missing output)
  Tolerance tolerance;   // baseline, floor, c and the tolerance
  double ratio = 0;      // error / (baseline + floor / c); pass <=> ratio <= c
  std::string problem;   // why it failed, in words ("" on a pass)
  std::optional<WorstElement> worst;
};

struct CaseVerdict {
  std::string name;
  Verdict verdict = Verdict::fail;
  std::string problem;  // a failure of the case as a whole (unreadable result file, run error)
  std::vector<OutputVerdict> outputs;
  double seconds = 0;   // time the implementation took (run) or the judging took (validate)
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
  std::string command;         // "validate" or "run"
  std::string suite;           // suite directory or name
  std::string implementation;  // implementation name or results directory
  std::string dtype;
  std::vector<CaseVerdict> cases;
  double seconds = 0;

  std::size_t count(Verdict v) const;
  bool all_passed() const { return count(Verdict::fail) == 0 && count(Verdict::skip) == 0; }
};

// The table: one row per (case, output): case, output, error, baseline, tolerance, ratio, verdict;
// under a failing row its problem and worst element; then a summary line.
void print_report(std::ostream& os, const Report& r);
std::string report_json(const Report& r);
std::string report_junit(const Report& r);

// Writes text to a file (FileError naming it on failure).
void write_text_file(const std::string& path, const std::string& text);

}  // namespace path::conformance
