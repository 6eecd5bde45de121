#pragma once
#include <string>
#include <vector>

#include "arguments.hpp"

namespace pathcheck {

// pathcheck eval --in CASE --out RESULT [--oracle naive|ut|blockwise] [--block N]
//                [--precision double|quad|mp100] [--decode [--prefill N]] [--force] (--help)
CommandLine eval_command_line();
int run_eval(const std::vector<std::string>& args);

}  // namespace pathcheck
