// pathcheck fuzz: property-based fuzzing of an implementation against the oracles
// (docs/fuzzing.md). Reads the command line into path::properties::CampaignOptions, runs the
// campaign (properties/campaign.hpp), prints the summary and writes the reports.
#include "fuzz_command.hpp"

#include <filesystem>
#include <iostream>

#include "arguments.hpp"
#include "implementations.hpp"
#include "run_command.hpp"
#include "path/adapters/external_command.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/suite.hpp"
#include "path/io/safetensors.hpp"
#include "path/properties/campaign.hpp"
#include "path/properties/external.hpp"
#include "path/properties/properties.hpp"
#if PATH_HAVE_CUDA_ADAPTER
#include "path/adapters/cuda_kernels.hpp"
#endif

namespace pathcheck {

namespace {

namespace pp = path::properties;
namespace fs = std::filesystem;

// A report file or the reproducer directory must not overwrite anything (docs/design.md section 4).
void refuse_existing_file(const Arguments& a, const std::string& option) {
  std::error_code ec;
  if (a.has(option) && fs::exists(a.required(option), ec))
    throw UsageError(option + ": '" + a.required(option) + "' exists; pathcheck fuzz never overwrites a report");
}

void refuse_nonempty_directory(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec)))
    throw UsageError("--out: '" + dir + "' exists and is not an empty directory; reproducers are never overwritten");
}

void require_device_for(const std::string& name) {
#if PATH_HAVE_CUDA_ADAPTER
  if (name != "cuda" && name.rfind("cuda-", 0) != 0) return;
  if (const std::string why = path::adapters::cuda_unavailable_reason(); !why.empty())
    throw RunError("--impl " + name + ": " + why);
#else
  (void)name;
#endif
}

// A reproducer is replayed judging what the campaign judged.
std::string outputs_argument(const pp::CampaignOptions& o) {
  return o.outputs.all() ? "" : " --outputs " + o.outputs.text();
}

template <class F>
auto usage(const F& f) {
  try {
    return f();
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

CommandLine fuzz_command_line() {
  return CommandLine("pathcheck fuzz --impl NAME | --impl-cmd 'CMD {suite} {results}' [options]",
                     "Generates random cases for --seconds (shapes: T = 1, primes, block multiples +-1, long; GQA, "
                     "varlen with empty and length-1 sequences, gates, decode, gradients, beta near 0 and 2, "
                     "near-colinear and zero w, large logits) and judges the implementation on each with a property "
                     "(the oracle within the tolerance model, and the metamorphic ones: docs/fuzzing.md). Every "
                     "failure is shrunk to a minimal case and saved under --out/failure-K/ as conformance case files "
                     "(expected values from the mp100 oracle) that `pathcheck run` replays; the command is printed. "
                     "An external program gets its cases in batches, single cases while shrinking. Progress "
                     "(cases/s, failures found) on stderr.")
      .option("--impl", "NAME", "a built-in implementation (pathcheck run --list)")
      .option("--impl-cmd", "'CMD {suite} {results}'", "an external program, as in pathcheck run")
      .option("--seconds", "N", "how long to generate cases (default 60)")
      .option("--dtype", "bf16|fp16|fp32", "the input dtype (default bf16)")
      .option("--outputs", "LIST", "what the implementation computes: any of o, lse, k_cache, dq, dk, dv, dw, dbeta, dg "
              "or gradients (default all); no decode cases without k_cache, properties that need another output skipped")
      .option("--seed", "S", "the campaign's seed (default: random, printed)")
      .option("--out", "DIR", "where reproducers go (default ./pathcheck-fuzz-SEED; new or empty)")
      .option("--shard", "K/N", "this job's share of the seeds (a job array)")
      .option("--properties", "all|oracle,scale-v,...", "which properties (docs/fuzzing.md)")
      .option("--oracle", "auto|mp100|f64", "which oracle makes expected values (default auto)")
      .option("--max-tokens", "N", "the longest case")
      .option("--head-dims", "16,32,64,128", "the head dims to draw from")
      .option("--max-failures", "N", "stop after N failures (default 1)")
      .option("--batch", "N", "tests per external run (default 16)")
      .option("--timeout", "S", "seconds per external run (default 600)")
      .option("--report-json", "FILE", "also write the report as JSON (never overwritten)")
      .option("--junit", "FILE", "also write the report as JUnit XML (never overwritten)")
      .flag("--quiet", "no progress lines")
      .footer("Exit status: 0 no case failed (and at least one was judged); 1 a failure; 2 a bad command line.");
}

}  // namespace

int run_fuzz(const std::vector<std::string>& args) {
  const Arguments a = fuzz_command_line().parse(args);
  if (a.has("--impl") == a.has("--impl-cmd")) throw UsageError("give one of --impl NAME or --impl-cmd 'CMD {suite} {results}'");
  pp::CampaignOptions o;
  o.seconds = a.positive_or("--seconds", 60);
  const auto dtype = path::parse_input_dtype(a.value_or("--dtype", "bf16"));
  if (!dtype) throw UsageError("--dtype: '" + a.value_or("--dtype", "") + "' (expected bf16, fp16 or fp32)");
  o.generator.dtype = *dtype;
  usage([&] { pp::claim_outputs(o, a.value_or("--outputs", "o,lse,gradients,k_cache")); return 0; });
  if (a.has("--head-dims")) o.generator.head_dims = usage([&] { return pp::parse_head_dims(a.required("--head-dims")); });
  const long long max_tokens = a.integer_or("--max-tokens", o.generator.max_tokens);
  if (max_tokens < 1 || max_tokens > (1 << 20)) throw UsageError("--max-tokens: must be in [1, 2^20]");
  o.generator.max_tokens = static_cast<int>(max_tokens);
  const long long seed = a.integer_or("--seed", -1);
  if (a.has("--seed") && seed < 0) throw UsageError("--seed: must be non-negative");
  o.seed = a.has("--seed") ? static_cast<std::uint64_t>(seed) : path::conformance::random_seed();
  if (a.has("--shard")) std::tie(o.shard, o.shards) = usage([&] { return pp::parse_shard(a.required("--shard")); });
  o.properties = a.value_or("--properties", "all");
  usage([&] { pp::check_claimed(o); return 0; });  // an unknown property, or none that can judge --outputs
  const std::string oracle = a.value_or("--oracle", "auto");
  if (oracle == "mp100") o.oracle.policy = pp::OraclePolicy::mp100;
  else if (oracle == "f64") o.oracle.policy = pp::OraclePolicy::f64;
  else if (oracle != "auto") throw UsageError("--oracle: '" + oracle + "' (expected auto, mp100 or f64)");
  const long long max_failures = a.integer_or("--max-failures", 1);
  if (max_failures < 1) throw UsageError("--max-failures: must be at least 1");
  o.max_failures = static_cast<std::size_t>(max_failures);
  o.out_dir = a.value_or("--out", "pathcheck-fuzz-" + std::to_string(o.seed));
  refuse_nonempty_directory(o.out_dir);
  refuse_existing_file(a, "--report-json");
  refuse_existing_file(a, "--junit");
  if (!a.has("--quiet")) o.progress = &std::cerr;

  std::unique_ptr<path::conformance::Implementation> impl;
  if (a.has("--impl")) {
    if (a.has("--batch") || a.has("--timeout")) throw UsageError("--batch and --timeout apply to --impl-cmd only");
    const std::string name = a.required("--impl");
    require_device_for(name);
    impl = implementations().make(name);
    if (!impl) throw UsageError("--impl: unknown implementation '" + name + "' (available: " + implementations().names() + ")");
    o.replay = "pathcheck run --impl " + name + outputs_argument(o);
  } else {
    const std::string command = a.required("--impl-cmd");
    if (command.find(path::adapters::kSuitePlaceholder) == std::string::npos ||
        command.find(path::adapters::kResultsPlaceholder) == std::string::npos)
      throw UsageError("--impl-cmd: the command needs both {suite} and {results} (each batch is a fresh suite directory)");
    path::adapters::CommandOptions c;
    c.command_template = command;
    c.timeout_seconds = a.positive_or("--timeout", 600);
    const long long batch = a.integer_or("--batch", 16);
    if (batch < 1 || batch > 4096) throw UsageError("--batch: must be in [1, 4096]");
    o.batch = static_cast<std::size_t>(batch);
    impl = std::make_unique<pp::CommandImplementation>(c);
    o.replay = "pathcheck run --impl-cmd " + path::adapters::shell_quote(command) + outputs_argument(o);
  }
  o.implementation_config = impl->description();
  std::cout << "pathcheck fuzz: " << impl->name() << ", " << path::dtype_label(o.generator.dtype) << ", "
            << o.seconds << " s, seed " << o.seed << " (rerun with --seed " << o.seed
            << (o.shards > 1 ? " --shard " + std::to_string(o.shard) + "/" + std::to_string(o.shards) : std::string())
            << "), reproducers to " << o.out_dir << "\n"
            << std::flush;
  const pp::CampaignReport report = pp::run_campaign(*impl, o);
  pp::print_summary(std::cout, report);
  if (a.has("--report-json")) path::conformance::write_text_file(a.required("--report-json"), pp::campaign_json(report), false);
  if (a.has("--junit")) path::conformance::write_text_file(a.required("--junit"), pp::campaign_junit(report), false);
  return report.passed() ? 0 : 1;
}

}  // namespace pathcheck
