#pragma once
// What the device APIs of the kernels under test (path/gpu/forward.hpp, backward.hpp, decode.hpp)
// take: views of device buffers whose element count and dtype the caller declares, checked against
// the shape before anything is launched (a wrong size or dtype is path::InvalidProblem naming the
// tensor, never a launch on bad memory), and the head dimensions the kernels are built for.
// No CUDA header: host C++ code (the cuda adapter, tests) includes this.
#include <cstddef>

#include "path/core/dtype.hpp"
#include "path/problem.hpp"

struct CUstream_st;  // cudaStream_t without the CUDA headers

namespace path::gpu {

// A view of a device buffer: its element count and type (path::DType, the project's one dtype
// enum). The pointer must be aligned to its dtype's size (checked: a misaligned view is rejected).
struct DeviceTensor {
  const void* data = nullptr;
  std::size_t numel = 0;
  DType dtype = DType::F32;
};
struct DeviceOutput {
  void* data = nullptr;
  std::size_t numel = 0;
  DType dtype = DType::F32;
};

// Head dimensions the low-precision kernels accept (D and Dv alike), forward, backward and decode.
inline constexpr index_t kSupportedHeadDims[] = {16, 32, 64, 128};

}  // namespace path::gpu
