#pragma once
// The one rule for GPU tests (docs/gpu.md, "Tests"): without a usable device they skip with the
// reason; with PATH_GPU_REQUIRE_DEVICE=1 (what scripts/gpu-check.sh sets on the lent machine) a
// missing device is a failure, so a GPU run can never pass by skipping.
#include <cstdlib>
#include <iostream>
#include <string>

#include <gtest/gtest.h>

#include "path/gpu/device.hpp"

namespace path::testing {

inline bool gpu_required() {
  const char* env = std::getenv("PATH_GPU_REQUIRE_DEVICE");
  return env && std::string(env) == "1";
}

// Checked once per process: the reason a device test cannot run here, or "" when it can.
inline const std::string& no_gpu_reason() {
  static const std::string reason = [] {
    std::string why;
    if (gpu::device_available(&why)) {
      std::cerr << "[gpu tests] device: " << gpu::device_description() << "\n";
      return std::string();
    }
    return why.empty() ? std::string("no usable CUDA device") : why;
  }();
  return reason;
}

}  // namespace path::testing

#define PATH_REQUIRE_GPU()                                                                                  \
  do {                                                                                                      \
    if (!::path::testing::no_gpu_reason().empty()) {                                                        \
      if (::path::testing::gpu_required())                                                                  \
        FAIL() << ::path::testing::no_gpu_reason() << " (and PATH_GPU_REQUIRE_DEVICE=1)";                   \
      GTEST_SKIP() << ::path::testing::no_gpu_reason()                                                      \
                   << "; GPU tests run on the lent GPU machine: scripts/gpu-check.sh, docs/gpu.md";         \
    }                                                                                                       \
  } while (0)
