#include "builtin_suite.hpp"

#include "arguments.hpp"
#include "path/conformance/manifest.hpp"
#include "path/conformance/progress.hpp"
#include "path/conformance/suite.hpp"

namespace pathcheck {

namespace pc = path::conformance;

std::vector<pc::CaseSpec> select_specs(const std::string& suite, path::DType dtype, const std::string& only,
                                       const pc::OutputSelection& outputs) {
  std::vector<pc::CaseSpec> specs = pc::suite_specs(suite, dtype);
  if (!only.empty()) {
    specs = pc::filter_specs(std::move(specs), only);
    if (specs.empty()) throw UsageError("--only: no case of suite " + suite + " has '" + only + "' in its name");
  }
  for (pc::CaseSpec& s : specs)
    if (!outputs.any_gradient()) s.gradients = false;
  std::erase_if(specs, [&](const pc::CaseSpec& s) { return outputs.judged(s).empty(); });
  if (specs.empty()) throw UsageError("--outputs " + outputs.text() + ": no selected case has any of them");
  return specs;
}

BuiltinSuite build_builtin_suite(const std::string& suite, path::DType dtype, std::uint64_t seed,
                                 const std::vector<pc::CaseSpec>& specs, const pc::Shard& shard, unsigned jobs,
                                 std::ostream* progress) {
  BuiltinSuite b;
  b.suite = suite;
  b.dtype = dtype;
  b.seed = seed;
  for (const pc::CaseSpec& s : specs) b.all_cases.push_back(s.name);
  b.identity = pc::suite_identity(suite, std::string(path::dtype_label(dtype)), seed, b.all_cases);
  const std::vector<pc::CaseSpec> mine = pc::shard_of(specs, shard);
  pc::BuildOptions options;
  options.suite = suite;
  options.suite_seed = seed;
  std::vector<double> weights;
  for (const pc::CaseSpec& s : mine) weights.push_back(pc::estimated_cost(s));
  pc::Progress meter(progress, "gen", weights, mine.size());
  b.cases.resize(mine.size());
  pc::build_cases(mine, options, jobs, [&](std::size_t i, pc::Case&& c) {
    meter.done(i, c.name(), "");
    b.cases[i] = std::move(c);
  });
  b.seconds = meter.elapsed_seconds();
  return b;
}

}  // namespace pathcheck
