// pathcheck run: runs an implementation through a suite and judges it: one registered in the
// process (--impl NAME), or an external program run once on a suite directory (--impl-cmd).
#include "run_command.hpp"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "arguments.hpp"
#include "implementations.hpp"
#include "path/adapters/external_command.hpp"
#include "path/conformance/runner.hpp"
#include "path/conformance/suite.hpp"
#if PATH_HAVE_CUDA_ADAPTER
#include "path/adapters/cuda_kernels.hpp"
#endif

namespace pathcheck {

const char* const run_usage =
    "pathcheck run --impl NAME [--suite DIR | --builtin quick|standard|full [--dtype D] [--seed S] [--jobs N]\n"
    "              [--only A,B]]\n"
    "              [--results DIR] [--report-json F] [--junit F] [--c C] [--quiet] [--list]\n"
    "  Runs implementation NAME (pathcheck run --list) through the same interface our CUDA kernels\n"
    "  use, on the suite in DIR, or on a built-in suite generated in memory (default: quick, bf16,\n"
    "  random seed, printed). --results DIR also writes each case's outputs there. Prints the\n"
    "  validate table; exit 0 only if every case passed.\n"
    "pathcheck run --impl-cmd 'CMD {suite} {results}' --suite DIR [--timeout S] [--results DIR]\n"
    "              [--report-json F] [--junit F] [--c C] [--quiet]\n"
    "  Runs an external program ONCE through /bin/sh -c, with {suite} and {results} replaced by the\n"
    "  shell-quoted suite directory and a results directory (do not quote them yourself): a fresh\n"
    "  temporary one, removed afterwards, or --results DIR, which must be new or empty (result files\n"
    "  are never overwritten). The program writes RESULTS/<case>.safetensors for every case; they are\n"
    "  judged as validate judges them. Its stdout is passed through, the tail of its stderr is kept.\n"
    "  A non-zero exit, death by a signal, a time-out (--timeout S, default 3600: SIGTERM to its\n"
    "  process group, SIGKILL 2 s later) fails every case with the cause and that stderr tail; a\n"
    "  missing result file fails its case. Exit 0 only if every case passed.\n";

namespace {

namespace pc = path::conformance;
namespace fs = std::filesystem;

constexpr double kDefaultTimeoutSeconds = 3600;

pc::SuiteRunOptions suite_run_options(const Arguments& a) {
  pc::SuiteRunOptions options;
  if (a.has("--c")) options.judge.c = a.positive_or("--c", 2.0);
  if (!a.has("--quiet")) options.progress = &std::cerr;
  return options;
}

// The table, then the machine-readable reports; the exit status.
int finish(pc::Report& report, const Arguments& a) {
  report.command = "run";
  pc::print_report(std::cout, report);
  if (a.has("--report-json")) pc::write_text_file(a.required("--report-json"), pc::report_json(report));
  if (a.has("--junit")) pc::write_text_file(a.required("--junit"), pc::report_junit(report));
  return report.all_passed() ? 0 : 1;
}

void refuse_builtin_options_with_suite(const Arguments& a) {
  if (a.has("--suite") && (a.has("--builtin") || a.has("--dtype") || a.has("--seed") || a.has("--jobs") || a.has("--only")))
    throw UsageError("--suite DIR runs the cases stored in DIR: --builtin, --dtype, --seed, --jobs and --only do not apply");
}

// Our kernels without a GPU would fail every case with the same CUDA error; say why once instead.
void require_device_for(const std::string& name) {
#if PATH_HAVE_CUDA_ADAPTER
  if (name != "cuda" && name.rfind("cuda-", 0) != 0) return;
  if (const std::string why = path::adapters::cuda_unavailable_reason(); !why.empty())
    throw RunError("--impl " + name + ": " + why);
#else
  (void)name;
#endif
}

pc::Report run_builtin_suite(pc::Implementation& impl, const Arguments& a, const pc::SuiteRunOptions& options) {
  const std::string suite = a.value_or("--builtin", "quick");
  if (!pc::is_suite_name(suite)) throw UsageError("--builtin: unknown suite '" + suite + "'");
  const auto dtype = path::parse_input_dtype(a.value_or("--dtype", "bf16"));
  if (!dtype) throw UsageError("--dtype: '" + a.value_or("--dtype", "") + "' (expected bf16, fp16 or fp32)");
  pc::BuildOptions build;
  build.suite = suite;
  const long long seed = a.integer_or("--seed", -1);
  if (a.has("--seed") && seed < 0) throw UsageError("--seed: must be non-negative");
  build.suite_seed = a.has("--seed") ? static_cast<std::uint64_t>(seed) : pc::random_seed();
  const long long jobs = a.integer_or("--jobs", std::max(1u, std::thread::hardware_concurrency()));
  if (jobs < 1 || jobs > 1024) throw UsageError("--jobs: must be in [1, 1024]");
  std::vector<pc::CaseSpec> specs = pc::suite_specs(suite, *dtype);
  if (a.has("--only")) {
    specs = pc::filter_specs(std::move(specs), a.required("--only"));
    if (specs.empty()) throw UsageError("--only: no case of suite " + suite + " matches '" + a.required("--only") + "'");
  }
  std::cout << "pathcheck run: built-in suite " << suite << " (" << specs.size() << " cases), dtype "
            << path::dtype_label(*dtype) << ", seed " << build.suite_seed << " (rerun with --seed " << build.suite_seed
            << ")\n"
            << std::flush;
  std::vector<double> weights;
  for (const pc::CaseSpec& s : specs) weights.push_back(pc::estimated_cost(s));
  pc::Progress progress(options.progress, "gen", weights, specs.size());
  std::vector<pc::Case> cases(specs.size());
  pc::build_cases(specs, build, static_cast<unsigned>(jobs), [&](std::size_t i, pc::Case&& c) {
    progress.done(i, c.name(), "");
    cases[i] = std::move(c);
  });
  pc::Report report = pc::run_cases(impl, cases, options);
  report.suite = "built-in " + suite + " (seed " + std::to_string(build.suite_seed) + ")";
  return report;
}

int run_in_process(const Arguments& a) {
  if (a.has("--timeout")) throw UsageError("--timeout applies to --impl-cmd only");
  if (!a.has("--impl")) throw UsageError("give --impl NAME (pathcheck run --list) or --impl-cmd 'CMD {suite} {results}'");
  const std::string name = a.required("--impl");
  require_device_for(name);
  std::unique_ptr<pc::Implementation> impl = implementations().make(name);
  if (!impl) throw UsageError("--impl: unknown implementation '" + name + "' (available: " + implementations().names() + ")");
  refuse_builtin_options_with_suite(a);
  pc::SuiteRunOptions options = suite_run_options(a);
  if (a.has("--results")) {
    const std::string dir = a.required("--results");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir, ec)) throw path::io::FileError(dir + ": cannot create the results directory");
    options.results_dir = dir;
  }
  pc::Report report;
  if (a.has("--suite")) {
    report = pc::run_suite_directory(*impl, a.required("--suite"), options);
    report.suite = a.required("--suite");
  } else {
    report = run_builtin_suite(*impl, a, options);
  }
  report.implementation = impl->name();
  return finish(report, a);
}

// A user's --results for a program: new or empty, so that no result file is ever overwritten and
// no stale file from an earlier run can pass for this one's.
std::string prepare_results_directory(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) throw path::io::FileError(dir + ": not a directory (expected the results directory)");
    if (!fs::is_empty(dir, ec) || ec)
      throw path::io::FileError(dir + ": not empty; --impl-cmd never overwrites result files (nor judges stale ones): "
                                      "give a new or empty --results directory");
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
    throw UsageError("--impl-cmd runs the cases stored in --suite DIR: --builtin, --dtype, --seed, --jobs and --only do not apply");
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
  pc::read_manifest(suite);  // a missing or broken suite is an error before anything runs
  std::optional<pa::TemporaryDirectory> temporary;
  std::string results;
  if (a.has("--results")) {
    results = prepare_results_directory(a.required("--results"));
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
  return finish(report, a);
}

}  // namespace

int run_run(const std::vector<std::string>& args) {
  const Arguments a(args, {"--impl", "--impl-cmd", "--suite", "--builtin", "--dtype", "--seed", "--results",
                           "--report-json", "--junit", "--c", "--jobs", "--only", "--timeout"},
                    {"--quiet", "--list"});
  if (a.has("--list")) {
    for (const auto& [name, description] : implementations().list()) std::cout << name << "\t" << description << "\n";
    return 0;
  }
  return a.has("--impl-cmd") ? run_external(a) : run_in_process(a);
}

}  // namespace pathcheck
