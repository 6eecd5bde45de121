// --outputs (issue 12, item 4): a forward-only or decode-only implementation is judged on what it
// claims, and the report -- table, JSON and JUnit -- says what was not judged. An output that is
// selected is judged as strictly as ever.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "path/conformance/case.hpp"
#include "path/conformance/manifest.hpp"
#include "support/cli_suite.hpp"

namespace path {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace conformance;
using testing::shq;
using testing::run_pathcheck;

class CliOutputs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (testing::pathcheck_binary().empty()) return;
    suite_ = new testing::SmallSuite("outputs");
    // A forward-only kernel's results: o and lse, nothing else.
    forward_ = suite_->copy(suite_->results(), "forward-only");
    for (const std::string& name : suite_->cases()) {
      io::TensorFile f = io::read_safetensors(case_path(forward_, name));
      std::erase_if(f.tensors, [](const auto& t) { return t.first != "o" && t.first != "lse"; });
      io::write_safetensors(case_path(forward_, name), f, true);
    }
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
  static testing::CommandResult validate(const std::string& results, const std::string& extra) {
    return run_pathcheck("validate --quiet --suite " + shq(suite_->suite()) + " --results " + shq(results) + extra);
  }
  static testing::SmallSuite* suite_;
  static std::string forward_;
};

testing::SmallSuite* CliOutputs::suite_ = nullptr;
std::string CliOutputs::forward_;

TEST_F(CliOutputs, AForwardOnlyImplementationPassesOnOAndLseAndTheReportSaysWhatWasNotJudged) {
  const auto all = validate(forward_, "");
  EXPECT_EQ(all.exit_code, 1) << "gradients and k_cache are missing: " << all.output;
  EXPECT_NE(all.output.find("missing from the results"), std::string::npos) << all.output;

  const std::string report = suite_->file("forward.json"), junit = suite_->file("forward.xml");
  fs::remove(report);
  fs::remove(junit);
  const auto r = validate(forward_, " --outputs o,lse --report-json " + shq(report) + " --junit " + shq(junit));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("judged outputs: o,lse (--outputs); not judged: dq dk dv dw dbeta dg in 3 cases; "
                          "k_cache in 2 cases"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("ALL PASSED"), std::string::npos) << r.output;
  const json j = json::parse(testing::read_text(report));
  EXPECT_EQ(j["outputs"], "o,lse");
  for (const json& c : j["cases"]) {
    for (const json& o : c["outputs"]) EXPECT_TRUE(o["output"] == "o" || o["output"] == "lse") << o.dump();
    EXPECT_TRUE(c.contains("not_judged")) << c.dump();
  }
  const std::string xml = testing::read_text(junit);
  EXPECT_NE(xml.find("<property name=\"outputs\" value=\"o,lse\"/>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("not judged (--outputs o,lse): dq dk dv dw dbeta dg"), std::string::npos) << xml;
}

TEST_F(CliOutputs, ASelectedOutputIsJudgedAsStrictlyAsEver) {
  // dq 10% off in the GQA case.
  const std::string wrong = suite_->copy(suite_->results(), "wrong-dq");
  const std::string name = suite_->cases().at(1);
  io::TensorFile f = io::read_safetensors(case_path(wrong, name));
  for (double& x : f.tensors.at("dq").values) x *= 1.1;
  io::write_safetensors(case_path(wrong, name), f, true);
  EXPECT_EQ(validate(wrong, " --outputs o,lse").exit_code, 0);
  const auto r = validate(wrong, " --outputs o,lse,dq");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("failed: " + name), std::string::npos) << r.output;
}

TEST_F(CliOutputs, ADecodeOnlySelectionRunsTheDecodeCasesAndListsTheRest) {
  const auto r = validate(suite_->results(), " --outputs k_cache");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("validate: 2 cases, 2 passed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not run, none of their outputs is judged: 3 cases"), std::string::npos) << r.output;
  for (const std::string bad : {" --outputs o,nope", " --outputs o,o", " --outputs ''"}) {
    const auto b = validate(suite_->results(), bad);
    EXPECT_EQ(b.exit_code, 2) << bad << ": " << b.output;
  }
}

TEST_F(CliOutputs, GenWithOutputsWritesAForwardSuiteThatRunAndValidateJudgeOnThoseOutputs) {
  const std::string suite = suite_->file("forward-suite");
  fs::remove_all(suite);
  const auto g = run_pathcheck("gen --quiet --suite quick --dtype bf16 --jobs 2 --outputs lse,o --only " +
                               std::string(testing::SmallSuite::kOnly) + " --seed " +
                               std::to_string(testing::session_seed()) + " --out " + shq(suite));
  ASSERT_EQ(g.exit_code, 0) << g.output;
  const SuiteManifest m = read_manifest(suite);
  EXPECT_EQ(m.outputs, (std::vector<std::string>{"o", "lse"}));
  for (const std::string& name : m.cases) {
    const Case c = read_case(case_path(suite, name));
    EXPECT_FALSE(c.spec().gradients) << name << ": no gradients were asked for";
    EXPECT_FALSE(io::read_safetensors(case_path(suite, name)).has("do")) << name;
  }
  // The forward-only results pass without --outputs: the suite says what it judges.
  const auto v = run_pathcheck("validate --quiet --suite " + shq(suite) + " --results " + shq(forward_));
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("not judged: k_cache in 2 cases"), std::string::npos) << v.output;
  // run writes the selected outputs only.
  const std::string results = suite_->file("forward-run");
  fs::remove_all(results);
  const auto r = run_pathcheck("run --quiet --impl cpu-naive --suite " + shq(suite) + " --results " + shq(results));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const io::TensorFile f = io::read_safetensors(case_path(results, m.cases.back()));
  EXPECT_TRUE(f.has("o") && f.has("lse"));
  EXPECT_FALSE(f.has("k_cache"));
}

TEST_F(CliOutputs, TheBuiltInSuiteTakesOutputsToo) {
  const auto r = run_pathcheck("run --quiet --impl cpu-blockwise --builtin quick --jobs 2 --seed 3 --only q000,q017 "
                               "--outputs o");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // Without a gradient output selected, the gradient case is made (and run) as a forward case.
  EXPECT_NE(r.output.find("judged outputs: o (--outputs); not judged: lse in 1 case; lse k_cache in 1 case"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace path
