// The command line itself (issue 12, items 7 and 8): --help on every command lists every option
// (the ones that existed before the move to CLI11 included), --version; the table's columns never
// run together and the summary names the failing cases; validate --only; a non-finite input is
// named by its [b, t, h, d] index; "already exists" says --force; eval says what it computes.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "path/conformance/case.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/manifest.hpp"
#include "support/cli_suite.hpp"

namespace path {
namespace {

namespace fs = std::filesystem;
using namespace conformance;
using testing::shq;
using testing::run_pathcheck;

class CliHelp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::pathcheck_binary().empty()) suite_ = new testing::SmallSuite("help");
  }
  static void TearDownTestSuite() {
    delete suite_;
    suite_ = nullptr;
  }
  void SetUp() override {
    if (testing::pathcheck_binary().empty()) GTEST_FAIL() << "PATHCHECK_BIN is not set (run through ctest)";
    ASSERT_EQ(suite_->gen.exit_code, 0) << suite_->gen.output;
    ASSERT_EQ(suite_->run.exit_code, 0) << suite_->run.output;
  }
  static testing::SmallSuite* suite_;
};

testing::SmallSuite* CliHelp::suite_ = nullptr;

TEST_F(CliHelp, EveryCommandHasHelpListingEachOfItsOptions) {
  // Every option each command took before the move to CLI11, and the new ones.
  const std::map<std::string, std::vector<std::string>> options = {
      {"eval", {"--in", "--out", "--oracle", "--block", "--precision", "--prefill", "--decode", "--force", "--quiet"}},
      {"gen", {"--suite", "--dtype", "--out", "--seed", "--jobs", "--c", "--floor-ulps", "--only", "--force", "--quiet",
               "--outputs", "--shard"}},
      {"run", {"--impl", "--impl-cmd", "--suite", "--builtin", "--dtype", "--seed", "--results", "--report-json", "--junit",
               "--c", "--jobs", "--only", "--timeout", "--quiet", "--list", "--outputs", "--shard", "--force"}},
      {"validate", {"--suite", "--results", "--report-json", "--junit", "--c", "--quiet", "--only", "--outputs", "--shard",
                    "--force"}},
      {"check", {"--dtype", "--seed", "--jobs", "--only", "--outputs", "--report-json", "--junit", "--c", "--force",
                 "--verbose", "--quiet"}},
      {"merge", {"--report-json", "--junit", "--force"}},
  };
  for (const auto& [command, list] : options) {
    for (const std::string help : {" --help", " -h"}) {
      const auto r = run_pathcheck(command + help);
      EXPECT_EQ(r.exit_code, 0) << command << help << ": " << r.output;
      EXPECT_EQ(r.output.rfind("usage: pathcheck " + command, 0), 0u) << r.output;
      for (const std::string& o : list) EXPECT_NE(r.output.find("  " + o + " "), std::string::npos) << command << " " << o;
    }
    const auto via_help = run_pathcheck("help " + command);
    EXPECT_EQ(via_help.exit_code, 0) << via_help.output;
    EXPECT_EQ(via_help.output.rfind("usage: pathcheck " + command, 0), 0u) << via_help.output;
    // A bad option is a usage error that points to --help.
    const auto bad = run_pathcheck(command + " --no-such-option");
    EXPECT_EQ(bad.exit_code, 2) << bad.output;
    EXPECT_NE(bad.output.find("unknown argument '--no-such-option'"), std::string::npos) << bad.output;
    EXPECT_NE(bad.output.find("pathcheck " + command + " --help"), std::string::npos) << bad.output;
  }
  const auto top = run_pathcheck("--help");
  EXPECT_EQ(top.exit_code, 0);
  for (const auto& [command, list] : options) EXPECT_NE(top.output.find("  " + command + " "), std::string::npos) << command;
  const auto version = run_pathcheck("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.output.rfind("pathcheck 0.", 0), 0u) << version.output;
  const auto none = run_pathcheck("");
  EXPECT_EQ(none.exit_code, 2);
  const auto twice = run_pathcheck("validate --suite a --suite b --results c");
  EXPECT_EQ(twice.exit_code, 2) << twice.output;
}

TEST_F(CliHelp, TableColumnsNeverRunTogetherAndTheSummaryNamesTheFailures) {
  const std::string bad = suite_->copy(suite_->results(), "one-wrong");
  const std::string name = suite_->cases().at(3);
  io::TensorFile f = io::read_safetensors(case_path(bad, name));
  f.tensors.at("k_cache").values.at(2) += 1;
  io::write_safetensors(case_path(bad, name), f, true);
  const auto r = run_pathcheck("validate --quiet --suite " + shq(suite_->suite()) + " --results " + shq(bad));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  std::istringstream lines(r.output);
  std::size_t rows = 0, verdict_column = std::string::npos;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("q0", 0) != 0) continue;  // table rows start with the case name
    std::istringstream cells(line);
    std::vector<std::string> c;
    for (std::string cell; cells >> cell;) c.push_back(cell);
    // seven cells, then the max, norm and rows criteria's ratios (docs/tolerance.md), then the verdict
    ASSERT_EQ(c.size(), 10u) << "ten separate cells: " << line;
    EXPECT_TRUE(c[9] == "PASS" || c[9] == "FAIL") << line;
    const std::size_t at = line.rfind(c[9]);
    if (verdict_column == std::string::npos) verdict_column = at;
    EXPECT_EQ(at, verdict_column) << "aligned: " << line;
    ++rows;
  }
  EXPECT_GT(rows, 10u) << r.output;
  EXPECT_NE(r.output.find("\nfailed: " + name + "\n"), std::string::npos) << r.output;
}

TEST_F(CliHelp, ValidateTakesOnly) {
  const std::string name = suite_->cases().at(1);
  const auto r = run_pathcheck("validate --quiet --only " + name.substr(0, 4) + " --suite " + shq(suite_->suite()) +
                               " --results " + shq(suite_->results()));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("validate: 1 cases, 1 passed"), std::string::npos) << r.output;
  const auto empty = run_pathcheck("validate --quiet --only '' --suite " + shq(suite_->suite()) + " --results " +
                                   shq(suite_->results()));
  EXPECT_EQ(empty.exit_code, 2) << "an empty --only is no filter, and no silent 'all': " << empty.output;
  const auto none = run_pathcheck("validate --quiet --only nothing-like-this --suite " + shq(suite_->suite()) +
                                  " --results " + shq(suite_->results()));
  EXPECT_EQ(none.exit_code, 1) << none.output;
  EXPECT_NE(none.output.find("no case of the suite is selected"), std::string::npos) << none.output;
}

TEST_F(CliHelp, ANonFiniteInputIsNamedByItsIndex) {
  const std::string name = suite_->cases().at(1);  // q001: q [1, 7, 2, 32], do [1, 7, 2, 16]
  const io::TensorFile good = io::read_safetensors(case_path(suite_->suite(), name));
  ASSERT_EQ(good.require("q").shape, (std::vector<std::int64_t>{1, 7, 2, 32}));
  struct Bad {
    const char* tensor;
    std::size_t flat;
    const char* index;
  };
  for (const Bad& b : {Bad{"q", (3 * 2 + 1) * 32 + 5, "[0, 3, 1, 5]"}, Bad{"do", (6 * 2 + 0) * 16 + 15, "[0, 6, 0, 15]"}}) {
    io::TensorFile f = good;
    f.tensors.at(b.tensor).values.at(b.flat) = std::nan("");
    const std::string in = suite_->file(std::string("nan-") + b.tensor + ".safetensors");
    io::write_safetensors(in, f, true);
    const std::string message = "tensor '" + std::string(b.tensor) + "': element " + b.index + " (flat " +
                                std::to_string(b.flat) + ") is not finite";
    const auto e = run_pathcheck("eval --quiet --force --in " + shq(in) + " --out " + shq(suite_->file("nan-out")));
    EXPECT_EQ(e.exit_code, 1) << e.output;
    EXPECT_NE(e.output.find(message), std::string::npos) << e.output;
    try {
      (void)read_case(in);
      ADD_FAILURE() << "a case with a NaN in " << b.tensor << " was read";
    } catch (const io::FileError& err) {
      EXPECT_NE(std::string(err.what()).find(message), std::string::npos) << err.what();
    }
  }
}

TEST_F(CliHelp, AnExistingOutputIsKeptAndTheMessageSaysForce) {
  const std::string out = suite_->file("eval-existing.safetensors");
  std::ofstream(out, std::ios::trunc) << "mine";
  const std::string in = case_path(suite_->suite(), suite_->cases().at(0));
  const auto r = run_pathcheck("eval --quiet --in " + shq(in) + " --out " + shq(out));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("already exists; use --force to replace it"), std::string::npos) << r.output;
  EXPECT_EQ(testing::read_text(out), "mine");
}

TEST_F(CliHelp, EvalSaysWhatItComputesAndWhenItIsDone) {
  const std::string in = case_path(suite_->suite(), suite_->cases().at(0));  // T = 1, with do
  const auto r = run_pathcheck("eval --force --precision mp100 --in " + shq(in) + " --out " + shq(suite_->file("mp.st")));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("pathcheck eval: forward and backward at mp100 (T=1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(": done in "), std::string::npos) << r.output;
  const auto quiet = run_pathcheck("eval --quiet --force --in " + shq(in) + " --out " + shq(suite_->file("mp.st")));
  EXPECT_EQ(quiet.output.find("done in"), std::string::npos) << quiet.output;
}

// Further criteria a judge may report beside the global ratio (OutputVerdict::ratios, for example a
// per-row one) get a column each in the table, and survive the JSON report and its reading back.
TEST(Reports, FurtherRatiosGetAColumnAndSurviveJson) {
  Report r;
  r.command = "validate";
  CaseVerdict c;
  c.name = "q000_case";
  c.verdict = Verdict::fail;
  OutputVerdict o;
  o.output = "o";
  o.verdict = Verdict::fail;
  o.error = 0.5;
  o.ratio = 1.25;
  o.ratios = {{"row", 3.5}};
  o.problem = "row criterion";
  c.outputs = {o};
  r.cases = {c};
  std::ostringstream table;
  print_report(table, r);
  EXPECT_NE(table.str().find("row ratio"), std::string::npos) << table.str();
  const std::size_t ratio = table.str().find("1.25 ");
  ASSERT_NE(ratio, std::string::npos) << table.str();
  EXPECT_EQ(table.str().find_first_not_of(' ', ratio + 4), table.str().find("3.5", ratio)) << "the next cell: " << table.str();
  const Report back = report_from_json(report_json(r), "memory");
  ASSERT_EQ(back.cases.size(), 1u);
  EXPECT_EQ(back.cases[0].outputs.at(0).ratios, o.ratios);
  EXPECT_EQ(back.cases[0].outputs.at(0).ratio, 1.25);
  EXPECT_NE(report_junit(r).find("row ratio 3.5"), std::string::npos) << report_junit(r);
}

}  // namespace
}  // namespace path
