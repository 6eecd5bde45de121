#pragma once
#include <string>
#include <vector>

#include "arguments.hpp"

namespace pathcheck {

// pathcheck refresh --suite SRC --out DIR [--force] [--quiet]: the cases of SRC with their
// tolerances re-derived under this pathcheck's tolerance model and baseline family.
CommandLine refresh_command_line();
int run_refresh(const std::vector<std::string>& args);

}  // namespace pathcheck
