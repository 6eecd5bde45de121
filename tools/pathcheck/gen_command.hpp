#pragma once
#include <string>
#include <vector>

#include "arguments.hpp"

namespace pathcheck {

// pathcheck gen --suite quick|standard|full --dtype bf16|fp16|fp32 --out DIR [options] (--help)
CommandLine gen_command_line();
int run_gen(const std::vector<std::string>& args);

}  // namespace pathcheck
