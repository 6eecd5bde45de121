// pathcheck check: the newcomer's first command. Makes the built-in quick suite in memory (no
// files), runs it on every implementation this machine has -- cpu-blockwise always, our CUDA
// kernels when the build has them and a GPU is present -- and prints one verdict line each; an
// implementation that cannot run here gets a line saying why.
#include "check_command.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <thread>

#include "builtin_suite.hpp"
#include "command_options.hpp"
#include "implementations.hpp"
#include "path/conformance/check.hpp"
#include "path/conformance/progress.hpp"
#include "path/conformance/suite.hpp"

namespace pathcheck {

namespace pc = path::conformance;

CommandLine check_command_line() {
  return CommandLine("pathcheck check [options]",
                     "Checks this installation: makes the built-in quick suite in memory (23 cases covering every "
                     "edge case of docs/conformance.md: T = 1, primes, block multiples +-1, beta near 0 and 2, w = 0, "
                     "large logits, gates, GQA, varlen, decode, gradients), runs it on every implementation this "
                     "machine has (cpu-blockwise always; cuda when this build has it and a GPU is present) and prints "
                     "a verdict table. Implementations that cannot run here are listed with the reason.")
      .option("--dtype", "DTYPE", "input dtype: bf16 (default), fp16 or fp32")
      .option("--seed", "S", "the suite seed (default fresh, printed: rerun with it to reproduce)")
      .option("--jobs", "N", "cases built at a time (default: all cores)")
      .option("--only", "A,B", "only the cases whose name contains A or B")
      .option("--outputs", "LIST", kOutputsHelp)
      .option("--c", "C", "judge with another multiple of the baseline (the floor is kept)")
      .option("--report-json", "FILE", "also write every implementation's report as JSON")
      .option("--junit", "FILE", "also write them as JUnit XML (one <testsuite> per implementation)")
      .flag("--force", "replace existing report files")
      .flag("--verbose", "print every implementation's full table (default: the failing cases only)")
      .flag("--quiet", "no progress lines")
      .footer("Exit status: 0 when every implementation that ran passed every case it ran; 1 otherwise; 2 a bad "
              "command line. Cases an implementation cannot run (the CUDA adapter has no decode kernel yet) and "
              "outputs it does not compute (its backward) are listed as not run and not judged, never as passes.");
}

namespace {

// The implementations check runs, in order, and what this machine says about each.
std::vector<pc::CheckCandidate> candidates() {
  std::vector<pc::CheckCandidate> list;
  for (const char* name : {"cpu-blockwise", "cuda"}) list.push_back({name, unavailable_reason(name), claimed_outputs(name)});
  return list;
}

}  // namespace

int run_check(const std::vector<std::string>& args) {
  const Arguments a = check_command_line().parse(args);
  const auto dtype = path::parse_input_dtype(a.value_or("--dtype", "bf16"));
  if (!dtype) throw UsageError("--dtype: '" + a.value_or("--dtype", "") + "' (expected bf16, fp16 or fp32)");
  const long long jobs = a.integer_or("--jobs", std::max(1u, std::thread::hardware_concurrency()));
  if (jobs < 1 || jobs > 1024) throw UsageError("--jobs: must be in [1, 1024]");
  const std::optional<pc::OutputSelection> user = outputs_option(a);
  pc::JudgeOptions judge;
  if (a.has("--c")) judge.c = a.positive_or("--c", 2.0);
  const ReportPaths reports = report_paths(a);
  std::ostream* progress = a.has("--quiet") ? nullptr : &std::cerr;

  // The suite is built with every output the user asked for; each implementation is judged on
  // its share.
  const std::uint64_t suite_seed = seed_option(a).value_or(pc::random_seed());
  const std::vector<pc::CaseSpec> specs =
      select_specs("quick", *dtype, only_option(a), user.value_or(pc::OutputSelection{}));
  std::cout << "pathcheck check: built-in quick suite (" << specs.size() << " cases), dtype " << path::dtype_label(*dtype)
            << ", seed " << suite_seed << " (rerun with --seed " << suite_seed << ")\n"
            << std::flush;
  const BuiltinSuite suite = build_builtin_suite("quick", *dtype, suite_seed, specs, {}, static_cast<unsigned>(jobs), progress);
  pc::CheckOptions options{user, judge, progress};
  std::vector<pc::CheckEntry> entries = pc::check_implementations(implementations(), candidates(), suite.cases, options);
  for (pc::CheckEntry& e : entries) {
    e.report.suite = "built-in quick (seed " + std::to_string(suite.seed) + ")";
    e.report.suite_cases = suite.all_cases.size();
    e.report.suite_identity = suite.identity;
  }
  std::cout << "\n";
  pc::print_check(std::cout, entries, a.has("--verbose"));
  const bool all_passed = pc::check_passed(entries);
  std::cout << "suite made in " << pc::format_duration(suite.seconds) << "\n" << (all_passed ? "ALL PASSED" : "NOT PASSED") << "\n";
  std::vector<pc::Report> ran;
  for (const pc::CheckEntry& e : entries)
    if (e.not_run.empty()) ran.push_back(e.report);
  const std::string dtype_label(path::dtype_label(*dtype));
  if (reports.json) pc::write_text_file(*reports.json, pc::check_json(entries, "quick", dtype_label, suite.seed), reports.overwrite);
  if (reports.junit) pc::write_text_file(*reports.junit, pc::report_junit(ran, "pathcheck check"), reports.overwrite);
  return all_passed ? 0 : 1;
}

}  // namespace pathcheck
