#pragma once
// The pathcheck subcommands' command lines, parsed by CLI11: each command declares its options
// with a value name and a line of help (CommandLine), so `pathcheck CMD --help` lists them, and
// reads the parsed values through Arguments. Unknown options, missing values and options given
// twice are usage errors (exit 2), never silently ignored.
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace pathcheck {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `--help` was given: the command's help text, to print on stdout with exit status 0.
class HelpRequested : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The values of one parsed command line.
class Arguments {
 public:
  Arguments() = default;
  // Parses with options that have no help text (for commands that declare no CommandLine).
  // value_options take one value each; flags take none.
  Arguments(const std::vector<std::string>& args, const std::set<std::string>& value_options,
            const std::set<std::string>& flags);

  bool has(const std::string& name) const { return values_.count(name) != 0 || flags_.count(name) != 0; }
  std::string required(const std::string& name) const;
  std::string value_or(const std::string& name, const std::string& fallback) const;
  long long integer_or(const std::string& name, long long fallback) const;
  double positive_or(const std::string& name, double fallback) const;  // a finite number > 0
  // The arguments that are not options, in order (commands that declare positionals).
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  friend class CommandLine;
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positionals_;
};

// One command's options and help.
class CommandLine {
 public:
  // synopsis: "pathcheck eval --in CASE --out RESULT [options]"; description: what it does, in
  // a few lines (shown by --help above the option list).
  CommandLine(std::string synopsis, std::string description);
  // An option that takes one value (`--name VALUE`).
  CommandLine& option(const std::string& name, const std::string& value_name, const std::string& help);
  // An option without a value (`--name`).
  CommandLine& flag(const std::string& name, const std::string& help);
  // Any number of arguments that are not options (`merge A.json B.json`).
  CommandLine& positionals(const std::string& value_name, const std::string& help);
  // Notes shown after the option list (see also, exit status).
  CommandLine& footer(const std::string& text);

  // Throws UsageError for a bad command line and HelpRequested for --help / -h.
  Arguments parse(const std::vector<std::string>& args) const;
  std::string help() const;

 private:
  struct Spec {
    std::string name, value_name, help;
    bool takes_value;
  };
  void declare(CLI::App& app, std::map<std::string, std::string>& values, std::vector<std::string>& positionals,
               std::map<std::string, CLI::Option*>& options) const;
  std::string synopsis_, description_, footer_;
  std::vector<Spec> specs_;
  std::optional<Spec> positionals_;
};

// The version of this build (the project version in CMakeLists.txt).
const char* version();

}  // namespace pathcheck
