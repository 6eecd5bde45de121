// The "cuda" implementation under test (path/adapters/cuda_kernels.hpp).
#include "path/adapters/cuda_kernels.hpp"

#include <algorithm>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <vector>

#include "path/gpu/device.hpp"
#include "path/gpu/forward.hpp"

namespace path::adapters {

using conformance::CaseInput;
using conformance::CaseSpec;
using conformance::Mode;
using conformance::Outputs;

namespace {

constexpr const char* kSummary =
    "plain CUDA forward (gpu/kernels/forward): q, k, v in bf16/fp16/fp32, w, beta, g in fp32, fp32 arithmetic, "
    "o in the input dtype, lse in fp32; D, Dv in {16, 32, 64, 128}; forward cases only (no CUDA backward or "
    "decode kernel yet)";

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
// values are already of the output's dtype (o downloaded in the input dtype, lse in fp32), so the
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

std::string CudaKernelImplementation::description() const {
  const std::string why = cuda_unavailable_reason();
  return std::string(kSummary) + "; " + (why.empty() ? "device: " + gpu::device_description() : why);
}

std::string CudaKernelImplementation::cannot_run(const CaseSpec& spec) const {
  // What the case asks for first (the same answer on every machine), the device last.
  if (spec.mode == Mode::decode) return "the CUDA decode kernel does not exist yet";
  if (spec.gradients) return "the CUDA backward kernel does not exist yet";
  if (spec.dtype != DType::BF16 && spec.dtype != DType::F16 && spec.dtype != DType::F32)
    return "input dtype " + std::string(dtype_label(spec.dtype)) + ": the CUDA forward takes bf16, fp16 or fp32";
  if (!supported_head_dim(spec.shape.D))
    return "head dim D = " + std::to_string(spec.shape.D) + " is not supported by the CUDA forward (supported: " +
           supported_list() + ")";
  if (!supported_head_dim(spec.shape.Dv))
    return "value dim Dv = " + std::to_string(spec.shape.Dv) + " is not supported by the CUDA forward (supported: " +
           supported_list() + ")";
  return cuda_unavailable_reason();
}

void CudaKernelImplementation::run(const CaseInput& input, Outputs& outputs) {
  // The runner asks cannot_run first; a direct caller gets the same refusal as an error.
  if (const std::string why = cannot_run(input.spec); !why.empty())
    throw std::invalid_argument("cuda cannot run case " + input.spec.name + ": " + why);
  // The inputs are stored already rounded (q, k, v in the case's dtype; w, beta, g, scale in fp32),
  // so lowp_forward uploads them unchanged.
  const ForwardResult<double> r = gpu::lowp_forward(input.problem, input.spec.dtype);
  store(outputs, "o", r.o);
  store(outputs, "lse", r.lse);
}

void register_cuda_implementations(conformance::Registry& registry) {
  registry.add("cuda", kSummary, [] { return std::make_unique<CudaKernelImplementation>(); });
}

}  // namespace path::adapters
