#pragma once
#include <string>
#include <vector>

#include "arguments.hpp"

namespace pathcheck {

// pathcheck check [--dtype D] [--seed S] [--outputs LIST] [--report-json F] [--junit F] ... (--help):
// the built-in quick suite, in memory, on every implementation this machine has; a verdict table.
CommandLine check_command_line();
int run_check(const std::vector<std::string>& args);

}  // namespace pathcheck
