// pathcheck gen / run / validate end to end on the quick suite, and every kind of bad input the
// validator must survive: truncated or corrupt files, missing files and tensors, NaN in results,
// wrong shapes, a broken suite file, bad arguments. Also `pathcheck eval` on a suite case.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "path/conformance/case.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/runner.hpp"
#include "path/conformance/sha256.hpp"
#include "path/conformance/suite.hpp"
#include "support/cli.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

namespace fs = std::filesystem;
using namespace conformance;
using testing::run_pathcheck;
using testing::TempDir;

using testing::q;

class ConformanceCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (testing::pathcheck_binary().empty()) return;
    dir_ = new TempDir("conf-cli");
    suite_ = dir_->file("suite");
    results_ = dir_->file("results");
    // A cheap subset of the quick suite (each test is its own process); QuickSuiteEndToEnd runs it all.
    gen_ = run_pathcheck("gen --suite quick --dtype bf16 --jobs 2 --only q000,q001,q002,q003,q017,q018 --seed " +
                         std::to_string(testing::session_seed()) + " --out " + q(suite_));
    run_ = run_pathcheck("run --impl cpu-blockwise --suite " + q(suite_) + " --results " + q(results_));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (testing::pathcheck_binary().empty()) GTEST_FAIL() << "PATHCHECK_BIN is not set (run through ctest)";
  }
  // A copy of the good results to damage.
  static std::string copy_results(const std::string& name) {
    const std::string to = dir_->file(name);
    fs::remove_all(to);
    fs::copy(results_, to);
    return to;
  }
  static std::string validate(const std::string& results, testing::CommandResult* r) {
    *r = run_pathcheck("validate --quiet --suite " + q(suite_) + " --results " + q(results));
    return r->output;
  }
  static std::vector<std::string> cases() { return read_manifest(suite_).cases; }

  static TempDir* dir_;
  static std::string suite_, results_;
  static testing::CommandResult gen_, run_;
};

TempDir* ConformanceCli::dir_ = nullptr;
std::string ConformanceCli::suite_, ConformanceCli::results_;
testing::CommandResult ConformanceCli::gen_, ConformanceCli::run_;

TEST_F(ConformanceCli, QuickSuiteEndToEndInUnderAMinute) {
  TempDir dir("conf-quick");
  const auto start = std::chrono::steady_clock::now();
  const auto g = run_pathcheck("gen --suite quick --dtype bf16 --jobs 2 --out " + q(dir.file("s")));
  ASSERT_EQ(g.exit_code, 0) << g.output;
  EXPECT_NE(g.output.find("reproduce with"), std::string::npos) << g.output;
  const auto r = run_pathcheck("run --quiet --impl cpu-blockwise --suite " + q(dir.file("s")) + " --results " + q(dir.file("r")));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const auto v = run_pathcheck("validate --quiet --suite " + q(dir.file("s")) + " --results " + q(dir.file("r")));
  EXPECT_EQ(v.exit_code, 0) << v.output;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 60.0) << "generation and validation of the quick suite must take under a minute";
  EXPECT_EQ(read_manifest(dir.file("s")).cases.size(), suite_specs("quick", io::DType::BF16).size());
}

TEST_F(ConformanceCli, GenWritesTheSuiteWithItsSeed) {
  ASSERT_EQ(gen_.exit_code, 0) << gen_.output;
  EXPECT_NE(gen_.output.find("seed " + std::to_string(testing::session_seed())), std::string::npos) << gen_.output;
  EXPECT_NE(gen_.output.find("left"), std::string::npos) << "progress lines: " << gen_.output;
  const SuiteManifest m = read_manifest(suite_);
  EXPECT_EQ(m.cases.size(), 6u);
  EXPECT_EQ(m.suite, "quick");
  EXPECT_EQ(m.dtype, "bf16");
  EXPECT_EQ(m.seed, testing::session_seed());
  for (const std::string& name : m.cases) {
    const Case c = read_case(case_path(suite_, name));
    EXPECT_EQ(c.name(), name);
    EXPECT_EQ(c.provenance.at("seed"), std::to_string(testing::session_seed()));
  }
}

TEST_F(ConformanceCli, GenIsReproducibleFromTheSeed) {
  ASSERT_EQ(gen_.exit_code, 0) << gen_.output;
  TempDir again("conf-again");
  const std::string name = cases().at(3);
  const auto r = run_pathcheck("gen --quiet --suite quick --dtype bf16 --jobs 1 --only " + name.substr(0, 4) + " --seed " +
                               std::to_string(testing::session_seed()) + " --out " + q(again.file("s")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(testing::read_text(case_path(again.file("s"), name)), testing::read_text(case_path(suite_, name)));
}

TEST_F(ConformanceCli, RunAndValidateAcceptCpuBlockwise) {
  ASSERT_EQ(run_.exit_code, 0) << run_.output;
  EXPECT_NE(run_.output.find("ALL PASSED"), std::string::npos) << run_.output;
  testing::CommandResult r;
  const std::string json_file = dir_->file("report.json"), junit = dir_->file("junit.xml");
  r = run_pathcheck("validate --suite " + q(suite_) + " --results " + q(results_) + " --report-json " + q(json_file) +
                    " --junit " + q(junit));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("case"), std::string::npos);
  EXPECT_NE(r.output.find("ratio"), std::string::npos);
  const auto j = nlohmann::json::parse(testing::read_text(json_file));
  EXPECT_EQ(j["summary"]["cases"], cases().size());
  EXPECT_EQ(j["summary"]["all_passed"], true);
  EXPECT_NE(testing::read_text(junit).find("failures=\"0\""), std::string::npos);
}

TEST_F(ConformanceCli, RunBuiltInSuiteWithoutADirectory) {
  const auto r = run_pathcheck("run --quiet --impl cpu-naive --builtin quick --dtype fp16 --jobs 2 --seed 5 --only q000,q014,q019");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("seed 5"), std::string::npos) << r.output;
  const auto list = run_pathcheck("run --list");
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.output.find("cpu-blockwise"), std::string::npos);
  EXPECT_NE(list.output.find("cpu-naive"), std::string::npos);
}

TEST_F(ConformanceCli, NanInAResultIsAFailedCaseWithTheWorstElement) {
  const std::string bad = copy_results("nan");
  const std::string name = cases().at(2), file = case_path(bad, name);
  io::TensorFile f = io::read_safetensors(file);
  f.tensors.at("lse").values.at(4) = std::nan("");
  io::write_safetensors(file, f, true);
  testing::CommandResult r;
  const std::string out = validate(bad, &r);
  EXPECT_EQ(r.exit_code, 1) << out;
  EXPECT_NE(out.find("NaN"), std::string::npos) << out;
  EXPECT_NE(out.find("worst element lse["), std::string::npos) << out;
  EXPECT_NE(out.find("got nan"), std::string::npos) << out;
  EXPECT_NE(out.find(std::to_string(cases().size()) + " cases, " + std::to_string(cases().size() - 1) + " passed, 1 failed"),
            std::string::npos)
      << out;
}

TEST_F(ConformanceCli, AWrongValueFailsWithIndexGotAndExpected) {
  const std::string bad = copy_results("wrong");
  const std::string name = cases().at(5), file = case_path(bad, name);
  io::TensorFile f = io::read_safetensors(file);
  f.tensors.at("o").values.at(10) += 0.5;
  io::write_safetensors(file, f, true);
  testing::CommandResult r;
  const std::string out = validate(bad, &r);
  EXPECT_EQ(r.exit_code, 1) << out;
  EXPECT_NE(out.find("(flat 10): got"), std::string::npos) << out;
  EXPECT_NE(out.find("expected"), std::string::npos) << out;
}

TEST_F(ConformanceCli, MissingAndMalformedResultsAreFailuresNotCrashes) {
  const std::vector<std::string> names = cases();
  const std::string bad = copy_results("broken");
  fs::remove(case_path(bad, names[0]));                                   // missing file
  {
    const std::string bytes = testing::read_text(case_path(bad, names[1]));  // truncated
    std::ofstream(case_path(bad, names[1]), std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  }
  {
    io::TensorFile f = io::read_safetensors(case_path(bad, names[2]));  // missing tensor
    f.tensors.erase("o");
    io::write_safetensors(case_path(bad, names[2]), f, true);
  }
  {
    io::TensorFile f = io::read_safetensors(case_path(bad, names[3]));  // wrong shape
    io::Tensor& t = f.tensors.at("lse");
    t.shape = {static_cast<std::int64_t>(t.values.size())};
    io::write_safetensors(case_path(bad, names[3]), f, true);
  }
  {
    std::string bytes = testing::read_text(case_path(bad, names[4]));  // header length past the end
    bytes[2] = '\x10';  // about 1 MiB: under the reader's limit, past this small file's end
    std::ofstream(case_path(bad, names[4]), std::ios::binary | std::ios::trunc) << bytes;
  }
  {
    std::string header = "{\"a\":\"\xff\xfe\"}";  // not UTF-8
    header.append(16 - header.size(), ' ');
    std::string bytes(8, '\0');
    bytes[0] = static_cast<char>(header.size());
    std::ofstream(case_path(bad, names[5]), std::ios::binary | std::ios::trunc) << bytes + header;
  }
  testing::CommandResult r;
  const std::string out = validate(bad, &r);
  EXPECT_EQ(r.exit_code, 1) << out;
  EXPECT_NE(out.find("no such file"), std::string::npos) << out;
  EXPECT_NE(out.find("missing from the results"), std::string::npos) << out;
  EXPECT_NE(out.find("has shape"), std::string::npos) << out;
  EXPECT_NE(out.find("runs past the end"), std::string::npos) << out;
  EXPECT_NE(out.find("UTF-8"), std::string::npos) << out;
  EXPECT_NE(out.find(std::to_string(names.size() - 6) + " passed, 6 failed"), std::string::npos) << out;
}

TEST_F(ConformanceCli, ABrokenSuiteFileIsRefusedOrFailsThatCaseAndNamesTheFile) {
  TempDir copy("conf-broken-suite");
  const std::string suite = copy.file("suite");
  fs::copy(suite_, suite);
  const std::string name = cases().at(1);
  const std::string bytes = testing::read_text(case_path(suite, name));
  std::ofstream(case_path(suite, name), std::ios::binary | std::ios::trunc) << bytes.substr(0, 100);
  // The file no longer matches its digest in suite.json: the whole suite is refused, naming it.
  const auto r = run_pathcheck("validate --quiet --suite " + q(suite) + " --results " + q(results_));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("does not match its SHA-256"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(case_path(suite, name)), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("ALL PASSED"), std::string::npos) << r.output;
  // With the digest brought up to date (a manifest edited by hand), the reader still fails that case
  // with its reason and judges the others.
  auto manifest = nlohmann::json::parse(testing::read_text(copy.file("suite/suite.json")));
  manifest["sha256"][name] = sha256_file(case_path(suite, name));
  std::ofstream(copy.file("suite/suite.json"), std::ios::trunc) << manifest.dump();
  const auto u = run_pathcheck("validate --quiet --suite " + q(suite) + " --results " + q(results_));
  EXPECT_EQ(u.exit_code, 1) << u.output;
  EXPECT_NE(u.output.find("case file unreadable"), std::string::npos) << u.output;
  EXPECT_NE(u.output.find(case_path(suite, name)), std::string::npos) << u.output;
  EXPECT_NE(u.output.find(std::to_string(cases().size() - 1) + " passed, 1 failed"), std::string::npos) << u.output;
  // A manifest naming a path outside the directory is refused.
  std::ofstream(copy.file("suite/suite.json"), std::ios::trunc)
      << R"({"format": "pathcheck-conformance-suite", "format_version": 2, "cases": ["../../etc/passwd"], "sha256": {}})";
  const auto m = run_pathcheck("validate --quiet --suite " + q(suite) + " --results " + q(results_));
  EXPECT_EQ(m.exit_code, 1) << m.output;
  EXPECT_NE(m.output.find("not a plain file name"), std::string::npos) << m.output;
}

TEST_F(ConformanceCli, EvalAcceptsASuiteCaseFile) {
  // Prefill with gradients (the case holds do) and a decode case (--decode --prefill P).
  for (const std::string& name : cases()) {
    const Case c = read_case(case_path(suite_, name));
    if (!(c.spec().gradients || c.spec().mode == Mode::decode)) continue;
    const std::string out = dir_->file("eval-" + name + ".safetensors");
    std::string extra;
    if (c.spec().mode == Mode::decode) extra = " --decode --prefill " + std::to_string(c.spec().prefill_length);
    const auto r = run_pathcheck("eval --in " + q(case_path(suite_, name)) + " --out " + q(out) + " --force" + extra);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const io::TensorFile f = io::read_safetensors(out);
    Outputs got;
    for (const std::string& o : output_names(c.spec())) got[o] = f.require(o);
    // eval computes in double and writes f64: far inside every tolerance.
    const CaseVerdict v = judge(c, got);
    EXPECT_EQ(v.verdict, Verdict::pass) << name;
    for (const OutputVerdict& o : v.outputs) EXPECT_LT(o.ratio, 0.01) << name << " " << o.output;
  }
}

TEST_F(ConformanceCli, BadArgumentsAndExistingSuites) {
  for (const std::string args : {"gen --suite huge --dtype bf16 --out x", "gen --suite quick --dtype fp8 --out x",
                                 "gen --suite quick --dtype bf16", "gen --suite quick --dtype bf16 --out x --seed -3",
                                 "gen --suite quick --dtype bf16 --out x --c 0", "run --impl nope",
                                 "run --impl cpu-naive --suite x --dtype bf16", "validate --suite x",
                                 "validate --suite x --results y --c abc", "validate --frob"}) {
    const auto r = run_pathcheck(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
  }
  const auto exists = run_pathcheck("gen --suite quick --dtype bf16 --out " + q(suite_));
  EXPECT_EQ(exists.exit_code, 1) << exists.output;
  EXPECT_NE(exists.output.find("--force"), std::string::npos) << exists.output;
  const auto no_dir = run_pathcheck("validate --suite " + q(dir_->file("absent")) + " --results " + q(results_));
  EXPECT_EQ(no_dir.exit_code, 1) << no_dir.output;
  EXPECT_NE(no_dir.output.find("not a directory"), std::string::npos) << no_dir.output;
}

}  // namespace
}  // namespace path
