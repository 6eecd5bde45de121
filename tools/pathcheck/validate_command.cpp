// pathcheck validate: judges a third party's result files against a suite.
#include "validate_command.hpp"

#include <cmath>
#include <filesystem>
#include <iostream>

#include "arguments.hpp"
#include "path/adapters/result_files.hpp"
#include "path/conformance/runner.hpp"

namespace pathcheck {

const char* const validate_usage =
    "pathcheck validate --suite DIR --results DIR [--report-json F] [--junit F] [--c C] [--quiet]\n"
    "  For every case DIR/<case>.safetensors of the suite, reads RESULTS/<case>.safetensors (the same\n"
    "  tensor names as the case's expected outputs: o, lse, and dq dk dv dw dbeta dg or k_cache) and\n"
    "  judges each output: error <= c * baseline + floor (docs/tolerance.md). Prints a table (case,\n"
    "  output, error, baseline, tolerance, ratio, verdict; the worst element of every failure).\n"
    "  Exit 0 only if every case passed; 1 otherwise.\n";

int run_validate(const std::vector<std::string>& args) {
  namespace pc = path::conformance;
  const Arguments a(args, {"--suite", "--results", "--report-json", "--junit", "--c"}, {"--quiet"});
  const std::string suite = a.required("--suite"), results = a.required("--results");
  pc::SuiteRunOptions options;
  if (a.has("--c")) {
    const std::string text = a.required("--c");
    char* end = nullptr;
    const double c = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !(c > 0) || !std::isfinite(c))
      throw UsageError("--c: '" + text + "' is not a positive number");
    options.judge.c = c;
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(results, ec)) throw path::io::FileError(results + ": not a directory (expected the results directory)");
  if (!a.has("--quiet")) options.progress = &std::cerr;
  path::adapters::ResultFiles files(results);
  pc::Report report = pc::run_suite_directory(files, suite, options);
  report.command = "validate";
  report.implementation = results;
  pc::print_report(std::cout, report);
  if (a.has("--report-json")) pc::write_text_file(a.required("--report-json"), pc::report_json(report));
  if (a.has("--junit")) pc::write_text_file(a.required("--junit"), pc::report_junit(report));
  return report.all_passed() ? 0 : 1;
}

}  // namespace pathcheck
