#pragma once
// Small pieces of device code that the GPU oracle (gpu/oracle) and the kernels under test
// (gpu/kernels) both use, none of them numerical: loop unrolling, the dynamic shared-memory
// declaration, sequence addressing (varlen or batch rows) and butterfly reductions across the
// lanes that carry one query. Each kernel's arithmetic stays in its own source (docs/design.md
// section 3: the oracle and the kernels never share a kernel template).
//
// Compiled by nvcc for the GPU, and by the host compiler for tests/test_gpu_kernel_host.cpp,
// which runs kernel source on the CPU through path/gpu/host_shim.hpp (include that first).
#include <cuda_runtime_api.h>  // __host__, __device__, __forceinline__ for the host compiler too

#include <cmath>
#include <cstdint>

// Loop unrolling for nvcc; nothing for the host compiler (the host shim's tests).
#ifdef __CUDACC__
#define PATH_UNROLL _Pragma("unroll")
#else
#define PATH_UNROLL
#endif

// Dynamic shared memory: the CUDA declaration, or the host shim's per-block buffer.
#ifndef PATH_DYNAMIC_SHARED
#define PATH_DYNAMIC_SHARED(name) extern __shared__ __align__(16) unsigned char name[]
#endif

namespace path::gpu::kernel_support {
// Internal linkage: each including translation unit (a CUDA one, the host-shim test) owns its copy,
// so nvcc's host stubs and the shim's host bodies never meet at link time.
namespace {

using i64 = std::int64_t;

__host__ __device__ constexpr int round_up(int n, int m) { return (n + m - 1) / m * m; }

// One sequence of the problem: batch row `batch`, positions [begin, begin + length) along T.
struct SequenceOf {
  i64 batch, begin, length;
};
// Sequence `seq`: a varlen segment of cu_seqlens (device memory, FlashAttention's convention, B = 1)
// or batch row `seq` of length T when cu_seqlens is null.
__device__ __forceinline__ SequenceOf sequence_of(const i64* cu_seqlens, i64 seq, i64 T) {
  if (cu_seqlens) return {0, cu_seqlens[seq], cu_seqlens[seq + 1] - cu_seqlens[seq]};
  return {seq, 0, T};
}

// Butterfly reductions over the Lanes consecutive lanes that carry one query (Lanes divides 32;
// every lane of the warp must call them together). Every lane ends with the same bits: each step
// adds the same two values, in either order, and IEEE addition commutes.
template <int Lanes, class T>
__device__ __forceinline__ T lane_group_sum(T v) {
  static_assert(Lanes >= 1 && 32 % Lanes == 0, "a lane group must not straddle warps");
  PATH_UNROLL
  for (int off = Lanes / 2; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}
template <int Lanes, class T>
__device__ __forceinline__ T lane_group_max(T v) {
  static_assert(Lanes >= 1 && 32 % Lanes == 0, "a lane group must not straddle warps");
  PATH_UNROLL
  for (int off = Lanes / 2; off > 0; off /= 2) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

}  // namespace
}  // namespace path::gpu::kernel_support
