#pragma once
// The launch interface of the one forward kernel family (gpu/src/sweep.cu), free of CUDA device
// types so that host C++ (g++) code can call it. Layout is flash-linear-attention's:
//   q [B, T, HQ, D], k and w [B, T, H, D], v [B, T, H, Dv], beta [B, T, H], g and G [B, T, HQ],
//   o [B, T, HQ, Dv], lse [B, T, HQ]; varlen packs sequences along T with B = 1 (cu_seqlens).
//
// Two instantiation families:
//   fp64 oracle:  q, k, v, w, beta, G, o, lse all double, arithmetic in double;
//   low precision: q, k, v, o in bf16/fp16/fp32; w, beta, G, lse fp32; arithmetic in fp32.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

namespace path::gpu::detail {

enum class ElemType { f64, f32, f16, bf16 };

struct SweepArgs {
  ElemType in_type = ElemType::f64;   // q, k, v, o; f64 selects the fp64 oracle family
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const void* w = nullptr;            // double (oracle) or float (low precision), as beta and G
  const void* beta = nullptr;
  const void* G = nullptr;            // cumulative gate G_i (launch_cumulative_gate); nullptr: no gate
  const std::int64_t* cu_seqlens = nullptr;  // device, num_seqs + 1 entries; nullptr: B sequences of T
  std::int64_t num_seqs = 1;
  std::int64_t max_seq_len = 1;       // longest sequence (sizes the grid)
  std::int64_t B = 1, T = 1, HQ = 1, H = 1, D = 1, Dv = 1;
  double scale = 1.0;                 // converted to the arithmetic type (fp32: already fp32-exact)
  bool gate_fla = false;              // fla: scale * (r + G_i - G_j); paper: scale * r + G_i - G_j
  void* o = nullptr;
  void* lse = nullptr;                // double (oracle) or float (low precision)
};

// Largest head dimension (of D and Dv) the kernels are instantiated for.
inline constexpr std::int64_t kMaxHeadDim = 256;

// G_i = g_begin + ... + g_i per (sequence, query head), summed in order (as the CPU oracles do),
// in double (fp64) or float. g and G are [B, T, HQ] of that type.
void launch_cumulative_gate(bool fp64, const void* g, void* G, const std::int64_t* cu_seqlens, std::int64_t num_seqs,
                            std::int64_t T, std::int64_t HQ, cudaStream_t stream);

// The forward sweep: one block per (sequence, query head, tile of queries). Checks the launch.
void launch_sweep(const SweepArgs& a, cudaStream_t stream);

// The launch configuration launch_sweep would use (for documentation and tests).
struct SweepConfig {
  int lanes_per_query = 0, queries_per_block = 0, per_lane_elements = 0, key_tile = 0;
  std::size_t shared_bytes = 0;
};
SweepConfig sweep_config(const SweepArgs& a);

// Whether this build carries a kernel image the current device can run (cudaFuncGetAttributes on
// one of the kernels); false with the runtime's reason otherwise.
bool kernel_image_loadable(std::string* reason);

}  // namespace path::gpu::detail
