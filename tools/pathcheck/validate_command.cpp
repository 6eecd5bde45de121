// pathcheck validate: judges a third party's result files against a suite.
#include "validate_command.hpp"

#include <filesystem>
#include <iostream>

#include "arguments.hpp"
#include "command_options.hpp"
#include "path/adapters/result_files.hpp"
#include "path/conformance/runner.hpp"

namespace pathcheck {

namespace pc = path::conformance;

CommandLine validate_command_line() {
  return CommandLine("pathcheck validate --suite DIR --results DIR [options]",
                     "For every case DIR/<case>.safetensors of the suite, reads RESULTS/<case>.safetensors (the "
                     "tensor names of the case's expected outputs: o, lse, and dq dk dv dw dbeta dg or k_cache) and "
                     "judges each output: error <= c * baseline + floor (docs/tolerance.md). Prints a table (case, "
                     "output, error, baseline, tolerance, ratio, verdict; the worst element of every failure).")
      .option("--suite", "DIR", "the suite (its files must match the digests in its suite.json)")
      .option("--results", "DIR", "the result files (not the suite folder; a case file is no result)")
      .option("--report-json", "FILE", "also write the report as JSON")
      .option("--junit", "FILE", "also write the report as JUnit XML")
      .option("--c", "C", "judge with another multiple of the baseline (the floor is kept)")
      .option("--only", "A,B", "only the cases whose name contains A or B")
      .option("--outputs", "LIST", kOutputsHelp)
      .option("--shard", "K/N", kShardHelp)
      .flag("--force", "replace existing report files")
      .flag("--quiet", "no progress lines")
      .footer("Exit status: 0 every judged case passed; 1 a failure, or a suite or results folder that cannot be "
              "used (named); 2 a bad command line. docs/conformance.md.");
}

int run_validate(const std::vector<std::string>& args) {
  namespace fs = std::filesystem;
  const Arguments a = validate_command_line().parse(args);
  const std::string suite = a.required("--suite"), results = a.required("--results");
  pc::SuiteRunOptions options;
  if (a.has("--c")) options.judge.c = a.positive_or("--c", 2.0);
  options.outputs = outputs_option(a);
  options.shard = shard_option(a);
  options.only = only_option(a);
  std::error_code ec;
  if (!fs::is_directory(results, ec)) throw path::io::FileError(results + ": not a directory (expected the results directory)");
  // A harness that writes back what it loaded would pass: the case files hold the expected outputs.
  if (fs::is_directory(suite, ec) && fs::equivalent(suite, results, ec))
    throw path::io::FileError(results + ": --results is the suite folder itself; its files are the cases (with the "
                                        "expected outputs), not an implementation's results");
  const ReportPaths reports = report_paths(a, suite);
  if (!a.has("--quiet")) options.progress = &std::cerr;
  path::adapters::ResultFiles files(results);
  pc::Report report = pc::run_suite_directory(files, suite, options);
  report.command = "validate";
  report.implementation = results;
  pc::print_report(std::cout, report);
  write_reports(reports, report);
  return report.all_passed() ? 0 : 1;
}

}  // namespace pathcheck
