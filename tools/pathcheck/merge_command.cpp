// pathcheck merge: the JSON reports of a suite's shards (run or validate --shard K/N --report-json)
// into one report, as if one job had judged the whole suite (docs/sharding.md).
#include "merge_command.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

#include "command_options.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/merge.hpp"

namespace pathcheck {

namespace pc = path::conformance;

CommandLine merge_command_line() {
  return CommandLine("pathcheck merge REPORT.json... --report-json OUT [--junit OUT] [--force]",
                     "Merges the JSON reports of the shards of one suite into one report (and JUnit XML), and prints "
                     "its table. Refuses reports of different suites (seed, dtype, cases), commands, --outputs or "
                     "implementations, and reports that hold the same case (overlapping shards).")
      .positionals("REPORT", "the shards' reports (--report-json of run or validate --shard K/N)")
      .option("--report-json", "OUT", "the merged JSON report")
      .option("--junit", "OUT", "also the merged report as JUnit XML")
      .flag("--force", "replace existing output files")
      .footer("Exit status: 0 when the reports cover every case of the suite and all passed; 1 a failure, a missing "
              "shard (the reports do not cover the suite) or a bad report (named); 2 a bad command line.");
}

namespace {

std::string read_report(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw path::io::FileError(file + ": cannot open for reading");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int run_merge(const std::vector<std::string>& args) {
  const Arguments a = merge_command_line().parse(args);
  if (a.positionals().empty()) throw UsageError("give the reports to merge: pathcheck merge A.json B.json ... --report-json OUT");
  if (!a.has("--report-json")) throw UsageError("missing required option --report-json (the merged report)");
  const ReportPaths out = report_paths(a);
  std::vector<pc::ReportText> inputs;
  for (const std::string& file : a.positionals()) inputs.push_back({file, read_report(file)});
  const pc::MergedReport merged = pc::merge_reports(inputs);
  pc::Report report = pc::report_from_json(merged.json, "merged report");
  report.command = "merge";
  pc::print_report(std::cout, report);
  pc::write_text_file(*out.json, merged.json, out.overwrite);
  if (out.junit) pc::write_text_file(*out.junit, pc::report_junit(report), out.overwrite);
  if (!merged.complete) {
    std::cout << "INCOMPLETE: these reports cover " << merged.covered << " of the suite's " << merged.suite_cases
              << " cases (shards merged:";
    for (const std::string& s : merged.shards) std::cout << " " << s;
    std::cout << "); a shard's report is missing\n";
  }
  return merged.complete && report.all_passed() ? 0 : 1;
}

}  // namespace pathcheck
