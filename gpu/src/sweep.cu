// The launches of the forward kernels (sweep_kernel.cuh): configuration, dispatch, checks.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "cuda_check.hpp"
#include "sweep.hpp"
#include "sweep_kernel.cuh"

namespace path::gpu::detail {

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

void launch_cumulative_gate(bool fp64, const void* g, void* G, const std::int64_t* cu_seqlens, std::int64_t num_seqs,
                            std::int64_t T, std::int64_t HQ, cudaStream_t stream) {
  const i64 n = num_seqs * HQ;
  const unsigned threads = 128, blocks = static_cast<unsigned>((n + threads - 1) / threads);
  if (fp64) {
    cumulative_gate_kernel<double><<<blocks, threads, 0, stream>>>(static_cast<const double*>(g), static_cast<double*>(G),
                                                                   cu_seqlens, num_seqs, T, HQ);
    PATH_CUDA_CHECK_LAUNCH("cumulative_gate_kernel<double>");
  } else {
    cumulative_gate_kernel<float><<<blocks, threads, 0, stream>>>(static_cast<const float*>(g), static_cast<float*>(G),
                                                                  cu_seqlens, num_seqs, T, HQ);
    PATH_CUDA_CHECK_LAUNCH("cumulative_gate_kernel<float>");
  }
}

void launch_sweep(const SweepArgs& a, cudaStream_t stream) {
  if (a.D < 1 || a.Dv < 1 || a.D > kMaxHeadDim || a.Dv > kMaxHeadDim)
    throw std::logic_error("launch_sweep: head dimension outside 1.." + std::to_string(kMaxHeadDim));
  if (a.max_seq_len < 1 || a.num_seqs < 1) return;  // nothing to compute
  const SweepConfig c = sweep_config(a);
  switch (a.in_type) {
    case ElemType::f64: return launch_typed<double>(a, c, stream);
    case ElemType::f32: return launch_typed<float>(a, c, stream);
    case ElemType::f16: return launch_typed<__half>(a, c, stream);
    case ElemType::bf16: return launch_typed<__nv_bfloat16>(a, c, stream);
  }
  throw std::logic_error("launch_sweep: unknown element type");
}

bool kernel_image_loadable(std::string* reason) {
  cudaFuncAttributes attr{};
  const cudaError_t e = cudaFuncGetAttributes(&attr, sweep_kernel<double, 8>);
  if (e == cudaSuccess) return true;
  cudaGetLastError();  // clear the sticky-free error so later calls start clean
  if (reason)
    *reason = std::string("this build has no kernel image the device can run (cudaFuncGetAttributes: ") +
              cudaGetErrorName(e) + ", " + cudaGetErrorString(e) +
              "); rebuild with -DCMAKE_CUDA_ARCHITECTURES set for this GPU";
  return false;
}

}  // namespace path::gpu::detail
