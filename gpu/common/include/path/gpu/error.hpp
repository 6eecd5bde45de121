#pragma once
// The exception every failed CUDA runtime call in gpu/ turns into (path/gpu/cuda_check.hpp).
// Its message names the call, the file and line, and the runtime's error name and description.
#include <stdexcept>
#include <string>

namespace path::gpu {

class CudaError : public std::runtime_error {
 public:
  CudaError(const std::string& what, int code) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }  // the cudaError_t value

 private:
  int code_;
};

}  // namespace path::gpu
