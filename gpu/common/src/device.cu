// Device detection for the GPU tests, tools and the cuda adapter (path/gpu/device.hpp).
#include "path/gpu/device.hpp"

#include <cuda_runtime.h>

#include <cstdio>

namespace path::gpu {

namespace {

// An empty kernel, compiled for the same CMAKE_CUDA_ARCHITECTURES as every GPU library of this
// build (gpu/CMakeLists.txt): if the device cannot load its image, it cannot load theirs either.
// It keeps device detection independent of the oracle and of the kernels under test.
__global__ void probe_kernel() {}

// Whether this build carries a kernel image the current device can run (cudaFuncGetAttributes
// loads the image of the probe); false with the runtime's reason otherwise.
bool kernel_image_loadable(std::string* reason) {
  cudaFuncAttributes attr{};
  const cudaError_t e = cudaFuncGetAttributes(&attr, probe_kernel);
  if (e == cudaSuccess) return true;
  cudaGetLastError();  // clear the (non-sticky) error so later calls start clean
  if (reason)
    *reason = std::string("this build has no kernel image the device can run (cudaFuncGetAttributes: ") +
              cudaGetErrorName(e) + ", " + cudaGetErrorString(e) +
              "); rebuild with -DCMAKE_CUDA_ARCHITECTURES set for this GPU";
  return false;
}

std::string runtime_error_text(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")";
}

}  // namespace

bool device_available(std::string* reason) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();  // leave no error behind for later calls
    if (reason) *reason = "no CUDA device: cudaGetDeviceCount returned " + runtime_error_text(e);
    return false;
  }
  if (count < 1) {
    if (reason) *reason = "no CUDA device: cudaGetDeviceCount found 0 devices";
    return false;
  }
  return kernel_image_loadable(reason);
}

std::string device_description() {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count < 1) {
    cudaGetLastError();
    return e != cudaSuccess ? "no CUDA device (" + runtime_error_text(e) + ")" : "no CUDA device";
  }
  int dev = 0;
  cudaDeviceProp prop{};
  if ((e = cudaGetDevice(&dev)) != cudaSuccess || (e = cudaGetDeviceProperties(&prop, dev)) != cudaSuccess) {
    cudaGetLastError();
    return "CUDA device present, properties unavailable: " + runtime_error_text(e);
  }
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  char line[512];
  std::snprintf(line, sizeof line, "%s, sm_%d%d, %d SMs, %.1f GiB, driver %d.%d, runtime %d.%d", prop.name, prop.major,
                prop.minor, prop.multiProcessorCount, static_cast<double>(prop.totalGlobalMem) / (1 << 30),
                driver / 1000, (driver % 1000) / 10, runtime / 1000, (runtime % 1000) / 10);
  return line;
}

}  // namespace path::gpu
