// pathcheck gen: writes a conformance suite (one case file per case and suite.json).
#include "gen_command.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "arguments.hpp"
#include "path/conformance/progress.hpp"
#include "path/conformance/runner.hpp"
#include "path/conformance/suite.hpp"

namespace pathcheck {

const char* const gen_usage =
    "pathcheck gen --suite quick|standard|full --dtype bf16|fp16|fp32 --out DIR\n"
    "              [--seed S] [--jobs N] [--c C] [--floor-ulps F] [--only A,B] [--force] [--quiet]\n"
    "  Writes one case file per case (inputs, do, expected outputs from the mp100 oracle, baseline\n"
    "  errors and tolerances) and DIR/suite.json. Inputs are random: the seed is printed (and stored\n"
    "  in every case); --seed S reproduces a suite. --only A,B keeps the cases whose name contains A or B.\n"
    "  A DIR that already holds a suite is kept unless --force is given. docs/conformance.md.\n";

namespace {

std::uint64_t parse_seed(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 20)
    throw UsageError("--seed: '" + text + "' is not a non-negative integer");
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    throw UsageError("--seed: '" + text + "' is out of range");
  }
}


}  // namespace

int run_gen(const std::vector<std::string>& args) {
  namespace fs = std::filesystem;
  namespace pc = path::conformance;
  const Arguments a(args, {"--suite", "--dtype", "--out", "--seed", "--jobs", "--c", "--floor-ulps", "--only"},
                    {"--force", "--quiet"});
  const std::string suite = a.required("--suite");
  if (!pc::is_suite_name(suite)) throw UsageError("--suite: unknown suite '" + suite + "' (expected quick, standard or full)");
  const auto dtype = path::parse_input_dtype(a.required("--dtype"));
  if (!dtype) throw UsageError("--dtype: '" + a.required("--dtype") + "' (expected bf16, fp16 or fp32)");
  const std::string out = a.required("--out");
  pc::BuildOptions options;
  options.suite = suite;
  options.suite_seed = a.has("--seed") ? parse_seed(a.required("--seed")) : pc::random_seed();
  options.tolerance.c = a.positive_or("--c", 2.0);
  options.tolerance.floor_ulps = a.positive_or("--floor-ulps", 2.0);
  const long long jobs = a.integer_or("--jobs", std::max(1u, std::thread::hardware_concurrency()));
  if (jobs < 1 || jobs > 1024) throw UsageError("--jobs: must be in [1, 1024]");

  std::vector<pc::CaseSpec> specs = pc::suite_specs(suite, *dtype);
  if (a.has("--only")) {
    const std::string only = a.required("--only");
    specs = pc::filter_specs(std::move(specs), only);
    if (specs.empty()) throw UsageError("--only: no case of suite " + suite + " has '" + only + "' in its name");
  }

  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec)) throw path::io::FileError(out + ": exists and is not a directory");
  if (fs::exists(fs::path(out) / pc::kManifestName, ec) && !a.has("--force"))
    throw path::io::FileError(out + ": already holds a suite (suite.json); use --force to replace it");
  fs::create_directories(out, ec);
  if (ec) throw path::io::FileError(out + ": cannot create directory: " + ec.message());

  std::cout << "pathcheck gen: suite " << suite << " (" << specs.size() << " cases), dtype "
            << path::dtype_label(*dtype) << ", seed " << options.suite_seed << " -> " << out << "\n"
            << "  reproduce with: pathcheck gen --suite " << suite << " --dtype " << path::dtype_label(*dtype)
            << " --seed " << options.suite_seed << " --out DIR\n"
            << std::flush;
  std::vector<double> weights;
  for (const pc::CaseSpec& s : specs) weights.push_back(pc::estimated_cost(s));
  pc::Progress progress(a.has("--quiet") ? nullptr : &std::cerr, "gen", weights, specs.size());
  pc::build_cases(specs, options, static_cast<unsigned>(jobs), [&](std::size_t i, pc::Case&& c) {
    pc::write_case(pc::case_path(out, c.name()), c, a.has("--force"));
    progress.done(i, c.name(), "");
  });
  pc::SuiteManifest m;
  m.suite = suite;
  m.dtype = std::string(path::dtype_label(*dtype));
  m.seed = options.suite_seed;
  for (const pc::CaseSpec& s : specs) m.cases.push_back(s.name);
  pc::write_manifest(out, m);
  std::cout << "pathcheck gen: wrote " << specs.size() << " cases and suite.json in "
            << pc::format_duration(progress.elapsed_seconds()) << "\n";
  return 0;
}

}  // namespace pathcheck
