#pragma once
// The launch interface of the plain low-precision backward kernels (backward_kernel.cuh,
// backward.cu), free of CUDA device types (only cudaStream_t) so that host C++ code (backward.cpp, and
// tests/test_gpu_kernel_host.cpp through the host shim) can fill it. Layout as the forward's
// (sweep.hpp): q, dO, o [B, T, HQ, *], k, w, v [B, T, H, *], beta [B, T, H], g, lse [B, T, HQ].
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "path/core/dtype.hpp"
#include "path/problem.hpp"

namespace path::gpu::backward_detail {

struct BackwardKernelArgs {
  DType in_type = DType::BF16;  // q, k, v, o, dO, dq, dk, dv: BF16, F16 or F32
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const void* o = nullptr;
  const void* dO = nullptr;
  const float* w = nullptr;
  const float* beta = nullptr;
  const float* g = nullptr;                   // nullptr: no gate
  const float* lse = nullptr;
  const std::int64_t* cu_seqlens = nullptr;   // num_seqs + 1 entries (device memory; host memory in the shim)
  const std::int64_t* packed_base = nullptr;  // per sequence: sum of L (L + 1) / 2 over the earlier ones
  std::int64_t num_seqs = 1, max_seq_len = 1;
  std::int64_t B = 1, T = 1, HQ = 1, H = 1, D = 1, Dv = 1;
  float scale = 1.0f;
  bool gate_fla = false;

  // Workspace (workspace_layout below). Accumulators, fp32, zeroed before the sweeps:
  float* accumulators = nullptr;  // the first accumulator; all of them lie in [accumulators, + accumulator_count)
  std::size_t accumulator_count = 0;
  float* dq_acc = nullptr;   // [B, T, HQ, D]  sum over keys of dr_tj a_{j,t+1}
  float* dG_acc = nullptr;   // [B, T, HQ]     scale dG_t / c (sums of dr; docs/backward.md (5))
  float* dk_acc = nullptr;   // [B, T, H, D]   sum over the group's query heads
  float* dv_acc = nullptr;   // [B, T, H, Dv]
  float* sym_acc = nullptr;  // [B, T, H, D]   (G_t + G_t^T) w_t, summed over the group
  float* wgw_acc = nullptr;  // [B, T, H]      w_t^T G_t w_t, summed over the group
  // Written before they are read (no zeroing):
  float* G = nullptr;        // [B, T, HQ] cumulative gate (gated only)
  float* dr = nullptr;       // packed causal, per (sequence, query head): dr_tj
  float* aw = nullptr;       // packed causal: a_{j,t} . w_t (t > j)
  float* cw = nullptr;       // packed causal: P_tj (logits_kernel to cache_up_kernel), then c_{j,t} . w_t (t > j)

  void* dq = nullptr;        // input dtype
  void* dk = nullptr;
  void* dv = nullptr;
  float* dw = nullptr;
  float* dbeta = nullptr;
  float* dg = nullptr;       // gated only
};

// Per sequence, the offset of its packed causal arrays (in units of one query head's array
// elements; query head hq of sequence n starts at packed_base[n] * HQ + hq * L_n (L_n + 1) / 2),
// and the total over all sequences (times HQ: the length of each of dr, aw, cw).
inline std::vector<std::int64_t> packed_bases(const std::vector<SequenceRange>& seqs, std::int64_t& total) {
  std::vector<std::int64_t> out;
  total = 0;
  for (const SequenceRange& r : seqs) {
    out.push_back(total);
    total += r.length * (r.length + 1) / 2;
  }
  return out;
}

// Places the workspace in one allocation starting at `base` (nullptr: only sizes it) and returns
// its size in bytes. Pieces are 256-byte aligned; the accumulators come first, contiguous.
inline std::size_t workspace_layout(BackwardKernelArgs& a, unsigned char* base, std::int64_t packed_total,
                                    bool gated) {
  std::size_t offset = 0;
  auto take = [&](std::size_t count) {
    offset = (offset + 255) / 256 * 256;
    float* p = base ? reinterpret_cast<float*>(base + offset) : nullptr;
    offset += count * sizeof(float);
    return p;
  };
  const std::size_t tokens = static_cast<std::size_t>(a.B * a.T);
  const std::size_t HQ = static_cast<std::size_t>(a.HQ), H = static_cast<std::size_t>(a.H);
  const std::size_t D = static_cast<std::size_t>(a.D), Dv = static_cast<std::size_t>(a.Dv);
  a.dq_acc = take(tokens * HQ * D);
  a.accumulators = a.dq_acc;
  a.dG_acc = take(tokens * HQ);
  a.dk_acc = take(tokens * H * D);
  a.dv_acc = take(tokens * H * Dv);
  a.sym_acc = take(tokens * H * D);
  a.wgw_acc = take(tokens * H);
  a.accumulator_count = (offset + sizeof(float) - 1) / sizeof(float);  // from the start, padding included
  a.G = gated ? take(tokens * HQ) : nullptr;
  const std::size_t packed = static_cast<std::size_t>(packed_total) * HQ;
  a.dr = take(packed);
  a.aw = take(packed);
  a.cw = take(packed);
  offset = (offset + 255) / 256 * 256;
  // One more aligned slot for the sequences' packed bases (i64) and cu_seqlens, placed by the caller.
  return offset;
}

// Largest head dimension (of D and Dv) the kernels are instantiated for.
inline constexpr std::int64_t kBackwardMaxHeadDim = 128;

// Enqueues the backward kernels on `stream` (backward.cu: backward_kernel.cuh's enqueue_backward
// with the device launcher). Expects the workspace placed and every pointer valid.
void launch_backward(const BackwardKernelArgs& a, cudaStream_t stream);

}  // namespace path::gpu::backward_detail
