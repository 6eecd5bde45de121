#pragma once
// Runs CUDA kernel source on the CPU, for tests on machines without a GPU
// (tests/test_gpu_kernel_host.cpp runs the fp64 oracle's kernels, gpu/oracle/src/*.cuh, and the
// low-precision forward, backward and decode kernels, gpu/kernels/*/src/*.cuh, through it): one
// std::thread per CUDA thread, blocks one after another. atomicAdd is a C++20 atomic_ref
// fetch_add, so the shared- and global-memory atomics of the backward kernels are real atomics here.
// __syncthreads is a block-wide std::barrier, __syncwarp a warp-wide one, and __shfl_xor_sync an
// exchange through per-warp slots between two warp barriers' worth of ordering. Global and shared
// memory are ordinary host memory; shared memory starts filled with 0xFF bytes (NaN), so a read of
// an element no thread wrote shows up in the results.
//
// What this proves: the kernel's index arithmetic, tiling, masking, barrier placement (a missing
// __syncthreads between writing and reading a tile changes results here only by chance, so races
// are compute-sanitizer's job on the GPU) and its numerics, with the real source. What it does not:
// anything about the GPU itself (code generation, the memory model, performance).
//
// Include this header before any kernel source (and before path/gpu/kernel_support.cuh), in a
// translation unit compiled by the host compiler.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <math.h>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#ifdef __CUDACC__
#error "host_shim.hpp is for host compilers; nvcc builds the real kernels"
#endif

namespace path::gpu::host_shim {

struct Dim {
  unsigned x = 1, y = 1, z = 1;
};

struct BlockContext {
  std::barrier<>* block = nullptr;
  std::vector<std::unique_ptr<std::barrier<>>>* warps = nullptr;
  std::vector<std::uint64_t>* exchange = nullptr;  // [2][threads]: double-buffered shuffle slots
  unsigned char* shared = nullptr;
  unsigned threads = 0;
};

inline thread_local Dim tl_thread_idx, tl_block_idx, tl_block_dim, tl_grid_dim;
inline thread_local BlockContext* tl_ctx = nullptr;
inline thread_local unsigned tl_shuffle_parity = 0;

inline std::barrier<>& warp_barrier() { return *(*tl_ctx->warps)[tl_thread_idx.x / 32]; }

// Runs kernel(args...) over the grid, one block at a time, `threads` host threads per block.
template <class Kernel, class... Args>
void launch(Dim grid, unsigned threads, std::size_t shared_bytes, Kernel kernel, const Args&... args) {
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        std::vector<unsigned char> shared(shared_bytes + 16, 0xFF);
        std::barrier<> block(threads);
        std::vector<std::unique_ptr<std::barrier<>>> warps;
        for (unsigned w = 0; w < (threads + 31) / 32; ++w)
          warps.push_back(std::make_unique<std::barrier<>>(std::min(32u, threads - 32 * w)));
        std::vector<std::uint64_t> exchange(2 * threads);
        BlockContext ctx{&block, &warps, &exchange, shared.data(), threads};
        std::vector<std::jthread> pool;
        pool.reserve(threads);
        for (unsigned t = 0; t < threads; ++t)
          pool.emplace_back([&, t] {
            tl_thread_idx = {t, 0, 0};
            tl_block_idx = {x, y, z};
            tl_block_dim = {threads, 1, 1};
            tl_grid_dim = grid;
            tl_ctx = &ctx;
            tl_shuffle_parity = 0;
            kernel(args...);
          });
      }  // the jthreads join here
}

}  // namespace path::gpu::host_shim

#define threadIdx ::path::gpu::host_shim::tl_thread_idx
#define blockIdx ::path::gpu::host_shim::tl_block_idx
#define blockDim ::path::gpu::host_shim::tl_block_dim
#define gridDim ::path::gpu::host_shim::tl_grid_dim
#define __launch_bounds__(...)
#define PATH_DYNAMIC_SHARED(name) unsigned char* name = ::path::gpu::host_shim::tl_ctx->shared

inline void __syncthreads() { ::path::gpu::host_shim::tl_ctx->block->arrive_and_wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) { ::path::gpu::host_shim::warp_barrier().arrive_and_wait(); }

// Every lane of the warp calls this together (the kernels keep warps converged). Slots alternate
// between two buffers, so one barrier per shuffle suffices: a lane can write a buffer again only
// after every lane passed the barrier of the shuffle in between, hence finished reading it.
template <class T>
T __shfl_xor_sync(unsigned, T v, int lane_mask) {
  using namespace ::path::gpu::host_shim;
  static_assert(sizeof(T) <= sizeof(std::uint64_t));
  std::uint64_t* slots = tl_ctx->exchange->data() + tl_shuffle_parity * tl_ctx->threads;
  tl_shuffle_parity ^= 1u;
  const unsigned me = tl_thread_idx.x, other = me ^ static_cast<unsigned>(lane_mask);
  std::memcpy(&slots[me], &v, sizeof(T));
  warp_barrier().arrive_and_wait();
  T r;
  std::memcpy(&r, &slots[other], sizeof(T));
  return r;
}

// atomicAdd on global or shared memory (both are host memory here): a real atomic read-modify-write,
// since the threads of a block run concurrently (C++20 atomic_ref; float and double included).
template <class T>
T atomicAdd(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_add(value);
}

inline std::int64_t min(std::int64_t a, std::int64_t b) { return a < b ? a : b; }
inline std::int64_t max(std::int64_t a, std::int64_t b) { return a > b ? a : b; }
