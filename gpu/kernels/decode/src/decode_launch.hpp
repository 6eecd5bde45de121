#pragma once
// The launch interface of the plain low-precision decode kernels (decode_kernel.cuh, decode.cu),
// free of CUDA device types (only cudaStream_t) so that host code (decode.cpp, and
// tests/test_gpu_kernel_host.cpp through the host shim) can fill it.
//   new tokens:  q [batch, n, HQ, D], k and w [batch, n, H, D], v [batch, n, H, Dv], beta [batch, n, H],
//                g [batch, n, HQ]
//   the cache:   keys [batch, capacity, H, D], values [batch, capacity, H, Dv] (input dtype),
//                gates [batch, capacity, HQ] (fp32), n0 tokens cached before this call
//   outputs:     o [batch, n, HQ, Dv] (input dtype), lse [batch, n, HQ] (fp32)
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "path/core/dtype.hpp"

namespace path::gpu::decode_detail {

struct DecodeKernelArgs {
  DType in_type = DType::BF16;
  DType cache_type = DType::BF16;  // keys and values of the cache: in_type, or F32 (fused step only)
  std::int64_t batch = 1, n0 = 0, n = 1, capacity = 1;
  std::int64_t HQ = 1, H = 1, D = 1, Dv = 1;
  float scale = 1.0f;
  bool gate_fla = false;
  const void* q = nullptr;  // step only
  const void* k = nullptr;
  const void* v = nullptr;
  const float* w = nullptr;
  const float* beta = nullptr;
  const float* g = nullptr;  // nullptr: ungated cache
  void* cache_k = nullptr;
  void* cache_v = nullptr;
  float* cache_G = nullptr;  // gated only
  void* o = nullptr;         // step only
  float* lse = nullptr;      // step only
  float* partials = nullptr; // fused step only: the per-split softmax partials (fused_step_workspace)
};

inline constexpr std::int64_t kDecodeMaxHeadDim = 128;

// Prefill-to-cache of the n tokens into an empty cache (n0 = 0), on `stream`.
void launch_prefill(const DecodeKernelArgs& a, cudaStream_t stream);
// One decode step of n tokens against the n0 cached ones: attend, then update the cache in place.
void launch_step(const DecodeKernelArgs& a, cudaStream_t stream);

// The fused step (fused_decode_kernel.cuh, issue 17): whether it can run this step, and the
// workspace (floats) it then needs in a.partials; `why` (may be null) says why not. No launch; the
// split count depends on the current device's multiprocessor count (queried once).
bool fused_step_plan(const DecodeKernelArgs& a, std::size_t* workspace_floats, std::string* why);
// One fused decode step: appends, the fused pass over the cache (transform, score, write back),
// the combine of the splits. a.partials must hold the planned workspace.
void launch_fused_step(const DecodeKernelArgs& a, cudaStream_t stream);

}  // namespace path::gpu::decode_detail
