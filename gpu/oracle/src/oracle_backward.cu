// The launches of the fp64 GPU oracle's backward and key-cache kernels (oracle_backward_kernel.cuh).
#include <cuda_runtime.h>

#include <string>

#include "oracle_backward_kernel.cuh"
#include "oracle_backward_launch.hpp"
#include "path/gpu/cuda_check.hpp"

namespace path::gpu::oracle_detail {

namespace {

struct DeviceLauncher {
  cudaStream_t stream;
  template <class Kernel, class... Args>
  void operator()(const char* name, oracle_backward_kernel::Grid g, unsigned threads, std::size_t shared_bytes,
                  Kernel kernel, const Args&... args) const {
    kernel<<<dim3(g.x, g.y, g.z), threads, shared_bytes, stream>>>(args...);
    const std::string what = std::string("launch of ") + name + " (cudaGetLastError)";
    path::gpu::detail::check_cuda(cudaGetLastError(), what.c_str(), __FILE__, __LINE__);
  }
};

}  // namespace

void launch_oracle_backward(const OracleBackwardArgs& a, cudaStream_t stream) {
  DeviceLauncher l{stream};
  oracle_backward_kernel::enqueue_oracle_backward(a, l);
}

void launch_oracle_zero(double* p, std::int64_t n, cudaStream_t stream) {
  DeviceLauncher l{stream};
  oracle_backward_kernel::enqueue_oracle_zero(p, n, l);
}

void launch_oracle_key_cache(const OracleKeyCacheArgs& a, cudaStream_t stream) {
  DeviceLauncher l{stream};
  oracle_backward_kernel::enqueue_oracle_key_cache(a, l);
}

}  // namespace path::gpu::oracle_detail
