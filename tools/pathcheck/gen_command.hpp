#pragma once
#include <string>
#include <vector>

namespace pathcheck {

// pathcheck gen --suite quick|standard|full --dtype bf16|fp16|fp32 --out DIR
//               [--seed S] [--jobs N] [--c C] [--floor-ulps F] [--only A,B] [--force] [--quiet]
int run_gen(const std::vector<std::string>& args);
extern const char* const gen_usage;

}  // namespace pathcheck
