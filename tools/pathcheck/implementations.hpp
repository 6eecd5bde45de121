#pragma once
// The implementations pathcheck can run by name, registered explicitly (docs/architecture.md):
// the CPU oracles always, our CUDA kernels when this build has them (a GPU is needed to run them).
#include <optional>
#include <string>

#include "path/conformance/registry.hpp"
#include "path/conformance/selection.hpp"

namespace pathcheck {

const path::conformance::Registry& implementations();

// Why the implementation cannot run on this machine at all ("" when it can): our CUDA kernels
// without a usable GPU, or in a build without them.
std::string unavailable_reason(const std::string& name);

// What the implementation computes, when that is not every output (pathcheck check judges it on
// these and reports the rest as not judged): o and lse for the CUDA forward kernels, whose backward
// and decode kernels do not exist yet.
path::conformance::OutputSelection claimed_outputs(const std::string& name);

}  // namespace pathcheck
