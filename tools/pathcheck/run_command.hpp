#pragma once
#include <string>
#include <vector>

namespace pathcheck {

// pathcheck run --impl NAME [--suite DIR | --builtin quick|standard|full [--dtype D] [--seed S]]
//               [--only A,B] [--results DIR] [--report-json F] [--junit F] [--c C] [--jobs N] [--quiet] [--list]
int run_run(const std::vector<std::string>& args);
extern const char* const run_usage;

}  // namespace pathcheck
