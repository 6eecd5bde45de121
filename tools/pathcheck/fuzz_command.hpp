#pragma once
#include <string>
#include <vector>

namespace pathcheck {

// pathcheck fuzz --impl NAME | --impl-cmd 'CMD {suite} {results}' [--seconds N] [--dtype D] [--outputs LIST]
//                [--seed S] [--out DIR] [--shard K/N] ... (--help). The campaign itself is
// path::properties::run_campaign (properties/); this file only reads the command line.
int run_fuzz(const std::vector<std::string>& args);

}  // namespace pathcheck
