// The launches of the low-precision forward kernels (sweep_kernel.cuh): configuration, dispatch, checks.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "path/gpu/cuda_check.hpp"
#include "sweep.hpp"
#include "sweep_kernel.cuh"

namespace path::gpu::forward_detail {

using namespace forward_kernel;

SweepConfig sweep_config(const SweepArgs& a) { return make_sweep_config(a); }

namespace {

template <class In>
void launch_typed(const SweepArgs& a, const SweepConfig& c, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((a.max_seq_len + kQueriesPerBlock - 1) / kQueriesPerBlock),
                  static_cast<unsigned>(a.HQ), static_cast<unsigned>(a.num_seqs));
  with_sweep_kernel<In>(c.per_lane_elements, [&](auto kernel) {
    kernel<<<grid, kThreads, c.shared_bytes, stream>>>(a, c.key_tile);
    PATH_CUDA_CHECK_LAUNCH("sweep_kernel");
  });
}

}  // namespace

void launch_gate_scan(const float* g, float* G, const std::int64_t* cu_seqlens, std::int64_t num_seqs, std::int64_t T,
                      std::int64_t HQ, cudaStream_t stream) {
  const std::int64_t n = num_seqs * HQ;
  const unsigned threads = 128, blocks = static_cast<unsigned>((n + threads - 1) / threads);
  gate_scan_kernel<<<blocks, threads, 0, stream>>>(g, G, cu_seqlens, num_seqs, T, HQ);
  PATH_CUDA_CHECK_LAUNCH("gate_scan_kernel");
}

void launch_sweep(const SweepArgs& a, cudaStream_t stream) {
  if (a.D < 1 || a.Dv < 1 || a.D > kSweepMaxHeadDim || a.Dv > kSweepMaxHeadDim)
    throw std::logic_error("launch_sweep: head dimension outside 1.." + std::to_string(kSweepMaxHeadDim));
  if (a.max_seq_len < 1 || a.num_seqs < 1) return;  // nothing to compute
  const SweepConfig c = sweep_config(a);
  switch (a.in_type) {
    case DType::F32: return launch_typed<float>(a, c, stream);
    case DType::F16: return launch_typed<__half>(a, c, stream);
    case DType::BF16: return launch_typed<__nv_bfloat16>(a, c, stream);
    default: break;
  }
  throw std::logic_error("launch_sweep: input dtype " + std::string(dtype_label(a.in_type)) +
                         " is not one of bf16, fp16, fp32");
}

}  // namespace path::gpu::forward_detail
