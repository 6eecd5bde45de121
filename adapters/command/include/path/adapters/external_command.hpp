#pragma once
// An external program as the implementation under test (pathcheck run --impl-cmd, issue 11):
// the program runs ONCE on a whole suite directory and writes one result file per case into a
// results directory; those files are then judged exactly as `pathcheck validate` judges them
// (adapters/results). Running it once, rather than once per case, lets a third party's program
// pay its start-up cost (a Python interpreter, a CUDA context) a single time.
//
// Nothing the program does can crash pathcheck or make it pass: a non-zero exit, death by a
// signal, a time-out or a program that could not be started fails every case of the suite, with
// the cause and the tail of the program's stderr in each case's problem text.
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "path/conformance/runner.hpp"

namespace path::adapters {

// The command template's placeholders, replaced by the shell-quoted directories.
inline constexpr const char* kSuitePlaceholder = "{suite}";
inline constexpr const char* kResultsPlaceholder = "{results}";

struct CommandOptions {
  std::string command_template;  // run by /bin/sh -c after the placeholders are replaced
  double timeout_seconds = 3600;
  double grace_seconds = 2;      // between SIGTERM and SIGKILL to the process group on a time-out
  std::size_t stderr_tail_bytes = 2000;
};

// What became of one run of the program.
struct CommandOutcome {
  std::string command;        // as run, placeholders replaced
  std::string results_dir;
  std::optional<int> exit_status;  // set when the program exited by itself
  int signal = 0;                  // the signal that ended it (0: none)
  bool timed_out = false;
  int interrupted_by = 0;          // the signal pathcheck itself received while waiting (0: none)
  std::string run_error;           // why it could not be started or waited for ("" when it was)
  double seconds = 0;              // wall time from start to its end (or to its last kill)
  double timeout_seconds = 0;      // the limit it ran under
  std::string stderr_tail;         // the last stderr_tail_bytes of its stderr, printable text

  bool succeeded() const { return run_error.empty() && !timed_out && interrupted_by == 0 && signal == 0 && exit_status == 0; }
  // One sentence: how the program ended ("exited with status 3", "was killed by SIGSEGV", ...).
  std::string how_it_ended() const;
};

// 'text' as one shell word: single-quoted, with embedded single quotes escaped.
std::string shell_quote(const std::string& text);
// The template with every {suite} and {results} replaced by the quoted directories.
std::string expand_command(const std::string& command_template, const std::string& suite_dir,
                           const std::string& results_dir);
// "SIGSEGV (Segmentation fault)"; "signal N" for a signal without a known name.
std::string signal_name(int signal);

// Runs the command on a suite directory. The program runs in its own process group (so a
// time-out kills everything it started), stdin from /dev/null (it is not interactive), stdout
// passed through, stderr captured to a temporary file. While it runs, SIGINT, SIGTERM and SIGHUP
// sent to pathcheck are forwarded to that group, so that stopping pathcheck stops the program too.
class CommandRunner {
 public:
  explicit CommandRunner(CommandOptions options) : options_(std::move(options)) {}
  CommandOutcome run(const std::string& suite_dir, const std::string& results_dir) const;

 private:
  CommandOptions options_;
};

// The verdicts of what the program wrote (adapters/results's ResultFiles through the suite).
// When the program did not succeed, every case fails with how it ended and its stderr tail in
// front of whatever the files themselves showed; when it succeeded, cases whose result file is
// missing or unreadable fail on their own (with the stderr tail, which likely says why).
conformance::Report judge_command_results(const CommandOutcome& outcome, const std::string& suite_dir,
                                          const conformance::SuiteRunOptions& options);

// A fresh directory (mkdtemp under the system temp directory), removed with all it holds when
// the object goes. Throws io::FileError when it cannot be made.
class TemporaryDirectory {
 public:
  explicit TemporaryDirectory(const std::string& tag);
  ~TemporaryDirectory();
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace path::adapters
