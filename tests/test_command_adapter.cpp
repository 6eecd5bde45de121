// pathcheck run --impl-cmd (adapters/command): an external program run once on a suite directory
// and judged by what it wrote. Every way a program can go wrong (a non-zero exit, a signal, a
// time-out, missing or wrong result files) must be a reported failure of pathcheck, never a crash
// and never a pass; and a correct program must pass.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "path/adapters/external_command.hpp"
#include "path/conformance/runner.hpp"
#include "path/io/safetensors.hpp"
#include "support/cli.hpp"

namespace path {
namespace {

namespace fs = std::filesystem;
using testing::run_pathcheck;
using testing::TempDir;

// One shell word, whatever the text holds.
using testing::q;

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class CommandAdapter : public ::testing::Test {
 protected:
  // A three-case fp32 suite, the CPU oracle's (correct) results for it, and a copy of those with
  // one case's o scaled by 1.1 (wrong by 10%, far beyond any fp32 tolerance).
  static void SetUpTestSuite() {
    if (testing::pathcheck_binary().empty()) return;
    dir_ = new TempDir("cmd-adapter");
    suite_ = dir_->file("suite");
    good_ = dir_->file("good");
    wrong_ = dir_->file("wrong");
    gen_ = run_pathcheck("gen --quiet --suite quick --dtype fp32 --jobs 2 --only q000,q001,q002 --out " + q(suite_));
    if (gen_.exit_code != 0) return;
    cases_ = conformance::read_manifest(suite_).cases;
    good_run_ = run_pathcheck("run --quiet --impl cpu-blockwise --suite " + q(suite_) + " --results " + q(good_));
    fs::copy(good_, wrong_);
    const std::string file = conformance::case_path(wrong_, cases_.at(1));
    io::TensorFile f = io::read_safetensors(file);
    for (double& x : f.tensors.at("o").values) x *= 1.1;
    io::write_safetensors(file, f, true);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (testing::pathcheck_binary().empty()) GTEST_FAIL() << "PATHCHECK_BIN is not set (run through ctest)";
    ASSERT_EQ(gen_.exit_code, 0) << gen_.output;
    ASSERT_EQ(good_run_.exit_code, 0) << good_run_.output;
    ASSERT_EQ(cases_.size(), 3u);
  }

  // Writes a shell script (it gets the suite directory as $1, the results directory as $2) and
  // returns the --impl-cmd template that runs it.
  std::string script(const std::string& body) {
    const std::string file = work_.file("program" + std::to_string(++scripts_) + ".sh");
    std::ofstream(file) << body << "\n";
    return "sh " + q(file) + " {suite} {results}";
  }
  static testing::CommandResult run_command(const std::string& command_template, const std::string& more = "") {
    return run_pathcheck("run --quiet --impl-cmd " + q(command_template) + " --suite " + q(suite_) + " " + more);
  }
  static std::string summary(std::size_t passed, std::size_t failed) {
    return "run: 3 cases, " + std::to_string(passed) + " passed, " + std::to_string(failed) + " failed";
  }

  TempDir work_{"cmd-test"};
  int scripts_ = 0;

  static TempDir* dir_;
  static std::string suite_, good_, wrong_;
  static std::vector<std::string> cases_;
  static testing::CommandResult gen_, good_run_;
};

TempDir* CommandAdapter::dir_ = nullptr;
std::string CommandAdapter::suite_, CommandAdapter::good_, CommandAdapter::wrong_;
std::vector<std::string> CommandAdapter::cases_;
testing::CommandResult CommandAdapter::gen_, CommandAdapter::good_run_;

// (a) The CPU oracle run as an external program writes correct result files: everything passes.
TEST_F(CommandAdapter, ACorrectProgramPasses) {
  const std::string cmd = script("\"$PATHCHECK_BIN\" run --impl cpu-blockwise --suite \"$1\" --results \"$2\" --quiet >/dev/null");
  const std::string json_file = work_.file("report.json");
  const auto r = run_command(cmd, "--report-json " + q(json_file));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(summary(3, 0)), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ALL PASSED"), std::string::npos) << r.output;
  const nlohmann::json j = nlohmann::json::parse(testing::read_text(json_file));
  EXPECT_EQ(j.at("summary").at("passed"), 3);
  EXPECT_EQ(j.at("implementation").get<std::string>().rfind("command: sh ", 0), 0u) << j.dump();
}

// (b) A non-zero exit fails every case, even when the files it wrote are correct.
TEST_F(CommandAdapter, ANonZeroExitFailsEveryCaseWithItsStderrTail) {
  const auto r = run_command(script("echo 'kernel exploded: illegal address' >&2\nexit 3"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(count_of(r.output, "the command exited with status 3"), 3u) << r.output;
  EXPECT_EQ(count_of(r.output, "kernel exploded: illegal address"), 3u) << r.output;
  EXPECT_NE(r.output.find(summary(0, 3)), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NOT PASSED"), std::string::npos) << r.output;

  const auto after_good_files = run_command(script("cp \"" + good_ + "\"/*.safetensors \"$2\"/\nexit 3"));
  EXPECT_EQ(after_good_files.exit_code, 1) << after_good_files.output;
  EXPECT_NE(after_good_files.output.find(summary(0, 3)), std::string::npos) << after_good_files.output;
  EXPECT_NE(after_good_files.output.find("exited with status 3; its stderr was empty"), std::string::npos)
      << after_good_files.output;
}

// Only the last ~2000 bytes of a long stderr are kept, in every report.
TEST_F(CommandAdapter, OnlyTheTailOfALongStderrIsKept) {
  const auto r = run_command(script("echo EARLY-MARKER >&2\ni=0\nwhile [ $i -lt 3000 ]; do echo filler line $i >&2; "
                                    "i=$((i+1)); done\necho LAST-MARKER >&2\nexit 1"));
  EXPECT_EQ(r.exit_code, 1) << r.output.substr(0, 4000);
  EXPECT_EQ(count_of(r.output, "LAST-MARKER"), 3u);
  EXPECT_EQ(r.output.find("EARLY-MARKER"), std::string::npos);
  // The whole stderr is about 50 kB; each of the three cases quotes about 2 kB of it.
  EXPECT_LT(r.output.size(), 15000u) << "each case quotes about 2000 bytes of stderr, not all of it";
}

// Control characters and broken UTF-8 in stderr reach the reports as '?', and the JSON and JUnit
// files stay well-formed.
TEST_F(CommandAdapter, BinaryGarbageOnStderrKeepsTheReportsWellFormed) {
  const std::string json_file = work_.file("r.json"), junit = work_.file("r.xml");
  const auto r = run_command(script("printf 'bad \\001 \\377 bytes\\n' >&2\nexit 1"),
                             "--report-json " + q(json_file) + " --junit " + q(junit));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("bad ? ? bytes"), std::string::npos) << r.output;
  const nlohmann::json j = nlohmann::json::parse(testing::read_text(json_file));
  EXPECT_NE(j.at("cases").at(0).at("problem").get<std::string>().find("bad ? ? bytes"), std::string::npos);
  EXPECT_NE(testing::read_text(junit).find("bad ? ? bytes"), std::string::npos);
}

// (c) Death by a signal is named; the shell itself dies here, so pathcheck sees the signal.
TEST_F(CommandAdapter, DeathByASignalNamesTheSignal) {
  const auto r = run_command("ulimit -c 0; echo about to crash >&2; kill -SEGV $$ # {results}");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(count_of(r.output, "the command was killed by signal SIGSEGV"), 3u) << r.output;
  EXPECT_NE(r.output.find("about to crash"), std::string::npos) << r.output;
  // Through a script, a shell may report the signal as status 128 + 11 instead: still named.
  const auto nested = run_command(script("ulimit -c 0\nkill -ABRT $$"));
  EXPECT_EQ(nested.exit_code, 1) << nested.output;
  EXPECT_NE(nested.output.find("SIGABRT"), std::string::npos) << nested.output;
  EXPECT_NE(nested.output.find(summary(0, 3)), std::string::npos) << nested.output;
}

// (d) A program past --timeout is stopped and every case fails as timed out; a program that
// ignores SIGTERM gets SIGKILL after the grace, and nothing it started survives.
TEST_F(CommandAdapter, ATimeOutStopsTheWholeProcessGroup) {
  auto start = std::chrono::steady_clock::now();
  const auto r = run_command(script("echo started >&2\nsleep 30"), "--timeout 1");
  EXPECT_LT(seconds_since(start), 8.0);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(count_of(r.output, "timed out"), 3u) << r.output;
  EXPECT_NE(r.output.find("started"), std::string::npos) << r.output;

  const std::string pid_file = work_.file("sleep.pid");
  start = std::chrono::steady_clock::now();
  const auto stubborn = run_command(script("trap '' TERM\nsleep 30 &\necho $! > " + q(pid_file) + "\nwait\nwait"),
                                    "--timeout 1");
  const double took = seconds_since(start);
  EXPECT_GE(took, 2.5) << "SIGKILL only after a grace of 2 s";
  EXPECT_LT(took, 10.0);
  EXPECT_EQ(stubborn.exit_code, 1) << stubborn.output;
  EXPECT_EQ(count_of(stubborn.output, "timed out"), 3u) << stubborn.output;
  const std::string pid = testing::read_text(pid_file);
  ASSERT_FALSE(pid.empty());
  // Gone, or a zombie waiting for a parent that reaps it: either way no longer running. A process
  // sent SIGKILL still takes a moment to exit (under load CI once read it in state D, dying), so
  // the check polls for 3 s: a sleep that escaped the kill would still be sleeping 25 s later.
  const std::string stat_file = "/proc/" + std::to_string(std::stol(pid)) + "/stat";
  auto running = [&] {
    const std::string stat = testing::read_text(stat_file);
    return !stat.empty() && stat.find(") Z ") == std::string::npos && stat.find(") X ") == std::string::npos;
  };
  const auto kill_seen = std::chrono::steady_clock::now();
  while (running() && seconds_since(kill_seen) < 3.0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(running()) << "the background sleep survived: " << testing::read_text(stat_file);
}

// SIGTERM to pathcheck while the program runs stops the program too, and is a failure.
TEST_F(CommandAdapter, StoppingPathcheckStopsTheProgram) {
  const std::string cmd = script("sleep 30");
  const std::string line = "'" + testing::pathcheck_binary() + "' run --quiet --impl-cmd " + q(cmd) + " --suite " +
                           q(suite_) + " > " + q(work_.file("out.txt")) + " 2>&1 & p=$!; sleep 1; kill -TERM $p; wait $p";
  const auto start = std::chrono::steady_clock::now();
  const int status = std::system(line.c_str());
  EXPECT_LT(seconds_since(start), 10.0);
  const std::string out = testing::read_text(work_.file("out.txt"));
  EXPECT_EQ(WEXITSTATUS(status), 1) << out;
  EXPECT_EQ(count_of(out, "pathcheck received SIGTERM"), 3u) << out;
}

// (e) Results for one case only: that case passes, the others fail as missing.
TEST_F(CommandAdapter, MissingResultsFailOnlyThoseCases) {
  const std::string first = conformance::case_path(good_, cases_[0]);
  const auto r = run_command(script("echo wrote one >&2\ncp " + q(first) + " \"$2\"/"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(summary(1, 2)), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(cases_[0] + ".safetensors: cannot open"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(cases_[1] + ".safetensors: cannot open"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(cases_[2] + ".safetensors: cannot open"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("exited with status"), std::string::npos) << "the program did not fail: " << r.output;
  EXPECT_NE(r.output.find("wrote one"), std::string::npos) << "a missing file shows the stderr tail: " << r.output;
}

// (f) Wrong values fail that case, judged as validate judges them.
TEST_F(CommandAdapter, WrongValuesFail) {
  const auto r = run_command(script("cp \"" + wrong_ + "\"/*.safetensors \"$2\"/"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(summary(2, 1)), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("o: error"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("exceeds the tolerance"), std::string::npos) << r.output;
}

// (g) A case the program reports failed (RESULTS/<case>.error.txt) fails with its message, not as
// a missing file, and the stderr tail stays out of it; the other cases are judged as usual.
TEST_F(CommandAdapter, AnErrorFileFailsThatCaseWithItsMessage) {
  const std::string first = conformance::case_path(good_, cases_[0]), last = conformance::case_path(good_, cases_[2]);
  const auto r = run_command(script("echo STDERR-NOISE >&2\ncp " + q(first) + " " + q(last) + " \"$2\"/\n" +
                                    "echo 'CUDA error: out of memory' > \"$2\"/" + cases_[1] + ".error.txt"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(summary(2, 1)), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the implementation reported: CUDA error: out of memory"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("cannot open"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("STDERR-NOISE"), std::string::npos) << "the case has its own message: " << r.output;
  EXPECT_EQ(r.output.find("exists too"), std::string::npos) << "no result file was written: " << r.output;
}

// An error file beside a correct result file still fails the case (the harness said it failed),
// and the message says that both are there.
TEST_F(CommandAdapter, AnErrorFileFailsACaseThatHasCorrectResultsToo) {
  const auto r = run_command(script("cp \"" + good_ + "\"/*.safetensors \"$2\"/\n" +
                                    "printf 'assertion failed' > \"$2\"/" + cases_[0] + ".error.txt"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(summary(2, 1)), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the implementation reported: assertion failed (its result file " + cases_[0] +
                          ".safetensors exists too, but the harness said the case failed)"),
            std::string::npos)
      << r.output;
}

// A huge error file is cut to its first 4 KiB (the cut named), binary bytes in it reach the
// reports as '?', an empty one still fails the case, and the JSON report stays well-formed.
TEST_F(CommandAdapter, OversizedBinaryAndEmptyErrorFilesAreHandled) {
  const std::string json_file = work_.file("errors.json");
  const auto r = run_command(script("cp \"" + good_ + "\"/*.safetensors \"$2\"/\n" +
                                    "{ printf 'bad \\001 \\377 head '; i=0; while [ $i -lt 2000 ]; do printf 'filler '; "
                                    "i=$((i+1)); done; echo TAIL-MARKER; } > \"$2\"/" + cases_[0] + ".error.txt\n" +
                                    ": > \"$2\"/" + cases_[1] + ".error.txt"),
                             "--report-json " + q(json_file));
  EXPECT_EQ(r.exit_code, 1) << r.output.substr(0, 3000);
  EXPECT_NE(r.output.find(summary(1, 2)), std::string::npos) << r.output.substr(0, 3000);
  const nlohmann::json j = nlohmann::json::parse(testing::read_text(json_file));
  const std::string cut = j.at("cases").at(0).at("problem");
  EXPECT_NE(cut.find("the implementation reported: bad ? ? head filler"), std::string::npos) << cut.substr(0, 300);
  EXPECT_EQ(cut.find("TAIL-MARKER"), std::string::npos) << "only the first 4096 bytes are kept";
  EXPECT_NE(cut.find("(cut: the first 4096 of 14025 bytes of "), std::string::npos) << cut.substr(cut.size() - 300);
  EXPECT_LT(cut.size(), 4096u + 400u);
  const std::string empty = j.at("cases").at(1).at("problem");
  EXPECT_NE(empty.find("the implementation reported: (no message: "), std::string::npos) << empty;
}

// A program that cannot write anywhere it was told fails like any other.
TEST_F(CommandAdapter, AProgramThatIsNotFoundFails) {
  const auto r = run_command("/nonexistent/kernel-runner {suite} {results}");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(count_of(r.output, "exited with status 127"), 3u) << r.output;
  EXPECT_NE(r.output.find("nonexistent"), std::string::npos) << r.output;
}

// --results DIR keeps what the program wrote; without it the temporary directory is removed.
TEST_F(CommandAdapter, ResultsDirectoryKeptOrRemoved) {
  const std::string seen = work_.file("seen.txt");
  const std::string cmd = script("echo \"$2\" > " + q(seen) + "\ncp \"" + good_ + "\"/*.safetensors \"$2\"/");
  const auto temporary = run_command(cmd);
  EXPECT_EQ(temporary.exit_code, 0) << temporary.output;
  std::string used = testing::read_text(seen);
  while (!used.empty() && used.back() == '\n') used.pop_back();
  ASSERT_FALSE(used.empty());
  EXPECT_FALSE(fs::exists(used)) << used;

  const std::string kept = work_.file("kept/results");
  const auto given = run_command(cmd, "--results " + q(kept));
  EXPECT_EQ(given.exit_code, 0) << given.output;
  for (const std::string& name : cases_) EXPECT_TRUE(fs::exists(conformance::case_path(kept, name))) << name;
}

// (g) Bad command lines: exit 2; a non-empty --results: refused before the program runs, nothing
// overwritten.
TEST_F(CommandAdapter, UsageErrorsAndANonEmptyResultsDirectory) {
  const std::string marker = work_.file("ran");
  const std::string cmd = script("touch " + q(marker));
  const std::string s = " --suite " + q(suite_);
  for (const std::string& args :
       {"run --impl cpu-blockwise --impl-cmd " + q(cmd) + s, "run --impl-cmd " + q(cmd),
        "run --impl-cmd " + q(cmd) + s + " --timeout 0", "run --impl-cmd " + q(cmd) + s + " --timeout abc",
        "run --impl cpu-blockwise --timeout 5" + s, "run --impl-cmd 'true'" + s,
        "run --impl-cmd " + q(cmd) + s + " --builtin quick", "run" + s}) {
    const auto r = run_pathcheck(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
  }
  const auto both = run_pathcheck("run --impl cpu-blockwise --impl-cmd " + q(cmd) + s);
  EXPECT_NE(both.output.find("mutually exclusive"), std::string::npos) << both.output;
  const auto no_suite = run_pathcheck("run --impl-cmd " + q(cmd));
  EXPECT_NE(no_suite.output.find("pathcheck gen"), std::string::npos) << no_suite.output;
  EXPECT_FALSE(fs::exists(marker)) << "a usage error must not run the program";

  const std::string results = work_.file("full");
  fs::create_directories(results);
  const std::string existing = conformance::case_path(results, cases_[0]);
  std::ofstream(existing) << "someone's earlier result";
  const auto r = run_command(cmd, "--results " + q(results));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("not empty"), std::string::npos) << r.output;
  EXPECT_EQ(testing::read_text(existing), "someone's earlier result");
  EXPECT_FALSE(fs::exists(marker)) << "the program must not run on a non-empty results directory";

  const auto no_suite_dir = run_pathcheck("run --impl-cmd " + q(cmd) + " --suite " + q(work_.file("absent")));
  EXPECT_EQ(no_suite_dir.exit_code, 1) << no_suite_dir.output;
  EXPECT_FALSE(fs::exists(marker)) << "the program must not run without a suite";
}

// The pieces: quoting survives any text, placeholders are all replaced, signals are named.
TEST(CommandAdapterParts, QuotingPlaceholdersAndSignalNames) {
  EXPECT_EQ(adapters::shell_quote("a b"), "'a b'");
  EXPECT_EQ(adapters::shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(adapters::expand_command("x {suite} {results} {suite}", "s d", "r"), "x 's d' 'r' 's d'");
  EXPECT_EQ(adapters::expand_command("no placeholders", "s", "r"), "no placeholders");
  EXPECT_EQ(adapters::signal_name(SIGSEGV).rfind("SIGSEGV", 0), 0u);
  EXPECT_EQ(adapters::signal_name(SIGKILL).rfind("SIGKILL", 0), 0u);
  // The quoted text comes back unchanged through a real shell.
  const std::string nasty = "a'b\"c $HOME `x` \\ ;|&";
  adapters::TemporaryDirectory dir("cmd-parts");
  adapters::CommandOptions options;
  options.command_template = "printf %s {suite} > {results}/out";
  const adapters::CommandOutcome out = adapters::CommandRunner(options).run(nasty, dir.path());
  EXPECT_TRUE(out.succeeded()) << out.how_it_ended();
  EXPECT_EQ(testing::read_text(dir.path() + "/out"), nasty);
}

}  // namespace
}  // namespace path
