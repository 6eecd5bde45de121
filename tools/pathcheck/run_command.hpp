#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "arguments.hpp"

namespace pathcheck {

// A run this machine cannot do (an implementation whose device is absent): exit 1, with the reason.
class RunError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// pathcheck run --impl NAME [--suite DIR | --builtin quick|standard|full [--dtype D] [--seed S]] [options]
// pathcheck run --impl-cmd 'CMD {suite} {results}' --suite DIR [options]            (--help)
CommandLine run_command_line();
int run_run(const std::vector<std::string>& args);

}  // namespace pathcheck
