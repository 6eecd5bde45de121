#pragma once
// Asynchronous global-to-shared copies (sm_80+ cp.async), for kernels that keep several tiles of a
// stream in flight without holding them in registers. On the host compiler (the host shim's tests,
// path/gpu/host_shim.hpp) a copy happens at once and commit/wait do nothing: the shim runs one
// thread at a time, so a thread that reads only what it copied itself (the way these are used) sees
// the same bytes either way.
//
// The PTX semantics relied on (PTX ISA, "cp.async"): the copies a thread issued before
// cp.async.commit_group form one group; cp.async.wait_group N returns when at most N of the
// thread's groups are still pending, and the completed copies are then visible to that thread
// (other threads need a barrier as well).
#include <cuda_runtime_api.h>

#include <cstring>

#include "path/gpu/kernel_support.cuh"  // PATH_UNROLL

namespace path::gpu::async_copy {
namespace {

// Copies Bytes (4, 8 or 16; dst and src aligned to Bytes) from global src to shared dst.
// 16-byte copies bypass L1 (.cg: the stream is read once); smaller ones may not (.ca).
template <int Bytes>
__device__ __forceinline__ void copy(void* dst, const void* src) {
  static_assert(Bytes == 4 || Bytes == 8 || Bytes == 16, "cp.async copies 4, 8 or 16 bytes");
#ifdef __CUDA_ARCH__
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  if constexpr (Bytes == 16)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(src) : "memory");
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2;\n" ::"r"(s), "l"(src), "n"(Bytes) : "memory");
#else
  std::memcpy(dst, src, Bytes);
#endif
}

// Copies Bytes (a multiple of the chunk, 4..16 at a time) from src to dst, both aligned to
// min(Bytes, 16).
template <int Bytes>
__device__ __forceinline__ void copy_row(void* dst, const void* src) {
  constexpr int chunk = Bytes >= 16 ? 16 : Bytes;
  static_assert(Bytes % chunk == 0, "a row is whole chunks");
  PATH_UNROLL
  for (int i = 0; i < Bytes / chunk; ++i)
    copy<chunk>(static_cast<unsigned char*>(dst) + i * chunk, static_cast<const unsigned char*>(src) + i * chunk);
}

// Closes the group of copies this thread issued since the last commit (an empty group is fine).
__device__ __forceinline__ void commit() {
#ifdef __CUDA_ARCH__
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Waits until at most Pending of this thread's committed groups are incomplete.
template <int Pending>
__device__ __forceinline__ void wait() {
#ifdef __CUDA_ARCH__
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending) : "memory");
#endif
}

}  // namespace
}  // namespace path::gpu::async_copy
