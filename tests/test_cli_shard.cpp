// Sharding (issue 12): gen, run and validate --shard K/N take case i when i mod N = K - 1; the
// shards of a sharded gen together are the suite an unsharded gen writes, byte for byte; the
// shards' reports merged are the report of one run over the whole suite; merge refuses
// overlapping shards and reports of other suites, and says when a shard is missing.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "path/conformance/manifest.hpp"
#include "support/cli_suite.hpp"

namespace path {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace conformance;
using testing::shq;
using testing::run_pathcheck;

constexpr const char* kOnly = "q000,q001,q002,q009,q014,q017,q018";  // 7 cases: 3 + 2 + 2 in 3 shards

class CliShard : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (testing::pathcheck_binary().empty()) return;
    dir_ = new testing::TempDir("shard");
    whole_ = dir_->file("whole");
    sharded_ = dir_->file("sharded");
    const std::string gen = "gen --quiet --suite quick --dtype fp32 --jobs 2 --only " + std::string(kOnly) + " --seed " +
                            std::to_string(testing::session_seed());
    whole_gen_ = run_pathcheck(gen + " --out " + shq(whole_));
    for (int k = 1; k <= 3; ++k) {
      shard_gen_[k - 1] = run_pathcheck(gen + " --shard " + std::to_string(k) + "/3 --out " + shq(sharded_));
      if (k == 1) after_first_ = fs::exists(manifest_path(sharded_));
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (testing::pathcheck_binary().empty()) GTEST_FAIL() << "PATHCHECK_BIN is not set (run through ctest)";
    ASSERT_EQ(whole_gen_.exit_code, 0) << whole_gen_.output;
    for (const auto& g : shard_gen_) ASSERT_EQ(g.exit_code, 0) << g.output;
  }
  static std::vector<std::string> names_in(const json& report) {
    std::vector<std::string> names;
    for (const json& c : report["cases"]) names.push_back(c["case"]);
    return names;
  }

  static testing::TempDir* dir_;
  static std::string whole_, sharded_;
  static testing::CommandResult whole_gen_, shard_gen_[3];
  static bool after_first_;
};

testing::TempDir* CliShard::dir_ = nullptr;
std::string CliShard::whole_, CliShard::sharded_;
testing::CommandResult CliShard::whole_gen_, CliShard::shard_gen_[3];
bool CliShard::after_first_ = true;

TEST_F(CliShard, TheShardsOfAGenAreTheSuiteAnUnshardedGenWrites) {
  EXPECT_FALSE(after_first_) << "one shard of three is not a suite: no suite.json after the first";
  const SuiteManifest m = read_manifest(whole_);
  ASSERT_EQ(m.cases.size(), 7u);
  for (int k = 1; k <= 3; ++k) EXPECT_TRUE(fs::exists(manifest_path(sharded_, Shard{std::size_t(k), 3})));
  EXPECT_EQ(testing::read_text(manifest_path(sharded_)), testing::read_text(manifest_path(whole_)));
  for (const std::string& name : m.cases)
    EXPECT_EQ(testing::read_text(case_path(sharded_, name)), testing::read_text(case_path(whole_, name))) << name;
}

TEST_F(CliShard, APartialShardedSuiteRunsItsShardsAndSaysWhichAreMissing) {
  const std::string partial = dir_->file("partial");
  fs::remove_all(partial);
  const auto g = run_pathcheck("gen --quiet --suite quick --dtype fp32 --jobs 2 --only " + std::string(kOnly) +
                               " --seed 7 --shard 2/3 --out " + shq(partial));
  ASSERT_EQ(g.exit_code, 0) << g.output;
  EXPECT_FALSE(fs::exists(manifest_path(partial)));
  const auto two = run_pathcheck("run --quiet --impl cpu-blockwise --shard 2/3 --suite " + shq(partial));
  EXPECT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("shard 2/3: 2 of the suite's 7 cases"), std::string::npos) << two.output;
  const auto all = run_pathcheck("run --quiet --impl cpu-blockwise --suite " + shq(partial));
  EXPECT_EQ(all.exit_code, 1) << all.output;
  EXPECT_NE(all.output.find("shards 1/3, 3/3 did not finish"), std::string::npos) << all.output;
}

TEST_F(CliShard, ShardReportsMergeIntoTheWholeRunsReport) {
  const std::string run = "run --quiet --impl cpu-blockwise --suite " + shq(whole_);
  const std::string whole_json = dir_->file("whole.json");
  ASSERT_EQ(run_pathcheck(run + " --force --report-json " + shq(whole_json)).exit_code, 0);
  std::vector<std::string> reports;
  const std::vector<std::string> all = read_manifest(whole_).cases;
  for (int k = 1; k <= 3; ++k) {
    const std::string r = dir_->file("r" + std::to_string(k) + ".json");
    // Each shard against the sharded folder: the same suite, another path.
    const auto s = run_pathcheck("run --quiet --impl cpu-blockwise --force --shard " + std::to_string(k) + "/3 --suite " +
                                 shq(k == 2 ? sharded_ : whole_) + " --report-json " + shq(r));
    ASSERT_EQ(s.exit_code, 0) << s.output;
    const json j = json::parse(testing::read_text(r));
    std::vector<std::string> expected;
    for (std::size_t i = 0; i < all.size(); ++i)
      if (i % 3 == std::size_t(k - 1)) expected.push_back(all[i]);
    EXPECT_EQ(names_in(j), expected) << "shard " << k << "/3 takes case i when i mod 3 = " << k - 1;
    reports.push_back(r);
  }
  const std::string merged = dir_->file("merged.json"), junit = dir_->file("merged.xml");
  const auto m = run_pathcheck("merge --force " + shq(reports[2]) + " " + shq(reports[0]) + " " + shq(reports[1]) +
                               " --report-json " + shq(merged) + " --junit " + shq(junit));
  EXPECT_EQ(m.exit_code, 0) << m.output;
  EXPECT_NE(m.output.find("ALL PASSED"), std::string::npos) << m.output;
  const json w = json::parse(testing::read_text(whole_json)), g = json::parse(testing::read_text(merged));
  EXPECT_EQ(names_in(g), names_in(w));
  for (std::size_t i = 0; i < w["cases"].size(); ++i) {
    EXPECT_EQ(g["cases"][i]["verdict"], w["cases"][i]["verdict"]);
    EXPECT_EQ(g["cases"][i]["outputs"].size(), w["cases"][i]["outputs"].size());
    for (std::size_t o = 0; o < w["cases"][i]["outputs"].size(); ++o)
      EXPECT_EQ(g["cases"][i]["outputs"][o]["error"], w["cases"][i]["outputs"][o]["error"]);  // cpu-blockwise is deterministic
  }
  EXPECT_EQ(g["summary"]["complete"], true);
  EXPECT_EQ(g["summary"]["all_passed"], true);
  EXPECT_EQ(g["suite_identity"], w["suite_identity"]);
  EXPECT_NE(testing::read_text(junit).find("tests=\"7\" failures=\"0\""), std::string::npos) << testing::read_text(junit);

  // Overlap, a missing shard, another suite: refused or incomplete, never ALL PASSED.
  const auto overlap = run_pathcheck("merge --force " + shq(reports[0]) + " " + shq(reports[0]) + " --report-json " +
                                     shq(merged));
  EXPECT_EQ(overlap.exit_code, 1) << overlap.output;
  EXPECT_NE(overlap.output.find("is also in"), std::string::npos) << overlap.output;
  const auto missing = run_pathcheck("merge --force " + shq(reports[0]) + " " + shq(reports[1]) + " --report-json " +
                                     shq(merged));
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("INCOMPLETE: these reports cover 5 of the suite's 7 cases"), std::string::npos)
      << missing.output;
  const std::string other = dir_->file("other.json");
  ASSERT_EQ(run_pathcheck("run --quiet --impl cpu-blockwise --force --builtin quick --dtype fp32 --jobs 2 --seed 1 --only " +
                          std::string(kOnly) + " --shard 3/3 --report-json " + shq(other))
                .exit_code,
            0);
  const auto mismatch = run_pathcheck("merge --force " + shq(reports[0]) + " " + shq(reports[1]) + " " + shq(other) +
                                      " --report-json " + shq(merged));
  EXPECT_EQ(mismatch.exit_code, 1) << mismatch.output;
  EXPECT_NE(mismatch.output.find("reports of different suites"), std::string::npos) << mismatch.output;
  const auto bad = run_pathcheck("merge --force " + shq(whole_ + "/suite.json") + " --report-json " + shq(merged));
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("not a pathcheck JSON report"), std::string::npos) << bad.output;
  EXPECT_EQ(run_pathcheck("merge " + shq(reports[0])).exit_code, 2) << "--report-json is required";
}

// docs/sharding.md's Slurm recipe: each task generates its shard into its own folder and judges an
// external program on it; the reports merge.
TEST_F(CliShard, ExternalProgramsOnShardFoldersMerge) {
  const std::string results = dir_->file("program-results");
  ASSERT_EQ(run_pathcheck("run --quiet --impl cpu-blockwise --force --suite " + shq(whole_) + " --results " + shq(results))
                .exit_code,
            0);
  std::string reports;
  for (int k = 1; k <= 2; ++k) {
    const std::string folder = dir_->file("task-" + std::to_string(k)), report = dir_->file("task-" + std::to_string(k) + ".json");
    const std::string shard = " --shard " + std::to_string(k) + "/2";
    ASSERT_EQ(run_pathcheck("gen --quiet --suite quick --dtype fp32 --jobs 2 --only " + std::string(kOnly) + " --seed " +
                            std::to_string(testing::session_seed()) + shard + " --out " + shq(folder))
                  .exit_code,
              0);
    EXPECT_FALSE(fs::exists(manifest_path(folder))) << "a shard's own folder holds no suite.json";
    // The "kernel": copies the correct results of the cases it finds in {suite}.
    const std::string program = "for f in {suite}/*.safetensors; do cp " + shq(results) + "/$(basename $f) {results}/; done";
    const auto r = run_pathcheck("run --quiet --impl-cmd " + shq(program) + " --suite " + shq(folder) + shard +
                                 " --force --report-json " + shq(report));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    reports += " " + shq(report);
  }
  const auto m = run_pathcheck("merge --force" + reports + " --report-json " + shq(dir_->file("tasks.json")));
  EXPECT_EQ(m.exit_code, 0) << m.output;
  EXPECT_NE(m.output.find("merge: 7 cases, 7 passed"), std::string::npos) << m.output;
}

TEST_F(CliShard, ValidateAndTheBuiltInSuiteShardToo) {
  const std::string results = dir_->file("results");
  ASSERT_EQ(run_pathcheck("run --quiet --impl cpu-blockwise --force --suite " + shq(whole_) + " --results " + shq(results))
                .exit_code,
            0);
  const auto v = run_pathcheck("validate --quiet --shard 3/3 --suite " + shq(sharded_) + " --results " + shq(results));
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("validate: 2 cases"), std::string::npos) << v.output;
  // The built-in suite: the same cases as the shards of a generated one.
  const auto b = run_pathcheck("run --quiet --impl cpu-blockwise --builtin quick --dtype fp32 --jobs 2 --only " +
                               std::string(kOnly) + " --seed " + std::to_string(testing::session_seed()) + " --shard 1/3");
  EXPECT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("run: 3 cases"), std::string::npos) << b.output;
  for (const std::string bad : {"0/3", "4/3", "1/0", "x", "1/3/3", "-1/3"}) {
    const auto r = run_pathcheck("validate --shard " + bad + " --suite " + shq(whole_) + " --results " + shq(results));
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.output;
  }
}

}  // namespace
}  // namespace path
