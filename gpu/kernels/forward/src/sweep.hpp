#pragma once
// The launch interface of the plain low-precision forward kernels (sweep_kernel.cuh, sweep.cu),
// free of CUDA device types so that host C++ (g++) code can call it. Layout is
// flash-linear-attention's:
//   q [B, T, HQ, D], k and w [B, T, H, D], v [B, T, H, Dv], beta [B, T, H], g and G [B, T, HQ],
//   o [B, T, HQ, Dv], lse [B, T, HQ]; varlen packs sequences along T with B = 1 (cu_seqlens).
// Types: q, k, v, o in the input dtype (bf16, fp16 or fp32); w, beta, G, lse fp32; arithmetic in
// fp32 (docs/design.md section 3). There is no fp64 instantiation: the fp64 GPU oracle is gpu/oracle's
// own code.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "path/core/dtype.hpp"

namespace path::gpu::forward_detail {

struct SweepArgs {
  DType in_type = DType::BF16;        // q, k, v, o: BF16, F16 or F32
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const float* w = nullptr;
  const float* beta = nullptr;
  const float* G = nullptr;           // cumulative gate G_i (launch_gate_scan); nullptr: no gate
  const std::int64_t* cu_seqlens = nullptr;  // device, num_seqs + 1 entries; nullptr: B sequences of T
  std::int64_t num_seqs = 1;
  std::int64_t max_seq_len = 1;       // longest sequence (sizes the grid)
  std::int64_t B = 1, T = 1, HQ = 1, H = 1, D = 1, Dv = 1;
  float scale = 1.0f;
  bool gate_fla = false;              // fla: scale * (r + G_i - G_j); paper: scale * r + G_i - G_j
  void* o = nullptr;
  float* lse = nullptr;
};

// Largest head dimension (of D and Dv) the sweep is instantiated for (the supported set is
// path::gpu::kSupportedHeadDims, path/gpu/forward.hpp).
inline constexpr std::int64_t kSweepMaxHeadDim = 128;

// G_i = g_begin + ... + g_i per (sequence, query head), summed in order in fp32 (the order the CPU
// oracles use). g and G are [B, T, HQ].
void launch_gate_scan(const float* g, float* G, const std::int64_t* cu_seqlens, std::int64_t num_seqs, std::int64_t T,
                      std::int64_t HQ, cudaStream_t stream);

// The forward sweep: one block per (sequence, query head, tile of queries). Checks the launch.
void launch_sweep(const SweepArgs& a, cudaStream_t stream);

// The launch configuration launch_sweep uses (for documentation and tests).
struct SweepConfig {
  int lanes_per_query = 0, queries_per_block = 0, per_lane_elements = 0, key_tile = 0;
  std::size_t shared_bytes = 0;
};
SweepConfig sweep_config(const SweepArgs& a);

}  // namespace path::gpu::forward_detail
