// The launches of the low-precision decode kernels: the plain ones (decode_kernel.cuh) and the fused
// step (fused_decode_kernel.cuh); dispatch on the input and cache types, every launch checked
// (cudaGetLastError) at once.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "decode_kernel.cuh"
#include "fused_decode_kernel.cuh"
#include "decode_launch.hpp"
#include "host_support.hpp"
#include "path/gpu/cuda_check.hpp"

namespace path::gpu::decode_detail {

namespace {

struct DeviceLauncher {
  cudaStream_t stream;
  template <class Grid, class Kernel, class... Args>
  void operator()(const char* name, Grid g, unsigned threads, std::size_t shared_bytes, Kernel kernel,
                  const Args&... args) const {
    kernel_host::allow_dynamic_shared(kernel, shared_bytes, name);  // the fused step's ring may exceed 48 KiB
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

int device_attribute(cudaDeviceAttr attribute, const char* what) {
  int device = 0, value = 0;
  path::gpu::detail::check_cuda(cudaGetDevice(&device), "cudaGetDevice", __FILE__, __LINE__);
  path::gpu::detail::check_cuda(cudaDeviceGetAttribute(&value, attribute, device), what, __FILE__, __LINE__);
  return value;
}

// Blocks the fused step aims for (splits of the cache fill the rest): 24 per multiprocessor, about
// 8 waves of the 3 blocks that fit one at D = 64, so the last, partial wave costs little.
int fused_target_blocks() {
  static const int target = [] {
    const int sms = device_attribute(cudaDevAttrMultiProcessorCount, "cudaDeviceGetAttribute(MultiProcessorCount)");
    return 24 * (sms > 0 ? sms : 1);
  }();
  return target;
}

// The most dynamic shared memory a block may opt in to on this device.
std::size_t shared_optin_bytes() {
  static const std::size_t bytes = static_cast<std::size_t>(
      device_attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin, "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)"));
  return bytes;
}

// The fused step's plan on this device: plan_fused, and its shared memory within the device's limit.
bool device_plan(const DecodeKernelArgs& a, fused_decode_kernel::FusedPlan& f, std::string* why) {
  if (!fused_decode_kernel::plan_fused(a, fused_target_blocks(), f, why)) return false;
  if (f.shared_bytes > shared_optin_bytes()) {
    if (why)
      *why = "the step needs " + std::to_string(f.shared_bytes) + " bytes of shared memory per block, the device allows " +
             std::to_string(shared_optin_bytes());
    return false;
  }
  return true;
}

}  // namespace

void launch_prefill(const DecodeKernelArgs& a, cudaStream_t stream) { launch(a, true, stream); }
void launch_step(const DecodeKernelArgs& a, cudaStream_t stream) { launch(a, false, stream); }

bool fused_step_plan(const DecodeKernelArgs& a, std::size_t* workspace_floats, std::string* why) {
  fused_decode_kernel::FusedPlan f;
  if (!device_plan(a, f, why)) return false;
  if (workspace_floats) *workspace_floats = fused_decode_kernel::fused_workspace_floats(a, f);
  return true;
}

void launch_fused_step(const DecodeKernelArgs& a, cudaStream_t stream) {
  fused_decode_kernel::FusedPlan f;
  std::string why;
  if (!device_plan(a, f, &why))
    throw std::logic_error("fused decode launch: the step cannot run fused: " + why);
  if (a.partials == nullptr) throw std::logic_error("fused decode launch: no workspace");
  DeviceLauncher l{stream};
  const bool f32_cache = a.cache_type == DType::F32;
  switch (a.in_type) {
    case DType::F32: return fused_decode_kernel::enqueue_fused_step<float, float>(a, f, l);
    case DType::F16:
      return f32_cache ? fused_decode_kernel::enqueue_fused_step<__half, float>(a, f, l)
                       : fused_decode_kernel::enqueue_fused_step<__half, __half>(a, f, l);
    case DType::BF16:
      return f32_cache ? fused_decode_kernel::enqueue_fused_step<__nv_bfloat16, float>(a, f, l)
                       : fused_decode_kernel::enqueue_fused_step<__nv_bfloat16, __nv_bfloat16>(a, f, l);
    default: break;
  }
  throw std::logic_error("fused decode launch: input dtype " + std::string(dtype_label(a.in_type)) +
                         " is not one of bf16, fp16, fp32");
}

}  // namespace path::gpu::decode_detail
