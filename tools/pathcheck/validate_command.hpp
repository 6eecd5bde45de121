#pragma once
#include <string>
#include <vector>

#include "arguments.hpp"

namespace pathcheck {

// pathcheck validate --suite DIR --results DIR [options] (--help)
CommandLine validate_command_line();
int run_validate(const std::vector<std::string>& args);

}  // namespace pathcheck
