#pragma once
#include <string>
#include <vector>

namespace pathcheck {

// pathcheck validate --suite DIR --results DIR [--report-json F] [--junit F] [--c C] [--quiet]
int run_validate(const std::vector<std::string>& args);
extern const char* const validate_usage;

}  // namespace pathcheck
