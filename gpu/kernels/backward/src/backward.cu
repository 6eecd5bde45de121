// The launches of the plain low-precision backward (backward_kernel.cuh): dispatch on the input
// type, every launch checked (cudaGetLastError) at once.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "backward_launch.hpp"
#include "backward_kernel.cuh"
#include "path/gpu/cuda_check.hpp"

namespace path::gpu::backward_detail {

namespace {

struct DeviceLauncher {
  cudaStream_t stream;
  template <class Kernel, class... Args>
  void operator()(const char* name, backward_kernel::Grid g, unsigned threads, std::size_t shared_bytes, Kernel kernel,
                  const Args&... args) const {
    kernel<<<dim3(g.x, g.y, g.z), threads, shared_bytes, stream>>>(args...);
    const std::string what = std::string("launch of ") + name + " (cudaGetLastError)";
    path::gpu::detail::check_cuda(cudaGetLastError(), what.c_str(), __FILE__, __LINE__);
  }
};

}  // namespace

void launch_backward(const BackwardKernelArgs& a, cudaStream_t stream) {
  if (a.D < 1 || a.Dv < 1 || a.D > kBackwardMaxHeadDim || a.Dv > kBackwardMaxHeadDim)
    throw std::logic_error("launch_backward: head dimension outside 1.." + std::to_string(kBackwardMaxHeadDim));
  const DeviceLauncher launch{stream};
  switch (a.in_type) {
    case DType::F32: return backward_kernel::enqueue_backward<float>(a, launch);
    case DType::F16: return backward_kernel::enqueue_backward<__half>(a, launch);
    case DType::BF16: return backward_kernel::enqueue_backward<__nv_bfloat16>(a, launch);
    default: break;
  }
  throw std::logic_error("launch_backward: input dtype " + std::string(dtype_label(a.in_type)) +
                         " is not one of bf16, fp16, fp32");
}

}  // namespace path::gpu::backward_detail
