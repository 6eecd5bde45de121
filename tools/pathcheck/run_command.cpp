// pathcheck run: runs an in-process implementation through a suite and judges it.
#include "run_command.hpp"

#include <cmath>
#include <filesystem>
#include <iostream>
#include <thread>

#include "arguments.hpp"
#include "path/conformance/runner.hpp"
#include "path/conformance/suite.hpp"

namespace pathcheck {

const char* const run_usage =
    "pathcheck run --impl NAME [--suite DIR | --builtin quick|standard|full [--dtype D] [--seed S] [--jobs N]\n"
    "              [--only A,B]]\n"
    "              [--results DIR] [--report-json F] [--junit F] [--c C] [--quiet] [--list]\n"
    "  Runs implementation NAME (pathcheck run --list) through the same interface our CUDA kernels\n"
    "  use, on the suite in DIR, or on a built-in suite generated in memory (default: quick, bf16,\n"
    "  random seed, printed). --results DIR also writes each case's outputs there. Prints the\n"
    "  validate table; exit 0 only if every case passed.\n";


int run_run(const std::vector<std::string>& args) {
  namespace pc = path::conformance;
  namespace fs = std::filesystem;
  const Arguments a(args, {"--impl", "--suite", "--builtin", "--dtype", "--seed", "--results", "--report-json", "--junit",
                           "--c", "--jobs", "--only"},
                    {"--quiet", "--list"});
  if (a.has("--list")) {
    for (const auto& [name, description] : pc::registered_implementations())
      std::cout << name << "\t" << description << "\n";
    return 0;
  }
  const std::string name = a.required("--impl");
  std::unique_ptr<pc::Implementation> impl = pc::make_implementation(name);
  if (!impl) {
    std::string known;
    for (const auto& [n, d] : pc::registered_implementations()) known += (known.empty() ? "" : ", ") + n;
    throw UsageError("--impl: unknown implementation '" + name + "' (available: " + known + ")");
  }
  if (a.has("--suite") && (a.has("--builtin") || a.has("--dtype") || a.has("--seed") || a.has("--jobs") || a.has("--only")))
    throw UsageError("--suite DIR runs the cases stored in DIR: --builtin, --dtype, --seed, --jobs and --only do not apply");
  pc::SuiteRunOptions options;
  if (a.has("--c")) options.judge.c = a.positive_or("--c", 2.0);
  if (!a.has("--quiet")) options.progress = &std::cerr;
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
    const std::string suite = a.value_or("--builtin", "quick");
    if (!pc::is_suite_name(suite)) throw UsageError("--builtin: unknown suite '" + suite + "'");
    const auto dtype = pc::parse_input_dtype(a.value_or("--dtype", "bf16"));
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
              << pc::dtype_label(*dtype) << ", seed " << build.suite_seed << " (rerun with --seed "
              << build.suite_seed << ")\n"
              << std::flush;
    std::vector<double> weights;
    for (const pc::CaseSpec& s : specs) weights.push_back(pc::estimated_cost(s));
    pc::Progress progress(options.progress, "gen", weights, specs.size());
    std::vector<pc::Case> cases(specs.size());
    pc::build_cases(specs, build, static_cast<unsigned>(jobs), [&](std::size_t i, pc::Case&& c) {
      progress.done(i, c.name(), "");
      cases[i] = std::move(c);
    });
    report = pc::run_cases(*impl, cases, options);
    report.suite = "built-in " + suite + " (seed " + std::to_string(build.suite_seed) + ")";
  }
  report.command = "run";
  report.implementation = impl->name();
  pc::print_report(std::cout, report);
  if (a.has("--report-json")) pc::write_text_file(a.required("--report-json"), pc::report_json(report));
  if (a.has("--junit")) pc::write_text_file(a.required("--junit"), pc::report_junit(report));
  return report.all_passed() ? 0 : 1;
}

}  // namespace pathcheck
