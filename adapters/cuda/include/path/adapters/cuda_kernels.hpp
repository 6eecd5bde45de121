#pragma once
// Our CUDA kernels as an implementation under test (docs/conformance.md, docs/gpu.md): "cuda" runs
// the plain low-precision kernels (gpu/kernels: bf16, fp16 or fp32 inputs, fp32 arithmetic) on a
// case's inputs exactly as stored:
//   forward cases   the forward kernel: o (input dtype), lse (fp32);
//   gradient cases  the forward kernel, then the backward kernel on its o and lse: dq, dk, dv (input
//                   dtype), dw, dbeta, dg (fp32);
//   decode cases    per sequence, prefill-to-cache of the first prefill_length tokens (their o and lse
//                   from the forward kernel on that prefix), then decode steps of `decode_chunk`
//                   tokens (1 by default: one step per token, as the case prescribes; a larger chunk
//                   runs the several-token step kernel on the same case): o, lse, k_cache.
// The kernels get no private path: the GPU tests and `pathcheck run --impl cuda` judge them through
// this adapter and the conformance judge (docs/design.md section 4).
//
// What it cannot run is reported as a skip with the reason, never as a pass: head dims outside
// {16, 32, 64, 128}, input dtypes other than bf16/fp16/fp32, and every case when no usable GPU is
// present.
//
// Light like the interface it implements: this header needs the C++ standard library and
// conformance/include only (no CUDA, Eigen or Boost).
#include <string>

#include "path/conformance/implementation.hpp"
#include "path/conformance/registry.hpp"

namespace path::adapters {

class CudaKernelImplementation : public conformance::Implementation {
 public:
  // decode_chunk: new tokens per decode step (>= 1; std::invalid_argument otherwise).
  explicit CudaKernelImplementation(long long decode_chunk = 1);
  std::string name() const override { return "cuda"; }
  // The kernel, its dtypes and head dims, and the device it runs on (or why there is none).
  std::string description() const override;
  // "" when the kernel can run the case here; otherwise why not (see above).
  std::string cannot_run(const conformance::CaseSpec& spec) const override;
  // The case's outputs from the kernels (above). Throws (the case then fails with the message)
  // when the case is one cannot_run refuses, or on any CUDA error.
  void run(const conformance::CaseInput& input, conformance::Outputs& outputs) override;

 private:
  long long decode_chunk_;
};

// Why the cuda implementation cannot run anything on this machine ("no CUDA device: ...", or a
// build without a kernel image for this GPU); empty when a usable device is present. Asked once
// per process (path::gpu::device_available). `pathcheck run --impl cuda` exits 1 with this reason
// when it is not empty.
std::string cuda_unavailable_reason();

// Adds "cuda" (explicitly: no static self-registration, which linkers drop from static libraries).
// Registration makes no CUDA call, so it costs nothing on a machine without a GPU.
void register_cuda_implementations(conformance::Registry& registry);

}  // namespace path::adapters
