// Device detection for the GPU tests and tools (path/gpu/device.hpp).
#include "path/gpu/device.hpp"

#include <cuda_runtime_api.h>

#include <cstdio>

#include "sweep.hpp"

namespace path::gpu {

namespace {

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
  return detail::kernel_image_loadable(reason);
}

std::string device_description() {
  std::string why;
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
