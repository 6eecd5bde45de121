#pragma once
// The plain low-precision CUDA backward (docs/design.md section 3, issue 14; correctness first, no tensor
// cores): the closed-form O(T^2 D) backward of docs/backward.md on the GPU. Given dO and the
// forward's o and lse, it returns dq, dk, dv (input dtype) and dw, dbeta, dg (fp32; dg only with a
// gate), the gradients of Loss = sum dO . o. Inputs as the forward takes them (path/gpu/forward.hpp):
// q, k, v, o, dO in bf16, fp16 or fp32; w, beta, g, lse in fp32; arithmetic in fp32 (no tf32 and no
// rounding of P or dS to the input type: a plain kernel keeps every intermediate in fp32).
// FLA's layout [B, T, heads, dim]; varlen through cu_seqlens (B = 1); GQA (dk, dv, dw, dbeta sum over
// the query heads of a group; dq, dg per query head); both gate conventions; D, Dv in
// {16, 32, 64, 128}.
//
// Algorithm (docs/backward.md sections 2-5, docs/gpu.md; gpu/kernels/backward/src/backward_kernel.cuh):
// a query-parallel kernel recomputes the logits exactly as the forward kernel does (its own step
// function), so P_tj = exp(s_tj - lse_t) and Delta_t = dO_t . o_t with the forward's lse and o are
// consistent, and stores dr_tj = scale P_tj (dO_t . v_j - Delta_t) and P_tj; then one CUDA block per
// (sequence, query head, tile of 16 keys), 8 lanes per key, sweeps the queries t of the key's sequence
// three times:
//   up:   the key cache a_{j,t+1} = H_t ... H_{j+1} k_j, dq and dv;
//   down: c_{j,t} = dr_tj q_t + H_{t+1} c_{j,t+1}, dk_j = c_{j,j}, and G_u^T w_u, w_u^T G_u w_u;
//   up:   the cache again, G_t w_t;
// the per-pair scalars dr_tj, P_tj, a_{j,t}.w_t and c_{j,t}.w_t pass between the kernels in packed causal
// arrays (3 x L (L + 1) / 2 floats per (sequence, query head) of workspace). Sums across keys (dq,
// G w), across queries (the gate's dG) and across the query heads of a GQA group (dk, dv, dw, dbeta)
// are float atomics, so results are not bitwise reproducible from run to run (each is still one
// correct rounding sequence of the same sums; the judge decides).
#include <cstddef>
#include <vector>

#include "path/backward.hpp"
#include "path/gpu/forward.hpp"
#include "path/gpu/kernel_args.hpp"
#include "path/problem.hpp"

namespace path::gpu {

struct BackwardArgs {
  Shape shape;
  double scale = 1.0;  // used as fp32
  GateConvention gate_convention = GateConvention::paper;
  DeviceTensor q, k, v;            // input dtype (BF16, F16 or F32)
  DeviceTensor w, beta;            // F32
  DeviceTensor g;                  // F32; data == nullptr: no forget gate
  DeviceTensor o;                  // the forward's o, input dtype [B, T, HQ, Dv]
  DeviceTensor lse;                // the forward's lse, F32 [B, T, HQ]
  DeviceTensor dO;                 // input dtype [B, T, HQ, Dv]
  std::vector<index_t> cu_seqlens; // host copy; empty: not varlen
  DeviceOutput dq, dk, dv;         // input dtype: [B, T, HQ, D], [B, T, H, D], [B, T, H, Dv]
  DeviceOutput dw, dbeta;          // F32: [B, T, H, D], [B, T, H]
  DeviceOutput dg;                 // F32 [B, T, HQ] when gated; must be absent (null, 0) without a gate
  CUstream_st* stream = nullptr;
};

// Every check lowp_backward_device makes before touching the GPU (shape, head dims, dtypes, element
// counts, null or misaligned pointers, scale, cu_seqlens, dg present exactly when g is). Throws
// path::InvalidProblem naming the tensor. No CUDA call.
void validate_backward_args(const BackwardArgs& a);

// Bytes of device workspace lowp_backward_device allocates (stream-ordered) for this problem:
// fp32 accumulators O(T (HQ D + H (D + Dv))) plus 3 packed causal arrays per (sequence, query head).
std::size_t backward_workspace_bytes(const Shape& s, const std::vector<index_t>& cu_seqlens);

// Validates, then enqueues the backward on a.stream. Launch errors throw CudaError at once; errors
// of running kernels surface at the caller's next synchronization.
void lowp_backward_device(const BackwardArgs& a);

// Host convenience (tests, tools, the cuda adapter): the forward kernel, then the backward kernel on
// its o and lse, all on the device; inputs packed as lowp_forward packs them (path::round_to), dO
// rounded to `precision`; every output poisoned (NaN) before the kernels run. Returns the forward's
// o, lse and the six gradients (dg empty without a gate), widened to double.
struct ForwardBackwardResult {
  ForwardResult<double> forward;
  BackwardResult<double> gradients;
};
ForwardBackwardResult lowp_forward_backward(const Problem<double>& p, const std::vector<double>& dO, DType precision);

}  // namespace path::gpu
