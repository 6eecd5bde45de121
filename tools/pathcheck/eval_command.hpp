#pragma once
#include <string>
#include <vector>

namespace pathcheck {

// pathcheck eval --in CASE --out RESULT [--oracle naive|ut|blockwise] [--block N]
//                [--precision double|quad|mp100] [--force]
int run_eval(const std::vector<std::string>& args);
extern const char* const eval_usage;

}  // namespace pathcheck
