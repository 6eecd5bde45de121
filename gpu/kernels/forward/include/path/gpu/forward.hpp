#pragma once
// The plain low-precision CUDA forward (docs/design.md section 3, correctness first, no tensor cores
// yet): q, k, v in bf16, fp16 or fp32; w, beta, g in fp32; arithmetic in fp32; o in the input type,
// lse in fp32. flash-linear-attention's layout: q [B, T, HQ, D], k and w [B, T, H, D],
// v [B, T, H, Dv], beta [B, T, H], g [B, T, HQ], o [B, T, HQ, Dv], lse [B, T, HQ]; varlen packs
// sequences along T with B = 1 and cu_seqlens (int64, FlashAttention convention). D and Dv in
// {16, 32, 64, 128}. It evaluates what path::emulate_forward emulates (naive products in fp32,
// probabilities rounded to the input type before P*V), so its error is judged against that
// baseline's (docs/tolerance.md): error <= 2 * baseline error + floor. Tests and pathcheck judge it
// through the conformance judge, via the "cuda" implementation (adapters/cuda).
//
// Its kernels (gpu/kernels/forward/src) are the kernels under test only: they have no fp64
// instantiation, and the fp64 GPU oracle (gpu/oracle) shares none of their code.
#include <cstddef>
#include <string>
#include <vector>

#include "path/core/dtype.hpp"
#include "path/forward.hpp"
#include "path/gpu/kernel_args.hpp"
#include "path/problem.hpp"

namespace path::gpu {

// Which forward kernel runs (docs/gpu-fast-forward.md). automatic: the environment variable
// PATH_GPU_FORWARD_KERNEL (plain | tensor-core | auto) if set, else the tensor-core kernel when it
// can run the problem (tensor_core_cannot_run says why not), else the plain sweep. Forcing
// tensor_core on a problem it cannot run throws std::invalid_argument with the reason.
enum class ForwardKernel { automatic, plain, tensor_core };
const char* forward_kernel_label(ForwardKernel k);  // "auto", "plain", "tensor-core"

struct ForwardArgs {
  Shape shape;                       // B, T, HQ, H, D, Dv
  double scale = 1.0;                // used as fp32
  GateConvention gate_convention = GateConvention::paper;
  DeviceTensor q, k, v;              // one dtype: BF16, F16 or F32
  DeviceTensor w, beta;              // F32
  DeviceTensor g;                    // F32; data == nullptr: no forget gate
  std::vector<index_t> cu_seqlens;   // host copy (validated here, copied to the device); empty: not varlen
  DeviceOutput o;                    // the input dtype, [B, T, HQ, Dv]
  DeviceOutput lse;                  // F32, [B, T, HQ]
  CUstream_st* stream = nullptr;     // nullptr: the default stream
  ForwardKernel kernel = ForwardKernel::automatic;
};

// Empty when the tensor-core forward can run the problem (bf16 or fp16 inputs, D == Dv in {64, 128},
// an sm_90 device with the kernel's image); else the reason it cannot. Queries the device, no launch.
std::string tensor_core_cannot_run(const ForwardArgs& a);

// The kernel lowp_forward_device runs for `a` (plain or tensor_core; never automatic), per the rule
// above. Throws std::invalid_argument when tensor_core is forced (argument or environment) and
// cannot run, or when PATH_GPU_FORWARD_KERNEL has another value.
ForwardKernel resolve_forward_kernel(const ForwardArgs& a);

// Every check lowp_forward_device does before touching the GPU: shape, head dims, dtypes, element
// counts, null or misaligned pointers, scale, cu_seqlens (monotone, within [0, T], B = 1). Throws
// path::InvalidProblem naming the tensor and the problem. Makes no CUDA call.
void validate_forward_args(const ForwardArgs& a);

// Bytes of device memory lowp_forward_device allocates itself (stream-ordered, outside any
// caller's allocator) for `a` with the kernel resolve_forward_kernel picks: the device copy of
// cu_seqlens and the gate scan's G, and the tensor-core kernel's scratch (docs/gpu-fast-forward.md,
// "Scratch"). Reads a's shape, cu_seqlens, dtype, kernel and whether g is given, not its data;
// queries the device only as resolve_forward_kernel does.
std::size_t forward_workspace_bytes(const ForwardArgs& a);

// Validates, then enqueues the forward on a.stream with the kernel resolve_forward_kernel picks (it
// allocates and frees scratch with the stream-ordered allocator). Launch errors throw path::gpu::CudaError at once; errors of
// the running kernel surface at the caller's next synchronization.
void lowp_forward_device(const ForwardArgs& a);

// Host convenience for tests, tools and the cuda adapter: rounds q, k, v to `precision` (BF16, F16
// or F32) and w, beta, g, scale to F32 with path::round_to (the project's one rounding codec,
// core/rounding.hpp: straight from double, ties to even), uploads, poisons the outputs (NaN), runs,
// synchronizes and returns o (widened from the input type) and lse (widened from fp32) in double.
// Inputs that are already values of those types (a conformance case's) pass through unchanged.
ForwardResult<double> lowp_forward(const Problem<double>& p, DType precision,
                                   ForwardKernel kernel = ForwardKernel::automatic);

// The inputs lowp_forward really runs on, widened back to double: what the exact oracle must be
// evaluated on when judging it (q, k, v rounded to `precision`, w, beta, g, scale to F32).
Problem<double> rounded_problem(const Problem<double>& p, DType precision);

}  // namespace path::gpu
