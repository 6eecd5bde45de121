#pragma once
// A fuzzing campaign (pathcheck fuzz; docs/fuzzing.md): generate cases for a time budget, judge
// the implementation on each with a property, shrink every failure to a minimal case, save it as
// conformance case files that `pathcheck run` and `validate` reproduce, and report.
//
// Reproducible: test n of a campaign draws its choice from RapidCheck's Random seeded with
// derive_seed(seed, n) at size n mod 101 (the size ramps, so short cases come first), and runs
// property n mod 2 == 0 ? oracle : the metamorphic ones in turn. Shard K of N runs the tests
// n = K, K + N, K + 2N, ...: N shards with one seed cover the campaign of one process N times as
// long, without overlap.
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "path/conformance/implementation.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/selection.hpp"
#include "path/properties/cases.hpp"
#include "path/properties/generators.hpp"

namespace path::properties {

struct CampaignOptions {
  GeneratorOptions generator;
  // What the implementation computes (--outputs): only these are asked for and judged. Without
  // k_cache no decode case is drawn, without a gradient no gradient case (whatever `generator`
  // says), and a property that can judge none of them is skipped, the reason in the report.
  conformance::OutputSelection outputs;
  OracleChoice oracle;
  std::string properties = "all";          // comma-separated names (properties.hpp) or "all"
  double seconds = 60;                      // time for generating and judging (shrinking is extra)
  std::optional<std::uint64_t> max_tests;   // stop after this many tests as well (tests of pathcheck)
  std::uint64_t seed = 0;
  std::uint64_t shard = 0, shards = 1;      // --shard K/N
  std::size_t batch = 1;                    // tests per batch (an external command: 16)
  std::size_t max_failures = 1;             // stop after this many failures
  std::size_t max_shrink_tries = 2000;      // candidates judged while shrinking one failure
  double shrink_seconds = 120;              // time for shrinking one failure
  std::string out_dir;                      // reproducers go to OUT/failure-N/; empty: not saved
  std::string replay;                       // the command that runs the implementation, without --suite
                                            // ("pathcheck run --impl cpu-blockwise")
  std::string implementation_config;        // its configuration, for the reproducers' provenance
  std::ostream* progress = nullptr;
  double progress_interval = 2;             // seconds between progress lines
};

struct Failure {
  std::string property;
  std::uint64_t test = 0;                   // the test's number in the campaign
  std::string first_shape, minimal_shape;  // describe_shape of the generated and of the minimal case
  FuzzChoice minimal;
  conformance::CaseSpec minimal_spec;       // of the minimal generated case
  std::size_t shrink_steps = 0, shrink_tries = 0;
  double shrink_seconds = 0;
  std::string summary;                      // how the minimal case fails
  std::vector<conformance::CaseVerdict> verdicts;  // the judge's verdicts on the minimal case
  std::vector<std::string> oracles;         // oracle of each case judged in the campaign
  std::string directory;                    // the reproducer (a suite directory); "" when not saved
  std::vector<std::string> case_files;
  bool reproduced = false;                  // the saved cases, read back and rerun, fail again
  std::string reproduction;                 // what the rerun showed
  std::string replay_command;
};

struct SkippedProperty {
  std::string name, reason;
};

struct PropertyCount {
  std::string name;
  std::uint64_t tests = 0, failures = 0, discards = 0;
};

struct CampaignReport {
  std::string implementation, description, dtype;
  std::uint64_t seed = 0, shard = 0, shards = 1;
  double seconds = 0;                // generating and judging
  double shrink_seconds = 0;
  std::uint64_t tests = 0;           // judged (not discarded)
  std::uint64_t discarded = 0;
  std::uint64_t mp100_cases = 0, f64_cases = 0;
  std::string outputs = "all";       // the claimed outputs (--outputs)
  std::vector<PropertyCount> properties;
  std::vector<SkippedProperty> skipped_properties;  // selected, but unable to judge the claimed outputs
  std::vector<Failure> failures;
  std::string stopped_because;
  double cases_per_second() const { return seconds > 0 ? static_cast<double>(tests) / seconds : 0; }
  bool passed() const { return failures.empty() && tests > 0; }
};

// Runs the campaign. The implementation may be a CommandImplementation (external.hpp): its cases
// are then staged in batches of `batch` tests. Throws std::invalid_argument for bad options (and
// when no selected property can judge the claimed outputs).
CampaignReport run_campaign(conformance::Implementation& impl, const CampaignOptions& options);
// Throws std::invalid_argument when no selected property can judge the claimed outputs (what
// run_campaign would refuse), naming each property's reason; for a command line's checks.
void check_claimed(const CampaignOptions& options);

void print_summary(std::ostream& os, const CampaignReport& r);
std::string campaign_json(const CampaignReport& r);
std::string campaign_junit(const CampaignReport& r);

// The machine and the compiler, for a reproducer's provenance.
std::string machine_description();
std::string compiler_description();

}  // namespace path::properties

namespace path::properties {

// Command-line values, parsed here so that every front end reads them alike (std::invalid_argument
// with the reason):
//   claim_outputs: --outputs, the outputs an implementation claims: any non-empty list that
//     `pathcheck run --outputs` takes, plus the word "gradients" (dq,dk,dv,dw,dbeta,dg). Sets
//     campaign.outputs, and generator.gradients and generator.decode from it (a gradient; k_cache).
void claim_outputs(CampaignOptions& campaign, const std::string& list);
//   parse_shard: "K/N" with 0 <= K < N.
std::pair<std::uint64_t, std::uint64_t> parse_shard(const std::string& text);
//   parse_head_dims: "16,32,64".
std::vector<int> parse_head_dims(const std::string& text);

}  // namespace path::properties
