#pragma once
// The tensor-core forward (docs/gpu-fast-forward.md): docs/algorithms.md section 4's blockwise
// algorithm with mma.sync.m16n8k16 for the across-block GEMMs. Launch interface, free of CUDA
// device types. Layout as sweep.hpp (flash-linear-attention's).
#include <cuda_runtime_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "path/core/dtype.hpp"

namespace path::gpu::tc_forward {

inline constexpr int kBlock = 64;  // Bk: tokens per block = queries per CTA

// One block of one sequence: token rows [row0, row0 + len) (row = batch * T + position), `first`
// the global index of its sequence's first block (blocks are numbered sequence after sequence).
struct TcBlock {
  std::int64_t row0 = 0;
  std::int32_t len = 0;
  std::int32_t first = 0;
};

struct TcArgs {
  DType in_type = DType::BF16;  // BF16 or F16
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const float* w = nullptr;
  const float* beta = nullptr;
  const float* G = nullptr;  // cumulative gate; nullptr: none
  std::int64_t T = 1, HQ = 1, H = 1, D = 64;  // D == Dv
  float scale = 1.0f;
  bool gate_fla = false;
  void* o = nullptr;
  float* lse = nullptr;
  std::vector<TcBlock> blocks;  // host copy, built by make_blocks
  int split_terms = 3;          // bf16 terms per fp32 operand of the across-block GEMMs (1, 2 or 3)
  // Split K~, W' and W into bf16 planes once (split_planes_kernel) instead of in every warp of the
  // main kernel: the same result bit for bit, 20-33% faster on the H200 (the dispatcher's default;
  // PATH_GPU_FORWARD_TC_PRESPLIT=0 turns it off; docs/gpu-fast-forward.md).
  bool presplit = true;
};

// Why the tensor-core kernel cannot run (in_type, D, Dv) on the current device; empty: it can.
// Makes CUDA queries (the device's compute capability, the kernel image), no launch.
std::string cannot_run_reason(DType in_type, std::int64_t D, std::int64_t Dv);

// The blocks of sequences given as (batch, begin, length) triples in token rows of T.
inline std::vector<TcBlock> make_blocks(const std::vector<std::int64_t>& batch, const std::vector<std::int64_t>& begin,
                                        const std::vector<std::int64_t>& length, std::int64_t T) {
  std::vector<TcBlock> out;
  for (std::size_t s = 0; s < length.size(); ++s) {
    const auto first = static_cast<std::int32_t>(out.size());
    for (std::int64_t p = 0; p < length[s]; p += kBlock) {
      TcBlock b;
      b.row0 = batch[s] * T + begin[s] + p;
      b.len = static_cast<std::int32_t>(length[s] - p < kBlock ? length[s] - p : kBlock);
      b.first = first;
      out.push_back(b);
    }
    if (out.size() > static_cast<std::size_t>(INT32_MAX)) throw std::length_error("tc_forward: too many blocks");
  }
  return out;
}

// Bytes of device scratch launch() allocates for `a` (its blocks, head counts, D and presplit):
// K~, W'^T, Q~ and the diagonal logits in fp32 and, with presplit, the bf16 planes
// (docs/gpu-fast-forward.md, "Scratch"). No CUDA call.
std::size_t scratch_bytes(const TcArgs& a);

// Enqueues the preprocessing and main kernels on `stream` (scratch from the stream-ordered
// allocator, freed on return, stream-ordered). Checks every launch.
void launch(const TcArgs& a, cudaStream_t stream);

}  // namespace path::gpu::tc_forward
