// pathcheck fuzz (issue 13): a short campaign of cpu-blockwise is clean under every property, in
// bf16 and fp32; an external program is fuzzed in batches (the documented stand-in `pathcheck run
// --impl cpu-blockwise` runs clean; a program that writes nothing is found, shrunk case by case and
// its reproducer replayed by `pathcheck run`); the command line's reports, exit codes and errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "path/adapters/cpu_oracle.hpp"
#include "path/properties/campaign.hpp"
#include "path/properties/external.hpp"
#include "path/properties/properties.hpp"
#include "support/cli.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

namespace pp = properties;

pp::CampaignOptions short_campaign(DType dtype, double seconds) {
  pp::CampaignOptions o;
  o.generator.dtype = dtype;
  o.generator.max_tokens = 96;
  o.seconds = seconds;
  o.seed = testing::session_seed();
  return o;
}

TEST(FuzzCampaign, CpuBlockwiseIsCleanUnderEveryProperty) {
  for (DType dtype : {DType::BF16, DType::F32}) {
    adapters::CpuOracleImplementation impl("cpu-blockwise", ForwardOptions{Algorithm::blockwise, 16});
    const pp::CampaignReport r = pp::run_campaign(impl, short_campaign(dtype, 8));
    std::ostringstream summary;
    pp::print_summary(summary, r);
    std::cout << summary.str();
    EXPECT_TRUE(r.passed()) << summary.str() << testing::seed_note();
    EXPECT_GT(r.tests, 40u) << summary.str();
    for (const pp::PropertyCount& p : r.properties) EXPECT_GT(p.tests, 0u) << p.name << " never judged";
    EXPECT_GT(r.mp100_cases, 0u);
    EXPECT_GT(r.f64_cases, 0u);
  }
}

// A metamorphic property catches a bug that the oracle property also sees, and its reproducer (the
// cases of both sides, mp100) makes `run_case` fail on at least one of them.
TEST(FuzzCampaign, MetamorphicPropertyFindsAScaleBug) {
  struct VScaleBug : adapters::CpuOracleImplementation {
    VScaleBug() : CpuOracleImplementation("mutant-o-not-linear-in-v", ForwardOptions{Algorithm::blockwise, 16}) {}
    void finish(const conformance::CaseInput&, std::map<std::string, std::vector<double>>& r) const override {
      // A kernel that saturates o at 2.5 (an fp8-style clamp): right for small v, wrong for 2 v.
      for (double& x : r.at("o")) x = std::clamp(x, -2.5, 2.5);
    }
  } impl;
  pp::CampaignOptions o = short_campaign(DType::F32, 20);
  o.properties = "scale-v";
  testing::TempDir out("fuzz-metamorphic");
  o.out_dir = out.file("r");
  const pp::CampaignReport r = pp::run_campaign(impl, o);
  ASSERT_EQ(r.failures.size(), 1u) << testing::seed_note();
  const pp::Failure& f = r.failures[0];
  EXPECT_EQ(f.property, "scale-v");
  EXPECT_EQ(f.case_files.size(), 2u);
  EXPECT_TRUE(f.reproduced) << f.reproduction;
  EXPECT_EQ(f.minimal_spec.shape.T, 1) << f.minimal_shape;  // o = v_0 at T = 1: 2 v_0 past the clamp
}

// A forward-only kernel without lse (FLA's API): it refuses to be asked for anything but o, and
// records every case it is given, so a test sees what the campaign drew. `bug` scales o.
struct ForwardOnlyNoLse : adapters::CpuOracleImplementation {
  explicit ForwardOnlyNoLse(double bug = 1) : CpuOracleImplementation("forward-only-no-lse", ForwardOptions{Algorithm::blockwise, 16}), bug_(bug) {}
  void run(const conformance::CaseInput& input, conformance::Outputs& outputs) override {
    for (const auto& [name, tensor] : outputs)
      if (name != "o") throw std::logic_error("asked for " + name + ", which it does not compute");
    if (input.spec.mode == conformance::Mode::decode) ++decode_cases;
    CpuOracleImplementation::run(input, outputs);
  }
  void finish(const conformance::CaseInput&, std::map<std::string, std::vector<double>>& r) const override {
    for (double& x : r.at("o")) x *= bug_;
  }
  double bug_;
  std::size_t decode_cases = 0;
};

const pp::SkippedProperty* skipped(const pp::CampaignReport& r, const std::string& name) {
  for (const pp::SkippedProperty& p : r.skipped_properties)
    if (p.name == name) return &p;
  return nullptr;
}

// --outputs o: the campaign runs, judges o alone under every property that can judge it, draws no
// decode case (no k_cache claimed) and says why decode-vs-forward is skipped.
TEST(FuzzCampaign, ForwardOnlyNoLseIsJudgedOnO) {
  ForwardOnlyNoLse impl;
  pp::CampaignOptions o = short_campaign(DType::BF16, 6);
  pp::claim_outputs(o, "o");
  const pp::CampaignReport r = pp::run_campaign(impl, o);
  std::ostringstream summary;
  pp::print_summary(summary, r);
  std::cout << summary.str();
  EXPECT_TRUE(r.passed()) << summary.str() << testing::seed_note();
  EXPECT_EQ(impl.decode_cases, 0u) << "decode cases drawn without k_cache claimed";
  for (const pp::PropertyCount& p : r.properties) EXPECT_GT(p.tests, 0u) << p.name << " never judged";
  ASSERT_NE(skipped(r, "decode-vs-forward"), nullptr) << summary.str();
  EXPECT_EQ(r.properties.size() + r.skipped_properties.size(), pp::property_names().size());
  EXPECT_NE(summary.str().find("decode-vs-forward       skipped: its decode cases need k_cache, which is not claimed "
                               "(--outputs o)"),
            std::string::npos)
      << summary.str();
  EXPECT_NE(pp::campaign_json(r).find("\"skipped_properties\""), std::string::npos);
  EXPECT_NE(pp::campaign_junit(r).find("<skipped message=\"its decode cases need k_cache"), std::string::npos);
}

// The same kernel with o 1% too large: the oracle property still finds it in o, and the
// reproducer fails `run_case` judging o alone.
TEST(FuzzCampaign, ForwardOnlyNoLseBugInOIsFound) {
  ForwardOnlyNoLse impl(1.01);
  pp::CampaignOptions o = short_campaign(DType::F32, 20);
  pp::claim_outputs(o, "o");
  o.properties = "oracle";
  testing::TempDir out("fuzz-no-lse");
  o.out_dir = out.file("r");
  const pp::CampaignReport r = pp::run_campaign(impl, o);
  ASSERT_EQ(r.failures.size(), 1u) << testing::seed_note();
  EXPECT_EQ(r.failures[0].summary.rfind("outside the tolerance in o", 0), 0u) << r.failures[0].summary;
  EXPECT_TRUE(r.failures[0].reproduced) << r.failures[0].reproduction;
}

// Without k_cache claimed, decode-vs-forward cannot be the only property (it would judge nothing),
// and with k_cache it is not skipped.
TEST(FuzzCampaign, DecodeVsForwardNeedsKCache) {
  pp::CampaignOptions o = short_campaign(DType::F32, 2);
  o.properties = "decode-vs-forward";
  pp::claim_outputs(o, "o,lse,gradients");
  EXPECT_FALSE(o.generator.decode);
  try {
    pp::check_claimed(o);
    ADD_FAILURE() << "decode-vs-forward accepted without k_cache";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("decode-vs-forward: its decode cases need k_cache"), std::string::npos) << e.what();
  }
  adapters::CpuOracleImplementation impl("cpu-blockwise", ForwardOptions{Algorithm::blockwise, 16});
  EXPECT_THROW(pp::run_campaign(impl, o), std::invalid_argument);
  pp::claim_outputs(o, "o,lse,k_cache");
  EXPECT_TRUE(o.generator.decode);
  o.max_tests = 6;
  const pp::CampaignReport r = pp::run_campaign(impl, o);
  EXPECT_TRUE(r.skipped_properties.empty());
  EXPECT_GT(r.tests, 0u);
}

// A campaign given all outputs but options that left decode on in the generator still draws no
// decode case when the claimed outputs lack k_cache (run_campaign, not only the command line).
TEST(FuzzCampaign, NoDecodeCasesWithoutKCacheWhateverTheGenerator) {
  ForwardOnlyNoLse impl;
  pp::CampaignOptions o = short_campaign(DType::BF16, 3);
  o.outputs = conformance::OutputSelection::parse("o");
  ASSERT_TRUE(o.generator.decode);
  const pp::CampaignReport r = pp::run_campaign(impl, o);
  EXPECT_EQ(impl.decode_cases, 0u);
  EXPECT_GT(r.tests, 0u);
  EXPECT_TRUE(r.passed());
}

std::string pathcheck_command(const std::string& args) { return "'" + testing::pathcheck_binary() + "' " + args; }

TEST(FuzzCampaign, ExternalCommandInBatchesRunsClean) {
  if (testing::pathcheck_binary().empty()) GTEST_FAIL() << "PATHCHECK_BIN is not set (run through ctest)";
  adapters::CommandOptions c;
  c.command_template = pathcheck_command("run --impl cpu-blockwise --suite {suite} --results {results} --quiet") + " >/dev/null";
  pp::CommandImplementation impl(c);
  pp::CampaignOptions o = short_campaign(DType::BF16, 8);
  o.batch = 8;
  const pp::CampaignReport r = pp::run_campaign(impl, o);
  std::ostringstream summary;
  pp::print_summary(summary, r);
  std::cout << summary.str() << "  program runs: " << impl.program_runs() << "\n";
  EXPECT_TRUE(r.passed()) << summary.str();
  EXPECT_GT(r.tests, 8u);
  EXPECT_LT(impl.program_runs() * 4, r.tests + r.discarded) << "cases were not batched";
}

// A program that exits 0 and writes nothing: every case fails (results missing); the batch is
// retried case by case, the failure shrunk to one token and saved; `pathcheck run` replays it
// (exit 1 for the program, 0 for cpu-blockwise on the same reproducer).
TEST(FuzzCampaign, CommandLineFindsABrokenProgramAndReplaysIt) {
  if (testing::pathcheck_binary().empty()) GTEST_FAIL() << "PATHCHECK_BIN is not set (run through ctest)";
  testing::TempDir dir("fuzz-cli");
  const std::string out = dir.file("out"), json = dir.file("report.json"), junit = dir.file("report.xml");
  auto r = testing::run_pathcheck("fuzz --impl-cmd 'true {suite} {results}' --seconds 20 --seed 3 --quiet --out '" + out +
                                  "' --report-json '" + json + "' --junit '" + junit + "'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("FUZZ FAILED"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("minimal:    T=1 B=1 HQ=1 H=1 D=16 Dv=16 gate=none"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("replay:     pathcheck run --impl-cmd"), std::string::npos) << r.output;
  const nlohmann::json report = nlohmann::json::parse(testing::read_text(json));
  ASSERT_EQ(report["failures"].size(), 1u);
  EXPECT_EQ(report["failures"][0]["reproduced"], true) << report.dump(2);
  EXPECT_NE(testing::read_text(junit).find("<failure"), std::string::npos);
  const std::string reproducer = report["failures"][0]["reproducer"];
  r = testing::run_pathcheck("run --quiet --impl-cmd 'true {suite} {results}' --suite '" + reproducer + "'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  r = testing::run_pathcheck("run --quiet --impl cpu-blockwise --suite '" + reproducer + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // Never an overwrite: the same --out or report again is refused before anything runs.
  r = testing::run_pathcheck("fuzz --impl cpu-blockwise --seconds 1 --out '" + out + "'");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = testing::run_pathcheck("fuzz --impl cpu-blockwise --seconds 1 --out '" + dir.file("new") + "' --report-json '" + json + "'");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

// An external harness that writes o alone (a peer without lse): `--outputs o` judges it and
// passes; claiming every output, the same files fail (lse missing), so o alone was what was judged.
TEST(FuzzCampaign, CommandLineHarnessWritingOnlyO) {
  if (testing::pathcheck_binary().empty()) GTEST_FAIL() << "PATHCHECK_BIN is not set (run through ctest)";
  testing::TempDir dir("fuzz-cli-o");
  const std::string harness = "--impl-cmd \"" + pathcheck_command(
      "run --impl cpu-blockwise --outputs o --suite {suite} --results {results} --quiet") + " >/dev/null\"";
  auto r = testing::run_pathcheck("fuzz " + harness + " --outputs o --seconds 3 --seed 5 --quiet --out '" + dir.file("o") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("decode-vs-forward       skipped: its decode cases need k_cache"), std::string::npos) << r.output;
  r = testing::run_pathcheck("fuzz " + harness + " --seconds 3 --seed 5 --quiet --out '" + dir.file("all") + "'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("replay:     pathcheck run --impl-cmd"), std::string::npos) << r.output;
}

TEST(FuzzCampaign, CommandLineCleanRunAndBadArguments) {
  if (testing::pathcheck_binary().empty()) GTEST_FAIL() << "PATHCHECK_BIN is not set (run through ctest)";
  testing::TempDir dir("fuzz-cli-ok");
  const std::string json = dir.file("ok.json");
  auto r = testing::run_pathcheck("fuzz --impl cpu-blockwise --seconds 3 --dtype fp16 --shard 1/3 --quiet --out '" +
                                  dir.file("out") + "' --report-json '" + json + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("FUZZ PASSED"), std::string::npos) << r.output;
  const nlohmann::json report = nlohmann::json::parse(testing::read_text(json));
  EXPECT_GT(report["cases"].get<int>(), 0);
  EXPECT_EQ(report["shard"]["index"], 1);
  EXPECT_FALSE(std::filesystem::exists(dir.file("out"))) << "no failure, no reproducer directory";
  for (const std::string bad :
       {"--impl cpu-blockwise --impl-cmd 'x {suite} {results}'", "--impl nope", "--impl cpu-blockwise --shard 3/2",
        "--impl cpu-blockwise --outputs bogus", "--impl cpu-blockwise --outputs o,o", "--impl cpu-blockwise --outputs ,",
        "--impl cpu-blockwise --outputs o --properties decode-vs-forward", "--impl cpu-blockwise --dtype f8",
        "--impl cpu-blockwise --properties oracle,bogus", "--impl-cmd 'x {suite}'", "--impl cpu-blockwise --seconds 0",
        "--impl cpu-blockwise --head-dims 0"}) {
    r = testing::run_pathcheck("fuzz " + bad + " --out '" + dir.file("bad") + "'");
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.output;
  }
  r = testing::run_pathcheck("fuzz --impl cpu-blockwise --outputs o,lse --seconds 2 --quiet --out '" + dir.file("fwd") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // Without lse (and with a lone gradient): accepted, and the skipped property is named.
  r = testing::run_pathcheck("fuzz --impl cpu-blockwise --outputs o,dq --seconds 2 --quiet --out '" + dir.file("o") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("decode-vs-forward       skipped: its decode cases need k_cache"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace path
