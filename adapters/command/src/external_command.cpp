// An external program run once on a suite directory, and the verdicts of what it wrote.
#include "path/adapters/external_command.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "path/adapters/printable_text.hpp"
#include "path/adapters/result_files.hpp"
#include "path/io/safetensors.hpp"

extern char** environ;

namespace path::adapters {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string number(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

// ---- signals pathcheck receives while the program runs -------------------------------------

// The program runs in its own process group (so that a time-out can kill all it started), which
// also means a Ctrl-C at the terminal reaches pathcheck only; these are forwarded by the wait loop.
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP};
volatile std::sig_atomic_t g_interrupt = 0;

void record_interrupt(int signal) { g_interrupt = signal; }

class InterruptWatch {
 public:
  InterruptWatch() {
    g_interrupt = 0;
    struct sigaction action {};
    action.sa_handler = record_interrupt;
    sigemptyset(&action.sa_mask);
    for (std::size_t i = 0; i < std::size(kForwarded); ++i) {
      sigaction(kForwarded[i], &action, &previous_[i]);
      // A signal pathcheck was told to ignore (nohup) stays ignored.
      if (previous_[i].sa_handler == SIG_IGN) sigaction(kForwarded[i], &previous_[i], nullptr);
    }
  }
  ~InterruptWatch() {
    for (std::size_t i = 0; i < std::size(kForwarded); ++i) sigaction(kForwarded[i], &previous_[i], nullptr);
  }
  InterruptWatch(const InterruptWatch&) = delete;
  InterruptWatch& operator=(const InterruptWatch&) = delete;

 private:
  struct sigaction previous_[std::size(kForwarded)] {};
};

// ---- starting and waiting ----------------------------------------------------------------

// posix_spawn rather than fork: no copy of a large parent's address space, and nothing runs in
// the child between fork and exec that could deadlock on a lock another thread held.
pid_t spawn_shell(const std::string& command, const std::string& stderr_path, std::string& error) {
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&files, STDERR_FILENO, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attributes, 0);  // a new group, led by the shell
  sigset_t defaults, none;
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) sigaddset(&defaults, s);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setsigmask(&attributes, &none);
  std::string shell_command = command;
  char sh[] = "sh", dash_c[] = "-c";
  char* argv[] = {sh, dash_c, shell_command.data(), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, "/bin/sh", &files, &attributes, argv, environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&files);
  if (rc != 0) {
    error = "/bin/sh could not be started (stderr to " + stderr_path + "): " + std::strerror(rc);
    return -1;
  }
  return pid;
}

struct WaitResult {
  bool reaped = false;
  int status = 0;
  int error = 0;  // errno of a failed waitpid
};

WaitResult reap_now(pid_t pid) {
  WaitResult w;
  int status = 0;
  const pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == pid) {
    w.reaped = true;
    w.status = status;
  } else if (r < 0 && errno != EINTR) {
    w.error = errno;
  }
  return w;
}

void pause_briefly() {
  const timespec step{0, 20'000'000};  // 20 ms: prompt enough for a time-out, cheap over an hour
  nanosleep(&step, nullptr);
}

// Polls until the program ends, the deadline passes or (when watched) pathcheck is interrupted.
WaitResult wait_until(pid_t pid, Clock::time_point deadline, bool watch_interrupts) {
  for (;;) {
    const WaitResult w = reap_now(pid);
    if (w.reaped || w.error) return w;
    if (Clock::now() >= deadline || (watch_interrupts && g_interrupt != 0)) return w;
    pause_briefly();
  }
}

int wait_blocking(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

Clock::time_point after(double seconds) {
  seconds = std::min(seconds, 1e9);  // ~30 years: no overflow of the clock's representation
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// SIGTERM to the whole group, then SIGKILL to whatever of it is left after the grace (a program
// that ignores SIGTERM, or a child of it that outlived the shell). Returns the shell's status.
// The grace ends early once the group is empty; an orphan that died but that init has not reaped
// yet still counts as a member, so under such an init the grace runs out in full.
int stop_group(pid_t group, double grace_seconds) {
  killpg(group, SIGTERM);
  const Clock::time_point deadline = after(grace_seconds);
  WaitResult w;
  while (Clock::now() < deadline) {
    if (!w.reaped) w = reap_now(group);
    if (w.error || (w.reaped && killpg(group, 0) != 0)) break;  // the whole group is gone
    pause_briefly();
  }
  killpg(group, SIGKILL);
  return w.reaped || w.error ? w.status : wait_blocking(group);
}

void record_status(int status, CommandOutcome& out) {
  if (WIFEXITED(status)) out.exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
}

void await(pid_t pid, const CommandOptions& options, CommandOutcome& out) {
  const WaitResult w = wait_until(pid, after(options.timeout_seconds), true);
  if (w.error) {
    out.run_error = std::string("waiting for it failed: ") + std::strerror(w.error);
    killpg(pid, SIGKILL);
    return;
  }
  if (w.reaped) return record_status(w.status, out);
  out.interrupted_by = g_interrupt;
  out.timed_out = out.interrupted_by == 0;
  record_status(stop_group(pid, options.grace_seconds), out);
}

// ---- the stderr tail ---------------------------------------------------------------------

std::string read_tail(const std::string& file, std::size_t bytes) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const auto size = static_cast<std::size_t>(std::max<std::streamoff>(0, in.tellg()));
  const std::size_t start = size > bytes ? size - bytes : 0;
  in.seekg(static_cast<std::streamoff>(start));
  std::string raw(size - start, '\0');
  in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
  raw.resize(static_cast<std::size_t>(std::max<std::streamsize>(0, in.gcount())));
  return (start > 0 ? "..." : "") + printable_text(raw);
}

// "; its stderr ended with:" and the tail, each line indented so it reads as a quotation.
std::string stderr_quote(const CommandOutcome& out) {
  std::string tail = out.stderr_tail;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  if (tail.empty()) return "; its stderr was empty";
  std::string quoted = "; its stderr ended with:";
  std::istringstream lines(tail);
  for (std::string line; std::getline(lines, line);) quoted += "\n      | " + line;
  return quoted;
}

// The program failed: the case fails whatever its files showed, the cause first.
void fail_with_cause(conformance::CaseVerdict& v, const std::string& cause, const std::string& quote) {
  v.verdict = conformance::Verdict::fail;
  v.problem = cause + (v.problem.empty() ? "" : "; " + v.problem) + quote;
}

}  // namespace

// ---- public ------------------------------------------------------------------------------

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string expand_command(const std::string& command_template, const std::string& suite_dir,
                           const std::string& results_dir) {
  const std::string suite = shell_quote(suite_dir), results = shell_quote(results_dir);
  const std::string suite_key = kSuitePlaceholder, results_key = kResultsPlaceholder;
  std::string out;
  for (std::size_t i = 0; i < command_template.size();) {
    if (command_template.compare(i, suite_key.size(), suite_key) == 0) {
      out += suite;
      i += suite_key.size();
    } else if (command_template.compare(i, results_key.size(), results_key) == 0) {
      out += results;
      i += results_key.size();
    } else {
      out += command_template[i++];
    }
  }
  return out;
}

std::string signal_name(int signal) {
  static const std::pair<int, const char*> kNames[] = {
      {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},   {SIGTRAP, "SIGTRAP"},
      {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},   {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"},
      {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"}, {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
      {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"}};
  for (const auto& [number, name] : kNames)
    if (number == signal) return std::string(name) + " (" + strsignal(signal) + ")";
  return "signal " + std::to_string(signal);
}

std::string CommandOutcome::how_it_ended() const {
  if (!run_error.empty()) return "could not be run: " + run_error;
  if (timed_out)
    return "timed out: still running at the time limit of " + number(timeout_seconds) +
           " s (--timeout), so its process group was sent SIGTERM, then SIGKILL";
  if (interrupted_by != 0) return "was stopped because pathcheck received " + signal_name(interrupted_by);
  if (signal != 0) return "was killed by signal " + signal_name(signal);
  if (!exit_status) return "ended in an unknown way";
  std::string text = "exited with status " + std::to_string(*exit_status);
  // A shell reports a command it ran that died of signal N as status 128 + N.
  if (*exit_status > 128 && *exit_status < 128 + 64)
    text += " (a shell's code for a command killed by " + signal_name(*exit_status - 128) + ")";
  return text;
}

CommandOutcome CommandRunner::run(const std::string& suite_dir, const std::string& results_dir) const {
  CommandOutcome out;
  out.command = expand_command(options_.command_template, suite_dir, results_dir);
  out.results_dir = results_dir;
  out.timeout_seconds = options_.timeout_seconds;
  const TemporaryDirectory scratch("pathcheck-stderr");
  const std::string stderr_path = scratch.path() + "/stderr.txt";
  std::cout.flush();  // what pathcheck printed comes before the program's output
  std::cerr.flush();
  std::fflush(nullptr);
  const InterruptWatch watch;
  const Clock::time_point start = Clock::now();
  if (const pid_t pid = spawn_shell(out.command, stderr_path, out.run_error); pid > 0) await(pid, options_, out);
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  out.stderr_tail = read_tail(stderr_path, options_.stderr_tail_bytes);
  return out;
}

conformance::Report judge_command_results(const CommandOutcome& outcome, const std::string& suite_dir,
                                          const conformance::SuiteRunOptions& options) {
  ResultFiles files(outcome.results_dir);
  conformance::SuiteRunOptions judging = options;
  judging.results_dir.reset();  // judging only: never write into what the program made
  // Progress lines would say "pass" for cases the verdict below fails.
  if (!outcome.succeeded()) judging.progress = nullptr;
  conformance::Report r = conformance::run_suite_directory(files, suite_dir, judging);
  r.command = "run";
  r.implementation = "command: " + outcome.command;
  r.seconds += outcome.seconds;
  const std::string quote = stderr_quote(outcome), cause = "the command " + outcome.how_it_ended();
  for (conformance::CaseVerdict& v : r.cases) {
    if (!outcome.succeeded()) fail_with_cause(v, cause, quote);
    // A missing or unreadable result file of a program that exited 0: its stderr may say why. A
    // case the program reported failed has its own message; the tail would only bury it.
    else if (v.verdict == conformance::Verdict::fail && !v.problem.empty() && !outcome.stderr_tail.empty() &&
             v.problem.find(kReportedPrefix) == std::string::npos)
      v.problem += quote;
  }
  return r;
}

TemporaryDirectory::TemporaryDirectory(const std::string& tag) {
  std::error_code ec;
  const fs::path base = fs::temp_directory_path(ec);
  std::string pattern = ((ec ? fs::path("/tmp") : base) / (tag + "-XXXXXX")).string();
  if (!mkdtemp(pattern.data()))
    throw io::FileError(pattern + ": cannot create a temporary directory: " + std::strerror(errno));
  path_ = pattern;
}

TemporaryDirectory::~TemporaryDirectory() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace path::adapters
