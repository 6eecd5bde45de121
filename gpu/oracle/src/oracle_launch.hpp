#pragma once
// The launch interface of the fp64 GPU oracle's kernels (oracle_kernel.cuh, oracle_launch.cu), free
// of CUDA device types so that host C++ (g++) code can call it. Everything is double: inputs,
// arithmetic and outputs. Layout is flash-linear-attention's:
//   q [B, T, HQ, D], k and w [B, T, H, D], v [B, T, H, Dv], beta [B, T, H], g and G [B, T, HQ],
//   o [B, T, HQ, Dv], lse [B, T, HQ]; varlen packs sequences along T with B = 1 (cu_seqlens).
// This is the yardstick's own code: nothing here is shared with the kernels under test
// (gpu/kernels), docs/design.md section 3.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace path::gpu::oracle_detail {

struct OracleSweepArgs {
  const double* q = nullptr;
  const double* k = nullptr;
  const double* v = nullptr;
  const double* w = nullptr;
  const double* beta = nullptr;
  const double* G = nullptr;                 // cumulative gate G_i (launch_oracle_gate_scan); nullptr: no gate
  const std::int64_t* cu_seqlens = nullptr;  // device, num_seqs + 1 entries; nullptr: B sequences of T
  std::int64_t num_seqs = 1;
  std::int64_t max_seq_len = 1;              // longest sequence (sizes the grid)
  std::int64_t B = 1, T = 1, HQ = 1, H = 1, D = 1, Dv = 1;
  double scale = 1.0;
  bool gate_fla = false;                     // fla: scale * (r + G_i - G_j); paper: scale * r + G_i - G_j
  double* o = nullptr;
  double* lse = nullptr;
};

// Largest head dimension (of D and Dv) the oracle's sweep is instantiated for.
inline constexpr std::int64_t kOracleKernelMaxHeadDim = 256;

// G_i = g_begin + ... + g_i per (sequence, query head), summed in order in double (the order the
// CPU oracles use). g and G are [B, T, HQ].
void launch_oracle_gate_scan(const double* g, double* G, const std::int64_t* cu_seqlens, std::int64_t num_seqs,
                             std::int64_t T, std::int64_t HQ, cudaStream_t stream);

// The forward sweep: one block per (sequence, query head, tile of queries). Checks the launch.
void launch_oracle_sweep(const OracleSweepArgs& a, cudaStream_t stream);

// The launch configuration launch_oracle_sweep uses (for documentation and tests).
struct OracleSweepConfig {
  int lanes_per_query = 0, queries_per_block = 0, per_lane_elements = 0, key_tile = 0;
  std::size_t shared_bytes = 0;
};
OracleSweepConfig oracle_sweep_config(const OracleSweepArgs& a);

}  // namespace path::gpu::oracle_detail
