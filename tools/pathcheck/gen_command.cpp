// pathcheck gen: writes a conformance suite: one case file per case, then the manifest with their
// digests, last (an interrupted gen leaves no suite; rerunning it resumes: gen_directory.hpp).
#include "gen_command.hpp"

#include <algorithm>
#include <iostream>
#include <thread>

#include "arguments.hpp"
#include "builtin_suite.hpp"
#include "command_options.hpp"
#include "gen_directory.hpp"
#include "path/conformance/manifest.hpp"
#include "path/conformance/progress.hpp"
#include "path/conformance/suite.hpp"

namespace pathcheck {

namespace pc = path::conformance;

CommandLine gen_command_line() {
  return CommandLine("pathcheck gen --suite quick|standard|full --dtype bf16|fp16|fp32 --out DIR [options]",
                     "Writes a conformance suite: one case file per case (inputs, do, expected outputs from the mp100 "
                     "oracle, baseline errors and tolerances), then DIR/suite.json listing every case with its "
                     "SHA-256. Inputs are random: the seed is printed and stored in every case; --seed S reproduces "
                     "a suite byte for byte.")
      .option("--suite", "NAME", "quick (23 small cases, seconds), standard (about a minute) or full (the campaign)")
      .option("--dtype", "DTYPE", "input dtype of q, k, v, do: bf16, fp16 or fp32")
      .option("--out", "DIR", "the suite folder (created; an existing suite is kept unless --force)")
      .option("--seed", "S", "the suite seed (default: a fresh one, printed)")
      .option("--jobs", "N", "cases built at a time (default: all cores)")
      .option("--c", "C", "tolerance multiple of the baseline error (default 2 for bf16/fp16, 3 for fp32; docs/tolerance.md)")
      .option("--floor-ulps", "F", "rounding floor in ulps of the output dtype (default 0.5, docs/tolerance.md)")
      .option("--only", "A,B", "only the cases whose name contains A or B")
      .option("--outputs", "LIST", "generate what judging these outputs needs (o,lse: no gradients, much faster)")
      .option("--shard", "K/N", kShardHelp)
      .flag("--force", "replace a suite (or an unfinished gen of other options) in DIR")
      .flag("--quiet", "no progress lines")
      .footer("An interrupted gen leaves no suite.json (so no run or validate accepts the folder); the same command "
              "again resumes it, keeping the cases it finished. Sharded: each of N jobs writes its cases and "
              "suite.K-of-N.json; the last to finish writes suite.json (docs/sharding.md).\n"
              "Exit status: 0 written, 1 an error (named), 2 a bad command line. docs/conformance.md.");
}

int run_gen(const std::vector<std::string>& args) {
  const Arguments a = gen_command_line().parse(args);
  const std::string suite = a.required("--suite");
  if (!pc::is_suite_name(suite)) throw UsageError("--suite: unknown suite '" + suite + "' (expected quick, standard or full)");
  const auto dtype = path::parse_input_dtype(a.required("--dtype"));
  if (!dtype) throw UsageError("--dtype: '" + a.required("--dtype") + "' (expected bf16, fp16 or fp32)");
  const std::string out = a.required("--out");
  const pc::OutputSelection outputs = outputs_option(a).value_or(pc::OutputSelection{});
  const pc::Shard shard = shard_option(a);
  GenRequest request{suite, std::string(path::dtype_label(*dtype)), std::nullopt, a.positive_or("--c", pc::default_c(*dtype)),
                     a.positive_or("--floor-ulps", 0.5), outputs.text(), {}, shard};
  request.seed = seed_option(a);
  const long long jobs = a.integer_or("--jobs", std::max(1u, std::thread::hardware_concurrency()));
  if (jobs < 1 || jobs > 1024) throw UsageError("--jobs: must be in [1, 1024]");
  const std::vector<pc::CaseSpec> specs = select_specs(suite, *dtype, only_option(a), outputs);
  for (const pc::CaseSpec& s : specs) request.cases.push_back(s.name);

  const GenPlan plan = plan_generation(out, request, a.has("--force"));
  pc::BuildOptions options;
  options.suite = suite;
  options.suite_seed = plan.seed;
  options.tolerance.c = request.c;
  options.tolerance.floor_ulps = request.floor_ulps;
  std::cout << "pathcheck gen: suite " << suite << " (" << specs.size() << " cases"
            << (shard.whole() ? "" : ", shard " + shard.text() + ": " + std::to_string(pc::shard_of(specs, shard).size()))
            << "), dtype " << request.dtype << ", seed " << plan.seed << " -> " << out << "\n"
            << "  reproduce with: pathcheck gen --suite " << suite << " --dtype " << request.dtype << " --seed " << plan.seed
            << " --out DIR\n";
  if (plan.kept) std::cout << "  resuming an interrupted gen: " << plan.kept << " cases already written are kept\n";
  std::cout << std::flush;

  std::vector<pc::CaseSpec> todo;
  for (const pc::CaseSpec& s : specs)
    if (std::find(plan.to_build.begin(), plan.to_build.end(), s.name) != plan.to_build.end()) todo.push_back(s);
  std::vector<double> weights;
  for (const pc::CaseSpec& s : todo) weights.push_back(pc::estimated_cost(s));
  pc::Progress progress(a.has("--quiet") ? nullptr : &std::cerr, "gen", weights, todo.size());
  // Our own unfinished files may be replaced; plan_generation refused anyone else's.
  pc::build_cases(todo, options, static_cast<unsigned>(jobs), [&](std::size_t i, pc::Case&& c) {
    pc::write_case(pc::case_path(out, c.name()), c, true);
    progress.done(i, c.name(), "");
  });
  pc::SuiteManifest m{suite, request.dtype, plan.seed, outputs.names(), request.cases, {}, {}};
  pc::write_manifest(out, m, shard);
  remove_marker(out, shard);
  std::cout << "pathcheck gen: wrote " << todo.size() << " cases and " << pc::manifest_path("", shard) << " in "
            << pc::format_duration(progress.elapsed_seconds()) << "\n";
  return 0;
}

}  // namespace pathcheck
