// The "cuda" implementation under test (path/adapters/cuda_kernels.hpp).
#include "path/adapters/cuda_kernels.hpp"

#include <algorithm>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <vector>

#include "path/gpu/backward.hpp"
#include "path/gpu/decode.hpp"
#include "path/gpu/device.hpp"
#include "path/gpu/forward.hpp"

namespace path::adapters {

using conformance::CaseInput;
using conformance::CaseSpec;
using conformance::Mode;
using conformance::Outputs;

namespace {

constexpr const char* kSummary =
    "CUDA kernels (gpu/kernels): forward (the tensor-core kernel on sm_90 for bf16/fp16 with D = Dv in {64, 128}, "
    "else the plain sweep; PATH_GPU_FORWARD_KERNEL=plain|tensor-core|auto), backward (closed form, docs/backward.md), decode (prefill-to-cache "
    "+ steps); q, k, v in bf16/fp16/fp32, w, beta, g in fp32, fp32 arithmetic; o, dq, dk, dv, k_cache in the "
    "input dtype, lse, dw, dbeta, dg in fp32; D, Dv in {16, 32, 64, 128}";

bool supported_head_dim(index_t d) {
  return std::find(std::begin(gpu::kSupportedHeadDims), std::end(gpu::kSupportedHeadDims), d) !=
         std::end(gpu::kSupportedHeadDims);
}

std::string supported_list() {
  std::string out;
  for (index_t d : gpu::kSupportedHeadDims) out += (out.empty() ? "" : ", ") + std::to_string(d);
  return out;
}

// Writes a kernel result into the poisoned output of that name, if the case asks for it. The
// values are already of the output's dtype (downloaded in the dtype the kernel stored), so the
// rounding store_rounded applies changes nothing.
void store(Outputs& outputs, const std::string& name, const std::vector<double>& values) {
  const auto it = outputs.find(name);
  if (it != outputs.end()) conformance::store_rounded(it->second, values);
}

}  // namespace

std::string cuda_unavailable_reason() {
  // Once per process: the answer does not change while it runs, and every case asks.
  static const std::string reason = [] {
    std::string why;
    if (gpu::device_available(&why)) return std::string();
    return why.empty() ? std::string("no usable CUDA device") : why;
  }();
  return reason;
}

CudaKernelImplementation::CudaKernelImplementation(long long decode_chunk) : decode_chunk_(decode_chunk) {
  if (decode_chunk_ < 1)
    throw std::invalid_argument("cuda: decode_chunk must be at least 1, got " + std::to_string(decode_chunk_));
}

std::string CudaKernelImplementation::description() const {
  const std::string why = cuda_unavailable_reason();
  std::string d = kSummary;
  if (decode_chunk_ != 1) d += "; decode steps of " + std::to_string(decode_chunk_) + " tokens";
  return d + "; " + (why.empty() ? "device: " + gpu::device_description() : why);
}

std::string CudaKernelImplementation::cannot_run(const CaseSpec& spec) const {
  // What the case asks for first (the same answer on every machine), the device last.
  if (spec.dtype != DType::BF16 && spec.dtype != DType::F16 && spec.dtype != DType::F32)
    return "input dtype " + std::string(dtype_label(spec.dtype)) + ": the CUDA kernels take bf16, fp16 or fp32";
  if (!supported_head_dim(spec.shape.D))
    return "head dim D = " + std::to_string(spec.shape.D) + " is not supported by the CUDA kernels (supported: " +
           supported_list() + ")";
  if (!supported_head_dim(spec.shape.Dv))
    return "value dim Dv = " + std::to_string(spec.shape.Dv) + " is not supported by the CUDA kernels (supported: " +
           supported_list() + ")";
  return cuda_unavailable_reason();
}

void CudaKernelImplementation::run(const CaseInput& input, Outputs& outputs) {
  // The runner asks cannot_run first; a direct caller gets the same refusal as an error.
  if (const std::string why = cannot_run(input.spec); !why.empty())
    throw std::invalid_argument("cuda cannot run case " + input.spec.name + ": " + why);
  // The inputs are stored already rounded (q, k, v, do in the case's dtype; w, beta, g, scale in
  // fp32), so the kernels' host wrappers upload them unchanged.
  const CaseSpec& spec = input.spec;
  if (spec.mode == Mode::decode) {
    const gpu::DecodeRunResult r = gpu::lowp_decode(input.problem, spec.prefill_length, spec.dtype, decode_chunk_);
    store(outputs, "o", r.o);
    store(outputs, "lse", r.lse);
    store(outputs, "k_cache", r.k_cache);
    return;
  }
  if (spec.gradients) {
    const gpu::ForwardBackwardResult r = gpu::lowp_forward_backward(input.problem, input.dO, spec.dtype);
    store(outputs, "o", r.forward.o);
    store(outputs, "lse", r.forward.lse);
    store(outputs, "dq", r.gradients.dq);
    store(outputs, "dk", r.gradients.dk);
    store(outputs, "dv", r.gradients.dv);
    store(outputs, "dw", r.gradients.dw);
    store(outputs, "dbeta", r.gradients.dbeta);
    if (spec.gated) store(outputs, "dg", r.gradients.dg);
    return;
  }
  const ForwardResult<double> r = gpu::lowp_forward(input.problem, spec.dtype);
  store(outputs, "o", r.o);
  store(outputs, "lse", r.lse);
}

void register_cuda_implementations(conformance::Registry& registry) {
  registry.add("cuda", kSummary, [] { return std::make_unique<CudaKernelImplementation>(); });
}

}  // namespace path::adapters
