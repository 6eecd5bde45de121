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

}  // namespace pathcheck
