#pragma once
#include <stdexcept>
#include <string>
#include <vector>

namespace pathcheck {

// A run this machine cannot do (an implementation whose device is absent): exit 1, with the reason.
class RunError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// pathcheck run --impl NAME [--suite DIR | --builtin quick|standard|full [--dtype D] [--seed S]]
//               [--only A,B] [--results DIR] [--report-json F] [--junit F] [--c C] [--jobs N] [--quiet] [--list]
// pathcheck run --impl-cmd 'CMD {suite} {results}' --suite DIR [--timeout S] [--results DIR] [--report-json F]
//               [--junit F] [--c C] [--quiet]
int run_run(const std::vector<std::string>& args);
extern const char* const run_usage;

}  // namespace pathcheck
