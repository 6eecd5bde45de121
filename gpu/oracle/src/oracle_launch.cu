// The launches of the fp64 GPU oracle's kernels (oracle_kernel.cuh): configuration, dispatch, checks.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "oracle_kernel.cuh"
#include "oracle_launch.hpp"
#include "path/gpu/cuda_check.hpp"

namespace path::gpu::oracle_detail {

using namespace oracle_kernel;

OracleSweepConfig oracle_sweep_config(const OracleSweepArgs& a) { return make_oracle_sweep_config(a); }

void launch_oracle_gate_scan(const double* g, double* G, const std::int64_t* cu_seqlens, std::int64_t num_seqs,
                             std::int64_t T, std::int64_t HQ, cudaStream_t stream) {
  const std::int64_t n = num_seqs * HQ;
  const unsigned threads = 128, blocks = static_cast<unsigned>((n + threads - 1) / threads);
  oracle_gate_scan_kernel<<<blocks, threads, 0, stream>>>(g, G, cu_seqlens, num_seqs, T, HQ);
  PATH_CUDA_CHECK_LAUNCH("oracle_gate_scan_kernel");
}

void launch_oracle_sweep(const OracleSweepArgs& a, cudaStream_t stream) {
  if (a.D < 1 || a.Dv < 1 || a.D > kOracleKernelMaxHeadDim || a.Dv > kOracleKernelMaxHeadDim)
    throw std::logic_error("launch_oracle_sweep: head dimension outside 1.." + std::to_string(kOracleKernelMaxHeadDim));
  if (a.max_seq_len < 1 || a.num_seqs < 1) return;  // nothing to compute
  const OracleSweepConfig c = oracle_sweep_config(a);
  const dim3 grid(static_cast<unsigned>((a.max_seq_len + kQueriesPerBlock - 1) / kQueriesPerBlock),
                  static_cast<unsigned>(a.HQ), static_cast<unsigned>(a.num_seqs));
  with_oracle_sweep_kernel(c.per_lane_elements, [&](auto kernel) {
    kernel<<<grid, kThreads, c.shared_bytes, stream>>>(a, c.key_tile);
    PATH_CUDA_CHECK_LAUNCH("oracle_sweep_kernel");
  });
}

}  // namespace path::gpu::oracle_detail
