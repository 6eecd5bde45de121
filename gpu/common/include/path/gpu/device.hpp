#pragma once
// Is there a CUDA device this build can run on? GPU tests call this first and skip with the
// reason when the answer is no (CI and most development machines have no GPU: docs/gpu.md).
#include <string>

namespace path::gpu {

// True when the CUDA runtime sees at least one device and this build carries a kernel image that
// device can load. Otherwise false, and *reason (when non-null) says why, in one line, e.g.
// "no CUDA device: cudaGetDeviceCount returned cudaErrorNoDevice (no CUDA-capable device is detected)".
bool device_available(std::string* reason = nullptr);

// One line about the current device ("NVIDIA H100 80GB HBM3, sm_90, 132 SMs, 79.1 GiB, driver 13.0,
// runtime 13.0"), or why there is none.
std::string device_description();

}  // namespace path::gpu
