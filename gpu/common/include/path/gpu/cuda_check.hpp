#pragma once
// Every CUDA runtime call in gpu/ goes through PATH_CUDA_CHECK, and every kernel launch is followed
// by PATH_CUDA_CHECK_LAUNCH: a failure throws path::gpu::CudaError naming the call (or kernel),
// the file and the line, and the runtime's error name and text.
#include <cuda_runtime_api.h>

#include <string>

#include "path/gpu/error.hpp"

namespace path::gpu::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  throw CudaError(std::string("CUDA call '") + call + "' failed at " + file + ":" + std::to_string(line) + ": " +
                      cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")",
                  static_cast<int>(e));
}

inline void check_cuda(cudaError_t e, const char* call, const char* file, int line) {
  if (e != cudaSuccess) throw_cuda_error(e, call, file, line);
}

}  // namespace path::gpu::detail

#define PATH_CUDA_CHECK(call) ::path::gpu::detail::check_cuda((call), #call, __FILE__, __LINE__)
// After a launch: cudaGetLastError reports a bad configuration or a missing kernel image at once.
#define PATH_CUDA_CHECK_LAUNCH(kernel_name) \
  ::path::gpu::detail::check_cuda(cudaGetLastError(), "launch of " kernel_name " (cudaGetLastError)", __FILE__, __LINE__)
