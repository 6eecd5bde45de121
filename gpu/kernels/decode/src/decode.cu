// The launches of the plain low-precision decode kernels (decode_kernel.cuh): dispatch on the input
// type, every launch checked (cudaGetLastError) at once.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "decode_kernel.cuh"
#include "decode_launch.hpp"
#include "path/gpu/cuda_check.hpp"

namespace path::gpu::decode_detail {

namespace {

struct DeviceLauncher {
  cudaStream_t stream;
  template <class Kernel, class... Args>
  void operator()(const char* name, decode_kernel::Grid g, unsigned threads, std::size_t shared_bytes, Kernel kernel,
                  const Args&... args) const {
    kernel<<<dim3(g.x, g.y, g.z), threads, shared_bytes, stream>>>(args...);
    const std::string what = std::string("launch of ") + name + " (cudaGetLastError)";
    path::gpu::detail::check_cuda(cudaGetLastError(), what.c_str(), __FILE__, __LINE__);
  }
};

void launch(const DecodeKernelArgs& a, bool prefill, cudaStream_t stream) {
  if (a.D < 1 || a.Dv < 1 || a.D > kDecodeMaxHeadDim || a.Dv > kDecodeMaxHeadDim)
    throw std::logic_error("decode launch: head dimension outside 1.." + std::to_string(kDecodeMaxHeadDim));
  DeviceLauncher l{stream};
  switch (a.in_type) {
    case DType::F32: return decode_kernel::enqueue_decode<float>(a, prefill, l);
    case DType::F16: return decode_kernel::enqueue_decode<__half>(a, prefill, l);
    case DType::BF16: return decode_kernel::enqueue_decode<__nv_bfloat16>(a, prefill, l);
    default: break;
  }
  throw std::logic_error("decode launch: input dtype " + std::string(dtype_label(a.in_type)) +
                         " is not one of bf16, fp16, fp32");
}

}  // namespace

void launch_prefill(const DecodeKernelArgs& a, cudaStream_t stream) { launch(a, true, stream); }
void launch_step(const DecodeKernelArgs& a, cudaStream_t stream) { launch(a, false, stream); }

}  // namespace path::gpu::decode_detail
