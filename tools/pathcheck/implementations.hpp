#pragma once
// The implementations pathcheck can run by name, registered explicitly (docs/architecture.md):
// the CPU oracles always, our CUDA kernels when this build has them (a GPU is needed to run them).
#include "path/conformance/registry.hpp"

namespace pathcheck {

const path::conformance::Registry& implementations();

}  // namespace pathcheck
