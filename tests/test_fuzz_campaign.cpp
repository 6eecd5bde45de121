// pathcheck fuzz (issue 13): a short campaign of cpu-blockwise is clean under every property, in
// bf16 and fp32; an external program is fuzzed in batches (the documented stand-in `pathcheck run
// --impl cpu-blockwise` runs clean; a program that writes nothing is found, shrunk case by case and
// its reproducer replayed by `pathcheck run`); the command line's reports, exit codes and errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

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
        "--impl cpu-blockwise --outputs o", "--impl cpu-blockwise --outputs o,lse,dq", "--impl cpu-blockwise --dtype f8",
        "--impl cpu-blockwise --properties oracle,bogus", "--impl-cmd 'x {suite}'", "--impl cpu-blockwise --seconds 0",
        "--impl cpu-blockwise --head-dims 0"}) {
    r = testing::run_pathcheck("fuzz " + bad + " --out '" + dir.file("bad") + "'");
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.output;
  }
  r = testing::run_pathcheck("fuzz --impl cpu-blockwise --outputs o,lse --seconds 2 --quiet --out '" + dir.file("fwd") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace path
