// pathcheck check (issue 12): the built-in quick suite in memory on every implementation this
// machine has, a verdict table, exit 0 only when all passed, JSON and JUnit reports; well under a
// minute on two cores.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <vector>

#include "path/adapters/cpu_oracle.hpp"
#include "path/conformance/check.hpp"
#include "path/conformance/suite.hpp"
#include "support/cli.hpp"
#include "support/mutants.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::run_pathcheck;

using testing::q;

class CliCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::pathcheck_binary().empty()) GTEST_FAIL() << "PATHCHECK_BIN is not set (run through ctest)";
  }
  std::string seed() const { return std::to_string(testing::session_seed()); }
};

// The verdict line of an implementation in the table below the header ("" when absent).
std::string table_row(const std::string& output, const std::string& implementation) {
  const std::size_t header = output.find("\nimplementation ");
  if (header == std::string::npos) return "";
  const std::size_t at = output.find("\n" + implementation + " ", header);
  if (at == std::string::npos) return "";
  return output.substr(at + 1, output.find('\n', at + 1) - at - 1);
}

TEST_F(CliCheck, TheWholeQuickSuitePassesOnEveryImplementationHereInWellUnderAMinute) {
  const auto start = std::chrono::steady_clock::now();
  const auto r = run_pathcheck("check --jobs 2 --seed " + seed());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("built-in quick suite (23 cases)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("seed " + seed()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("gen [23/23]"), std::string::npos) << "progress while the suite is made: " << r.output;
  const std::string cpu = table_row(r.output, "cpu-blockwise");
  EXPECT_NE(cpu.find("PASS"), std::string::npos) << r.output;
  EXPECT_NE(cpu.find("  23  "), std::string::npos) << cpu;
  // cuda: run where a GPU is present (judged on o and lse), otherwise said why not.
  const std::string cuda = table_row(r.output, "cuda");
  ASSERT_FALSE(cuda.empty()) << r.output;
  EXPECT_TRUE(cuda.find("NOT RUN: ") != std::string::npos || cuda.find("PASS") != std::string::npos) << cuda;
  EXPECT_NE(r.output.find("\nALL PASSED\n"), std::string::npos) << r.output;
  EXPECT_LT(seconds, 40.0) << "pathcheck check must stay well under a minute on two cores";
  std::cerr << "[check] quick suite, all implementations: " << seconds << " s\n";
}

TEST_F(CliCheck, ReportsAreWrittenAndNeverOverwrittenWithoutForce) {
  testing::TempDir dir("check-reports");
  const std::string j = dir.file("check.json"), x = dir.file("check.xml");
  const std::string args = "check --quiet --jobs 2 --only q000,q017 --seed " + seed();
  const auto r = run_pathcheck(args + " --report-json " + q(j) + " --junit " + q(x));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json report = json::parse(testing::read_text(j));
  EXPECT_EQ(report["format"], "pathcheck-check");
  EXPECT_EQ(report["all_passed"], true);
  ASSERT_GE(report["implementations"].size(), 2u);
  EXPECT_EQ(report["implementations"][0]["implementation"], "cpu-blockwise");
  EXPECT_EQ(report["implementations"][0]["report"]["summary"]["passed"], 2);
  const json& cuda = report["implementations"][1];
  EXPECT_EQ(cuda["implementation"], "cuda");
  if (!cuda["ran"].get<bool>()) EXPECT_FALSE(cuda["not_run"].get<std::string>().empty());
  const std::string xml = testing::read_text(x);
  EXPECT_NE(xml.find("<testsuites name=\"pathcheck check\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testsuite name=\"cpu-blockwise on built-in quick"), std::string::npos) << xml;
  const auto again = run_pathcheck(args + " --report-json " + q(j));
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_NE(again.output.find("already exists; use --force"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("gen ["), std::string::npos) << "refused before the suite is made: " << again.output;
  EXPECT_EQ(run_pathcheck(args + " --force --report-json " + q(j)).exit_code, 0);
}

// The verdict logic itself, with a planted bug among the implementations (the command line has
// no wrong implementation to offer): a failing implementation fails check; one that cannot run
// here is listed with its reason and does not; nothing that ran means no pass.
TEST(Check, AFailingImplementationFailsAndOneThatCannotRunIsListed) {
  using namespace conformance;
  Registry registry;
  adapters::register_cpu_implementations(registry);
  registry.add("mutant", "unwritten last block", [] { return std::make_unique<testing::LastQueryBlockUnwritten>(); });
  BuildOptions build;
  build.suite_seed = testing::session_seed();
  std::vector<Case> cases;
  for (const CaseSpec& s : filter_specs(suite_specs("quick", io::DType::BF16), "q001,q017")) cases.push_back(build_case(s, build));
  const CheckCandidate cpu{"cpu-blockwise", "", {}}, absent{"cuda", "no CUDA device here", OutputSelection::parse("o,lse")},
      mutant{"mutant", "", {}};

  const std::vector<CheckEntry> good = check_implementations(registry, {cpu, absent}, cases, {});
  EXPECT_TRUE(check_passed(good));
  std::ostringstream table;
  print_check(table, good, false);
  EXPECT_NE(table.str().find("NOT RUN: no CUDA device here"), std::string::npos) << table.str();

  const std::vector<CheckEntry> bad = check_implementations(registry, {cpu, mutant, absent}, cases, {});
  EXPECT_FALSE(check_passed(bad));
  std::ostringstream shown;
  print_check(shown, bad, false);
  EXPECT_NE(table_row("\n" + shown.str(), "mutant").find("FAIL"), std::string::npos) << shown.str();
  EXPECT_NE(table_row("\n" + shown.str(), "cpu-blockwise").find("PASS"), std::string::npos) << shown.str();
  EXPECT_NE(shown.str().find("failed: q001"), std::string::npos) << "the failing cases in detail: " << shown.str();
  const auto j = json::parse(check_json(bad, "quick", "bf16", build.suite_seed));
  EXPECT_EQ(j["all_passed"], false);
  EXPECT_EQ(j["implementations"][1]["report"]["summary"]["failed"], 2);

  EXPECT_FALSE(check_passed(check_implementations(registry, {absent}, cases, {}))) << "nothing ran: no pass";
  // A forward-only implementation asked only for gradients has nothing to run.
  CheckOptions grads;
  grads.outputs = OutputSelection::parse("dq");
  const auto none = check_implementations(registry, {CheckCandidate{"cpu-naive", "", OutputSelection::parse("o,lse")}}, cases, grads);
  EXPECT_NE(none.at(0).not_run.find("computes o,lse only"), std::string::npos) << none.at(0).not_run;
}

TEST_F(CliCheck, OutputsAndBadArguments) {
  const auto r = run_pathcheck("check --quiet --jobs 2 --only q000,q017 --outputs o,lse --seed " + seed());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::istringstream row(table_row(r.output, "cpu-blockwise"));
  std::vector<std::string> cells;
  for (std::string c; row >> c;) cells.push_back(c);
  ASSERT_GE(cells.size(), 8u) << r.output;
  EXPECT_EQ(cells[1], "2") << r.output;  // cases
  EXPECT_EQ(cells[2], "2") << r.output;  // passed
  EXPECT_NE(r.output.find("cpu-blockwise: judged on o,lse (--outputs); not judged: k_cache in 1 case"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(run_pathcheck("check --dtype fp8").exit_code, 2);
  EXPECT_EQ(run_pathcheck("check --outputs nope").exit_code, 2);
  EXPECT_EQ(run_pathcheck("check --seed -1").exit_code, 2);
  EXPECT_EQ(run_pathcheck("check --c 0").exit_code, 2);
}

}  // namespace
}  // namespace path
