// pathcheck run: runs an implementation through a suite and judges it: one registered in the
// process (--impl NAME), or an external program run once on a suite directory (--impl-cmd).
#include "run_command.hpp"

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "arguments.hpp"
#include "builtin_suite.hpp"
#include "command_options.hpp"
#include "implementations.hpp"
#include "path/adapters/external_command.hpp"
#include "path/conformance/runner.hpp"
#include "path/conformance/suite.hpp"

namespace pathcheck {

CommandLine run_command_line() {
  return CommandLine(
             "pathcheck run (--impl NAME | --impl-cmd 'CMD {suite} {results}') [--suite DIR | --builtin SUITE] [options]",
             "Runs an implementation through a suite and judges every case as validate does. --impl NAME: one "
             "registered in pathcheck (--list), through the interface our CUDA kernels use, on the suite in DIR "
             "or on a built-in suite made in memory (default: quick, bf16, a fresh seed, printed). --impl-cmd: an "
             "external program, run ONCE through /bin/sh -c with {suite} and {results} replaced by the shell-quoted "
             "suite folder and a results folder (do not quote them yourself); it writes RESULTS/<case>.safetensors "
             "for every case.")
      .option("--impl", "NAME", "an implementation of pathcheck run --list")
      .option("--impl-cmd", "CMD", "an external program (needs --suite)")
      .option("--suite", "DIR", "a suite written by pathcheck gen")
      .option("--builtin", "SUITE", "without --suite: quick (default), standard or full, made in memory")
      .option("--dtype", "DTYPE", "built-in suite: bf16 (default), fp16 or fp32")
      .option("--seed", "S", "built-in suite: its seed (default fresh, printed)")
      .option("--jobs", "N", "built-in suite: cases built at a time (default: all cores)")
      .option("--only", "A,B", "only the cases whose name contains A or B (not with --impl-cmd)")
      .option("--outputs", "LIST", kOutputsHelp)
      .option("--shard", "K/N", kShardHelp)
      .option("--results", "DIR", "also write the outputs there (--impl-cmd: the program's folder; new or empty)")
      .option("--report-json", "FILE", "also write the report as JSON")
      .option("--junit", "FILE", "also write the report as JUnit XML")
      .option("--c", "C", "judge with another multiple of the baseline (the floor is kept)")
      .option("--timeout", "S", "--impl-cmd: seconds before the program is stopped (default 3600)")
      .flag("--force", "replace existing result and report files")
      .flag("--quiet", "no progress lines")
      .flag("--list", "list the implementations and exit")
      .footer("--impl-cmd: its stdout is passed through, the tail of its stderr kept. A non-zero exit, death by a "
              "signal or a time-out (SIGTERM to its process group, SIGKILL 2 s later) fails every case with the "
              "cause; a missing result file fails its case.\n"
              "Exit status: 0 every case passed (a skipped case is no pass); 1 a failure or an error (named); 2 a "
              "bad command line. docs/conformance.md.");
}

namespace {

namespace pc = path::conformance;
namespace fs = std::filesystem;

constexpr double kDefaultTimeoutSeconds = 3600;

pc::SuiteRunOptions suite_run_options(const Arguments& a) {
  pc::SuiteRunOptions options;
  if (a.has("--c")) options.judge.c = a.positive_or("--c", 2.0);
  if (!a.has("--quiet")) options.progress = &std::cerr;
  options.outputs = outputs_option(a);
  options.shard = shard_option(a);
  options.overwrite_results = a.has("--force");
  return options;
}

// The table, then the machine-readable reports; the exit status.
int finish(pc::Report& report, const ReportPaths& reports) {
  report.command = "run";
  pc::print_report(std::cout, report);
  write_reports(reports, report);
  return report.all_passed() ? 0 : 1;
}

void refuse_builtin_options_with_suite(const Arguments& a) {
  if (a.has("--suite") && (a.has("--builtin") || a.has("--dtype") || a.has("--seed") || a.has("--jobs")))
    throw UsageError("--suite DIR runs the cases stored in DIR: --builtin, --dtype, --seed and --jobs do not apply");
}

// Our kernels without a GPU would fail every case with the same CUDA error; say why once instead.
void require_device_for(const std::string& name) {
  if (const std::string why = unavailable_reason(name); !why.empty()) throw RunError("--impl " + name + ": " + why);
}

unsigned jobs_option(const Arguments& a) {
  const long long jobs = a.integer_or("--jobs", std::max(1u, std::thread::hardware_concurrency()));
  if (jobs < 1 || jobs > 1024) throw UsageError("--jobs: must be in [1, 1024]");
  return static_cast<unsigned>(jobs);
}

pc::Report run_builtin_suite(pc::Implementation& impl, const Arguments& a, pc::SuiteRunOptions options) {
  const std::string suite = a.value_or("--builtin", "quick");
  if (!pc::is_suite_name(suite)) throw UsageError("--builtin: unknown suite '" + suite + "'");
  const auto dtype = path::parse_input_dtype(a.value_or("--dtype", "bf16"));
  if (!dtype) throw UsageError("--dtype: '" + a.value_or("--dtype", "") + "' (expected bf16, fp16 or fp32)");
  const std::uint64_t seed = seed_option(a).value_or(pc::random_seed());
  const unsigned jobs = jobs_option(a);
  const pc::OutputSelection outputs = options.outputs.value_or(pc::OutputSelection{});
  const std::vector<pc::CaseSpec> specs = select_specs(suite, *dtype, only_option(a), outputs);
  std::vector<std::string> mine;
  for (const pc::CaseSpec& s : pc::shard_of(specs, options.shard)) mine.push_back(s.name);
  if (mine.empty()) throw UsageError("--shard " + options.shard.text() + ": no case falls in this shard");
  if (options.results_dir)
    options.results_dir = prepare_results_for(*options.results_dir, "", mine, options.overwrite_results);
  std::cout << "pathcheck run: built-in suite " << suite << " (" << specs.size() << " cases"
            << (options.shard.whole() ? "" : ", shard " + options.shard.text() + ": " + std::to_string(mine.size()))
            << "), dtype " << path::dtype_label(*dtype) << ", seed " << seed << " (rerun with --seed " << seed << ")\n"
            << std::flush;
  const BuiltinSuite built = build_builtin_suite(suite, *dtype, seed, specs, options.shard, jobs, options.progress);
  pc::Report report = pc::run_cases(impl, built.cases, options);
  report.suite = "built-in " + suite + " (seed " + std::to_string(seed) + ")";
  report.suite_cases = built.all_cases.size();
  report.suite_identity = built.identity;
  return report;
}

pc::Report run_suite(pc::Implementation& impl, const Arguments& a, pc::SuiteRunOptions options) {
  const std::string suite = a.required("--suite");
  options.only = only_option(a);
  if (options.results_dir) {
    const std::vector<std::string> cases = pc::selected_cases(pc::read_manifest(suite), options);
    options.results_dir = prepare_results_for(*options.results_dir, suite, cases, options.overwrite_results);
  }
  return pc::run_suite_directory(impl, suite, options);
}

int run_in_process(const Arguments& a) {
  if (a.has("--timeout")) throw UsageError("--timeout applies to --impl-cmd only");
  if (!a.has("--impl")) throw UsageError("give --impl NAME (pathcheck run --list) or --impl-cmd 'CMD {suite} {results}'");
  const std::string name = a.required("--impl");
  std::unique_ptr<pc::Implementation> impl = implementations().make(name);
  if (!impl) throw UsageError("--impl: unknown implementation '" + name + "' (available: " + implementations().names() + ")");
  refuse_builtin_options_with_suite(a);
  pc::SuiteRunOptions options = suite_run_options(a);
  const ReportPaths reports = report_paths(a, a.value_or("--suite", ""));
  require_device_for(name);
  if (a.has("--results")) options.results_dir = a.required("--results");
  pc::Report report = a.has("--suite") ? run_suite(*impl, a, options) : run_builtin_suite(*impl, a, options);
  if (a.has("--suite")) report.suite = a.required("--suite");
  report.implementation = impl->name();
  return finish(report, reports);
}

// A user's --results for a program: new or empty, so that no result file is ever overwritten and
// no stale file from an earlier run can pass for this one's.
std::string prepare_results_directory(const std::string& dir, const std::string& suite) {
  std::error_code ec;
  if (same_or_inside(suite, dir))
    throw path::io::FileError(dir + ": --results is the suite folder or inside it: give another folder");
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) throw path::io::FileError(dir + ": not a directory (expected the results directory)");
    if (!fs::is_empty(dir, ec) || ec)
      throw path::io::FileError(dir + ": not empty; --impl-cmd never overwrites result files (nor judges stale ones): "
                                      "give a new or empty --results directory");
    require_writable_directory(dir);
    return dir;
  }
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir, ec)) throw path::io::FileError(dir + ": cannot create the results directory");
  return dir;
}

void check_command_arguments(const Arguments& a, const std::string& command) {
  if (a.has("--impl")) throw UsageError("--impl and --impl-cmd are mutually exclusive: give one implementation");
  if (!a.has("--suite"))
    throw UsageError("--impl-cmd needs --suite DIR: the program reads its cases from files, so a built-in suite "
                     "must be written first (pathcheck gen --suite quick --dtype bf16 --out DIR)");
  if (a.has("--builtin") || a.has("--dtype") || a.has("--seed") || a.has("--jobs") || a.has("--only"))
    throw UsageError("--impl-cmd runs the program on the suite in --suite DIR: --builtin, --dtype, --seed, --jobs and "
                     "--only do not apply (--shard K/N judges that shard: give the program a folder made by gen --shard)");
  if (command.find(path::adapters::kResultsPlaceholder) == std::string::npos && !a.has("--results"))
    throw UsageError("--impl-cmd: the command has no {results}, so it cannot know where to write; add {results} "
                     "or give --results DIR");
}

int run_external(const Arguments& a) {
  namespace pa = path::adapters;
  const std::string command = a.required("--impl-cmd");
  check_command_arguments(a, command);
  pa::CommandOptions options;
  options.command_template = command;
  options.timeout_seconds = a.positive_or("--timeout", kDefaultTimeoutSeconds);
  const pc::SuiteRunOptions judging = suite_run_options(a);  // a bad --c must not wait for the program
  const std::string suite = a.required("--suite");
  const pc::SuiteManifest manifest = pc::read_manifest(suite);  // a missing or broken suite: an error before anything runs
  pc::verify_case_files(suite, manifest, pc::selected_cases(manifest, judging));
  const ReportPaths reports = report_paths(a, suite);
  std::optional<pa::TemporaryDirectory> temporary;
  std::string results;
  if (a.has("--results")) {
    results = prepare_results_directory(a.required("--results"), suite);
  } else {
    temporary.emplace("pathcheck-results");
    results = temporary->path();
  }
  const bool quiet = a.has("--quiet");
  if (!quiet) std::cerr << "pathcheck run: running " << pa::expand_command(command, suite, results) << "\n";
  const pa::CommandOutcome outcome = pa::CommandRunner(options).run(suite, results);
  if (!quiet) {
    std::ostringstream line;  // its own stream: setprecision must not stick to std::cerr
    line << "pathcheck run: the command " << outcome.how_it_ended() << " (" << std::setprecision(3) << outcome.seconds << " s)\n";
    std::cerr << line.str();
  }
  pc::Report report = pa::judge_command_results(outcome, suite, judging);
  report.suite = suite;
  // The command as given, not as expanded: the folders differ from job to job of a sharded run,
  // the implementation does not (pathcheck merge compares it).
  report.implementation = "command: " + command;
  return finish(report, reports);
}

}  // namespace

int run_run(const std::vector<std::string>& args) {
  const Arguments a = run_command_line().parse(args);
  if (a.has("--list")) {
    for (const auto& [name, description] : implementations().list()) std::cout << name << "\t" << description << "\n";
    return 0;
  }
  return a.has("--impl-cmd") ? run_external(a) : run_in_process(a);
}

}  // namespace pathcheck
