#pragma once
#include <string>
#include <vector>

#include "arguments.hpp"

namespace pathcheck {

// pathcheck merge REPORT.json... --report-json OUT [--junit OUT] [--force] (--help)
CommandLine merge_command_line();
int run_merge(const std::vector<std::string>& args);

}  // namespace pathcheck
