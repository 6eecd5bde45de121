#include "implementations.hpp"

#include "path/adapters/cpu_oracle.hpp"
#if PATH_HAVE_CUDA_ADAPTER
#include "path/adapters/cuda_kernels.hpp"
#endif

namespace pathcheck {

const path::conformance::Registry& implementations() {
  static const path::conformance::Registry registry = [] {
    path::conformance::Registry r;
    path::adapters::register_cpu_implementations(r);
#if PATH_HAVE_CUDA_ADAPTER
    path::adapters::register_cuda_implementations(r);
#endif
    return r;
  }();
  return registry;
}

namespace {

bool is_cuda(const std::string& name) { return name == "cuda" || name.rfind("cuda-", 0) == 0; }

}  // namespace

std::string unavailable_reason(const std::string& name) {
  if (!is_cuda(name)) return "";
#if PATH_HAVE_CUDA_ADAPTER
  return path::adapters::cuda_unavailable_reason();
#else
  return "this pathcheck was built without CUDA (no nvcc at configure time)";
#endif
}

path::conformance::OutputSelection claimed_outputs(const std::string& name) {
  if (is_cuda(name)) return path::conformance::OutputSelection::parse("o,lse");
  return {};
}

}  // namespace pathcheck
