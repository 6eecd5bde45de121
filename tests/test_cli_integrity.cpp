// The validator cannot be fooled by its own files (issue 12, items 1, 5, 6): results that are the
// suite or its case files are errors; a suite is complete only with a manifest that lists every
// case file with its SHA-256 (written last by gen, so an interrupted gen leaves none, and the same
// gen resumes); an edited case is an error; nothing is overwritten without --force, and report
// paths are checked before anything runs.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <filesystem>
#include <fstream>
#include <thread>

#include "path/conformance/case.hpp"
#include "path/conformance/manifest.hpp"
#include "path/conformance/sha256.hpp"
#include "support/cli_suite.hpp"

namespace path {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace conformance;
using testing::shq;
using testing::run_pathcheck;

class CliIntegrity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::pathcheck_binary().empty()) suite_ = new testing::SmallSuite("integrity");
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
  static testing::CommandResult validate(const std::string& suite, const std::string& results, const std::string& extra = "") {
    return run_pathcheck("validate --quiet --suite " + shq(suite) + " --results " + shq(results) + extra);
  }
  static testing::SmallSuite* suite_;
};

testing::SmallSuite* CliIntegrity::suite_ = nullptr;

// ---- item 1: the suite is no result ------------------------------------------------------------

TEST_F(CliIntegrity, TheSuiteFolderAsResultsIsAnError) {
  const auto same = validate(suite_->suite(), suite_->suite());
  EXPECT_EQ(same.exit_code, 1) << same.output;
  EXPECT_NE(same.output.find("is the suite folder itself"), std::string::npos) << same.output;
  EXPECT_EQ(same.output.find("PASSED"), std::string::npos) << same.output;
  // The same folder by another name (a symbolic link) is the same folder.
  const std::string link = suite_->file("suite-link");
  fs::remove(link);
  fs::create_directory_symlink(suite_->suite(), link);
  const auto linked = validate(suite_->suite(), link);
  EXPECT_EQ(linked.exit_code, 1) << linked.output;
  EXPECT_NE(linked.output.find("is the suite folder itself"), std::string::npos) << linked.output;
}

TEST_F(CliIntegrity, CaseFilesCopiedAsResultsFailEveryCase) {
  // A harness that writes back what it loaded: its "results" are the case files themselves.
  const std::string echo = suite_->copy(suite_->suite(), "echo");
  fs::remove(manifest_path(echo));
  const auto r = validate(suite_->suite(), echo);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("is a conformance case file"), std::string::npos) << r.output;
  const std::size_t n = suite_->cases().size();
  EXPECT_NE(r.output.find(std::to_string(n) + " cases, 0 passed, " + std::to_string(n) + " failed"), std::string::npos)
      << r.output;
}

// ---- item 5: the manifest ----------------------------------------------------------------------

TEST_F(CliIntegrity, TheManifestListsEveryCaseFileWithItsSha256) {
  const json m = json::parse(testing::read_text(manifest_path(suite_->suite())));
  EXPECT_EQ(m["format_version"], kManifestFormatVersion);
  ASSERT_EQ(m["cases"].size(), m["sha256"].size());
  for (const json& name : m["cases"]) {
    const std::string file = case_path(suite_->suite(), name.get<std::string>());
    EXPECT_EQ(m["sha256"][name.get<std::string>()], sha256_file(file)) << file;
  }
}

TEST_F(CliIntegrity, AnEditedOrMissingCaseFileRefusesTheSuite) {
  const std::vector<std::string> names = suite_->cases();
  const std::string edited = suite_->copy(suite_->suite(), "edited");
  {
    // A careful edit: a valid case file whose baseline error is ten times what was measured.
    io::TensorFile f = io::read_safetensors(case_path(edited, names[1]));
    json t = json::parse(f.metadata.at("tolerances"));
    t["o"]["baseline_error"] = t["o"]["baseline_error"].get<double>() * 10 + 1e-6;
    f.metadata["tolerances"] = t.dump();
    io::write_safetensors(case_path(edited, names[1]), f, true);
  }
  const auto r = validate(edited, suite_->results());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(case_path(edited, names[1]) + ": does not match its SHA-256"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("PASSED"), std::string::npos) << "refused before judging: " << r.output;
  // The same edit with the digest updated too: the case reader sees the tolerance no longer fits.
  json m = json::parse(testing::read_text(manifest_path(edited)));
  m["sha256"][names[1]] = sha256_file(case_path(edited, names[1]));
  std::ofstream(manifest_path(edited), std::ios::trunc) << m.dump();
  const auto d = validate(edited, suite_->results());
  EXPECT_EQ(d.exit_code, 1) << d.output;
  EXPECT_NE(d.output.find("the case was edited after generation"), std::string::npos) << d.output;
  // A case file gone: refused too.
  fs::remove(case_path(edited, names[2]));
  const auto g = run_pathcheck("run --quiet --impl cpu-blockwise --suite " + shq(edited));
  EXPECT_EQ(g.exit_code, 1) << g.output;
  EXPECT_NE(g.output.find(case_path(edited, names[2]) + ": missing"), std::string::npos) << g.output;
}

TEST_F(CliIntegrity, AFolderWithoutManifestOrWithAnOldOneIsNoSuite) {
  const std::string bare = suite_->copy(suite_->suite(), "bare");
  fs::remove(manifest_path(bare));
  for (const std::string& command : {"validate --quiet --suite " + shq(bare) + " --results " + shq(suite_->results()),
                                     "run --quiet --impl cpu-blockwise --suite " + shq(bare)}) {
    const auto r = run_pathcheck(command);
    EXPECT_EQ(r.exit_code, 1) << command << ": " << r.output;
    EXPECT_NE(r.output.find("no suite.json: not a complete suite"), std::string::npos) << r.output;
  }
  // A manifest without digests (format 1, as earlier versions wrote it) says to regenerate.
  json m = json::parse(testing::read_text(manifest_path(suite_->suite())));
  m["format_version"] = 1;
  m.erase("sha256");
  std::ofstream(manifest_path(bare), std::ios::trunc) << m.dump();
  const auto old = validate(bare, suite_->results());
  EXPECT_EQ(old.exit_code, 1) << old.output;
  EXPECT_NE(old.output.find("regenerate the suite"), std::string::npos) << old.output;
}

// Edits a case file must not survive: the reader checks the stored tolerances against the stored
// baseline and expected values, and the metadata shape and cu_seqlens against the tensors.
TEST_F(CliIntegrity, TheCaseReaderRefusesEditedMetadata) {
  const std::vector<std::string> names = suite_->cases();
  const std::string varlen = names.at(2);  // q014: cu_seqlens 0 1 1 6 7 20
  ASSERT_NE(varlen.find("varlen"), std::string::npos) << varlen;
  const io::TensorFile good = io::read_safetensors(case_path(suite_->suite(), varlen));
  struct Edit {
    const char* what;
    std::function<void(io::TensorFile&)> apply;
    const char* message;
  };
  const auto tolerances = [](io::TensorFile& f, const std::function<void(json&)>& edit) {
    json t = json::parse(f.metadata.at("tolerances"));
    edit(t);
    f.metadata["tolerances"] = t.dump();
  };
  const std::vector<Edit> edits = {
      {"looser tolerance", [&](io::TensorFile& f) { tolerances(f, [](json& t) { t["dq"]["tolerance"] = t["dq"]["tolerance"].get<double>() * 2; }); },
       "the case was edited after generation"},
      {"smaller baseline", [&](io::TensorFile& f) { tolerances(f, [](json& t) { t["lse"]["baseline_error"] = t["lse"]["baseline_error"].get<double>() / 2 + 1e-6; }); },
       "the case was edited after generation"},
      {"larger floor", [&](io::TensorFile& f) { tolerances(f, [](json& t) { t["o"]["floor"] = t["o"]["floor"].get<double>() * 4; }); },
       "the case was edited after generation"},
      {"max |expected|", [&](io::TensorFile& f) { tolerances(f, [](json& t) { t["o"]["max_abs_expected"] = 100.0; }); },
       "max_abs_expected"},
      {"expected value", [](io::TensorFile& f) {
         auto& v = f.tensors.at("o").values;
         *std::max_element(v.begin(), v.end(), [](double a, double b) { return std::fabs(a) < std::fabs(b); }) *= 3; },
       "max_abs_expected"},
      {"shape metadata", [](io::TensorFile& f) { f.metadata["shape"] = R"({"B":1,"T":21,"HQ":2,"H":2,"D":16,"Dv":16})"; },
       "metadata 'shape'"},
      {"cu_seqlens metadata", [](io::TensorFile& f) { f.metadata["cu_seqlens"] = "[0,1,6,7,20]"; }, "metadata 'cu_seqlens'"},
  };
  EXPECT_NO_THROW((void)case_from_file(good));
  for (const Edit& e : edits) {
    io::TensorFile f = good;
    e.apply(f);
    try {
      (void)case_from_file(f);
      ADD_FAILURE() << e.what << ": the edited case was accepted";
    } catch (const io::FileError& err) {
      const std::string msg = err.what();
      EXPECT_NE(msg.find(case_path(suite_->suite(), varlen)), std::string::npos) << e.what << ": " << msg;
      EXPECT_NE(msg.find(e.message), std::string::npos) << e.what << ": " << msg;
    }
  }
}

// gen writes the manifest last: killed while the cases are being written, it leaves no suite;
// the same gen again finishes it (keeping what was done), and the result is the suite an
// uninterrupted gen with that seed writes, byte for byte.
TEST_F(CliIntegrity, AnInterruptedGenLeavesNoSuiteAndTheSameGenResumesIt) {
  const std::string dir = suite_->file("interrupted");
  fs::remove_all(dir);
  // Largest first: q005 (T = 65 with gradients) takes most of the time, so the kill lands between cases.
  const std::string args = "gen --quiet --suite quick --dtype fp16 --jobs 1 --only q005,q021,q002,q000";
  FILE* p = popen(("'" + testing::pathcheck_binary() + "' " + args + " --out " + shq(dir) +
                   " >/dev/null 2>&1 & echo $!").c_str(), "r");
  ASSERT_NE(p, nullptr);
  long pid = 0;
  ASSERT_EQ(std::fscanf(p, "%ld", &pid), 1);
  pclose(p);
  const auto start = std::chrono::steady_clock::now();
  auto case_files = [&] {
    std::size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) n += e.path().extension() == ".safetensors";
    return n;
  };
  while (case_files() == 0 && std::chrono::steady_clock::now() - start < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGKILL), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_GE(case_files(), 1u);
  ASSERT_FALSE(fs::exists(manifest_path(dir))) << "gen finished before it was killed; the test needs a slower subset";

  const auto run = run_pathcheck("run --quiet --impl cpu-blockwise --suite " + shq(dir));
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("not a complete suite"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("PASSED"), std::string::npos) << run.output;
  // Another gen into it is refused (its cases would mix with these), unless --force.
  const auto other = run_pathcheck("gen --quiet --suite quick --dtype bf16 --only q000 --out " + shq(dir));
  EXPECT_EQ(other.exit_code, 1) << other.output;
  EXPECT_NE(other.output.find("interrupted gen"), std::string::npos) << other.output;
  EXPECT_NE(other.output.find("--force"), std::string::npos) << other.output;

  const auto resumed = run_pathcheck(args + " --out " + shq(dir));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming an interrupted gen"), std::string::npos) << resumed.output;
  const SuiteManifest m = read_manifest(dir);
  EXPECT_EQ(m.cases.size(), 4u);
  const std::string fresh = suite_->file("uninterrupted");
  fs::remove_all(fresh);
  const auto again = run_pathcheck(args + " --seed " + std::to_string(m.seed) + " --out " + shq(fresh));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(testing::read_text(manifest_path(dir)), testing::read_text(manifest_path(fresh)));
  for (const std::string& name : m.cases)
    EXPECT_EQ(testing::read_text(case_path(dir, name)), testing::read_text(case_path(fresh, name))) << name;
  EXPECT_FALSE(fs::exists(dir + "/.pathcheck-gen.json")) << "the marker of an unfinished gen is gone once it finished";
  // --force starts over.
  const auto forced = run_pathcheck("gen --quiet --suite quick --dtype bf16 --only q000 --force --out " + shq(dir));
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_EQ(read_manifest(dir).cases.size(), 1u);
}

// ---- item 6: no overwrite ----------------------------------------------------------------------

TEST_F(CliIntegrity, RunNeverOverwritesResultFilesWithoutForce) {
  const std::string results = suite_->copy(suite_->results(), "again");
  const std::string one = case_path(results, suite_->cases().at(0));
  std::ofstream(one, std::ios::app) << "mine";  // the user's file, changed
  const std::string before = testing::read_text(one);
  const auto r = run_pathcheck("run --quiet --impl cpu-blockwise --suite " + shq(suite_->suite()) + " --results " +
                               shq(results));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("already exists"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--force"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("PASSED"), std::string::npos) << "refused before running: " << r.output;
  EXPECT_EQ(testing::read_text(one), before);
  const auto forced = run_pathcheck("run --quiet --impl cpu-blockwise --force --suite " + shq(suite_->suite()) +
                                    " --results " + shq(results));
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_NE(testing::read_text(one), before);
  // Results into the suite folder would replace the case files: refused, --force or not.
  const auto into = run_pathcheck("run --quiet --impl cpu-blockwise --force --suite " + shq(suite_->suite()) +
                                  " --results " + shq(suite_->suite()));
  EXPECT_EQ(into.exit_code, 1) << into.output;
  EXPECT_NE(into.output.find("suite folder"), std::string::npos) << into.output;
}

TEST_F(CliIntegrity, ReportPathsAreCheckedBeforeTheRunAndNeverOverwrittenWithoutForce) {
  const std::string report = suite_->file("report.json");
  std::ofstream(report, std::ios::trunc) << "the user's notes";
  const std::string validate_args = "validate --suite " + shq(suite_->suite()) + " --results " + shq(suite_->results());
  for (const std::string option : {" --report-json ", " --junit "}) {
    const auto r = run_pathcheck(validate_args + option + shq(report));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("already exists; use --force"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("PASSED"), std::string::npos) << "checked before judging: " << r.output;
    EXPECT_EQ(testing::read_text(report), "the user's notes");
  }
  const auto forced = run_pathcheck(validate_args + " --force --report-json " + shq(report));
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_EQ(json::parse(testing::read_text(report))["summary"]["all_passed"], true);
  // A report path that names a case file (or anything in the suite folder) is refused even with
  // --force; the case file is untouched.
  const std::string victim = case_path(suite_->suite(), suite_->cases().at(0));
  const std::string bytes = testing::read_text(victim);
  for (const std::string option : {" --report-json ", " --junit "}) {
    const auto r = run_pathcheck(validate_args + " --force" + option + shq(victim));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("points into the suite folder"), std::string::npos) << r.output;
  }
  EXPECT_EQ(testing::read_text(victim), bytes);
  const auto both = run_pathcheck(validate_args + " --report-json x.json --junit x.json");
  EXPECT_EQ(both.exit_code, 2) << both.output;
  const auto nowhere = run_pathcheck(validate_args + " --report-json " + shq(suite_->file("no/such/dir/r.json")));
  EXPECT_EQ(nowhere.exit_code, 1) << nowhere.output;
  EXPECT_NE(nowhere.output.find("does not exist"), std::string::npos) << nowhere.output;
}

TEST_F(CliIntegrity, AResultsFolderThatCannotBeWrittenIsSaidSoBeforeRunning) {
  // Root writes through permission bits, so a root test uses a folder no one can create files in.
  std::string folder = "/proc";
  if (::geteuid() != 0) {
    folder = suite_->file("read-only");
    fs::create_directories(folder);
    ::chmod(folder.c_str(), 0555);
  }
  const auto r = run_pathcheck("run --quiet --impl cpu-blockwise --suite " + shq(suite_->suite()) + " --results " +
                               shq(folder));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot create files in this folder"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("case file unreadable"), std::string::npos) << r.output;
  if (::geteuid() != 0) ::chmod(folder.c_str(), 0755);
}

}  // namespace
}  // namespace path
