#pragma once
// Our CUDA kernels as an implementation under test (docs/conformance.md, docs/gpu.md): "cuda" runs
// the plain low-precision forward (gpu/kernels/forward: bf16, fp16 or fp32 inputs, fp32 arithmetic,
// o in the input dtype, lse in fp32) on a case's inputs exactly as stored. The kernels get no
// private path: tests/test_gpu_forward.cpp and `pathcheck run --impl cuda` judge them through this
// adapter and the conformance judge (docs/design.md section 4).
//
// What it cannot run is reported as a skip with the reason, never as a pass: gradient cases (the
// CUDA backward kernel does not exist yet), decode cases (nor does the decode kernel), head dims
// outside {16, 32, 64, 128}, input dtypes other than bf16/fp16/fp32, and every case when no usable
// GPU is present.
//
// Light like the interface it implements: this header needs the C++ standard library and
// conformance/include only (no CUDA, Eigen or Boost).
#include <string>

#include "path/conformance/implementation.hpp"
#include "path/conformance/registry.hpp"

namespace path::adapters {

class CudaKernelImplementation : public conformance::Implementation {
 public:
  std::string name() const override { return "cuda"; }
  // The kernel, its dtypes and head dims, and the device it runs on (or why there is none).
  std::string description() const override;
  // "" when the kernel can run the case here; otherwise why not (see above).
  std::string cannot_run(const conformance::CaseSpec& spec) const override;
  // Forward cases: o and lse from the kernel. Throws (the case then fails with the message) when
  // the case is one cannot_run refuses, or on any CUDA error.
  void run(const conformance::CaseInput& input, conformance::Outputs& outputs) override;
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
