#pragma once
// The launch interface of the fp64 GPU oracle's backward and key-cache kernels
// (oracle_backward_kernel.cuh, oracle_backward.cu). Everything is double. This is the yardstick's own
// code (docs/design.md section 3): it shares nothing with the kernels under test (gpu/kernels), and it
// uses the other formulation of docs/backward.md's gradient: query-parallel reverse mode (each query
// carries its vector x down through the keys and its adjoint y back up), where the kernel under test
// is key-parallel (each key carries the cache vector a and the vector c).
#include <cuda_runtime_api.h>

#include <cstdint>

namespace path::gpu::oracle_detail {

struct OracleBackwardArgs {
  const double* q = nullptr;
  const double* k = nullptr;
  const double* v = nullptr;
  const double* w = nullptr;
  const double* beta = nullptr;
  const double* G = nullptr;                 // cumulative gate (launch_oracle_gate_scan); nullptr: none
  const double* o = nullptr;                 // the oracle's forward
  const double* lse = nullptr;
  const double* dO = nullptr;
  const std::int64_t* cu_seqlens = nullptr;  // device; nullptr: B sequences of T
  const std::int64_t* packed_base = nullptr; // device, per sequence: sum of L (L + 1) / 2 before it
  std::int64_t num_seqs = 1, max_seq_len = 1;
  std::int64_t B = 1, T = 1, HQ = 1, H = 1, D = 1, Dv = 1;
  double scale = 1.0;
  bool gate_fla = false;
  // Per (sequence, query head), packed causal (row i holds j = 0..i): written before they are read.
  double* dr = nullptr;  // dLoss/dr_ij
  double* xw = nullptr;  // w_j . x, x = H_{j+1} ... H_i q_i (the query's vector at key j)
  double* yw = nullptr;  // w_j . y, y the adjoint of H_j x
  // Outputs, zeroed by the caller where summed: dk, dv, dw, dbeta (over queries and the group's query
  // heads) and dG (over keys and queries); dq and dg are written once per element.
  double* dq = nullptr;
  double* dk = nullptr;
  double* dv = nullptr;
  double* dw = nullptr;
  double* dbeta = nullptr;
  double* dG = nullptr;  // [B, T, HQ] dG_i / c (gated only)
  double* dg = nullptr;  // [B, T, HQ] (gated only)
};

// The three sweeps and the gate gradient, in stream order (dk, dv, dw, dbeta, dG zeroed first with
// launch_oracle_zero). Checks every launch.
void launch_oracle_backward(const OracleBackwardArgs& a, cudaStream_t stream);
void launch_oracle_zero(double* p, std::int64_t n, cudaStream_t stream);

// k_cache: per sequence, every key carried to the sequence's end, k_j^(L-1) = H_{L-1} ... H_{j+1} k_j,
// one transformation at a time (the definition; O(L^2 D)), [B, T, H, D].
struct OracleKeyCacheArgs {
  const double* k = nullptr;
  const double* w = nullptr;
  const double* beta = nullptr;
  const std::int64_t* cu_seqlens = nullptr;
  std::int64_t num_seqs = 1, max_seq_len = 1;
  std::int64_t B = 1, T = 1, H = 1, D = 1;
  double* k_cache = nullptr;
};
void launch_oracle_key_cache(const OracleKeyCacheArgs& a, cudaStream_t stream);

}  // namespace path::gpu::oracle_detail
