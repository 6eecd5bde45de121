#pragma once
// Running the pathcheck binary from tests: exit code and combined output.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "path/adapters/external_command.hpp"

namespace path::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

inline std::string pathcheck_binary() {
  const char* bin = std::getenv("PATHCHECK_BIN");
  return bin ? bin : "";
}

// A path or argument as one word of a shell command line: the command adapter's own quoting (every
// test that includes this header links it, path_add_test).
inline std::string q(const std::string& s) { return adapters::shell_quote(s); }

inline CommandResult run_pathcheck(const std::string& args) {
  const std::string command = "'" + pathcheck_binary() + "' " + args + " 2>&1";
  CommandResult r;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return r;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe)) r.output += buffer;
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A fresh directory under the system temp dir, removed when the object goes.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ = std::filesystem::temp_directory_path() /
            ("pathcheck-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string read_text(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace path::testing
