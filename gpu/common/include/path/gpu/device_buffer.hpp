#pragma once
// Owning device allocations for the host-side wrappers of the oracle and the kernels (correctness
// first: plain cudaMalloc), uploads, downloads, and NaN-poisoned outputs.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstring>
#include <utility>
#include <vector>

#include "path/gpu/cuda_check.hpp"

namespace path::gpu::detail {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
    if (bytes_ > 0) PATH_CUDA_CHECK(cudaMalloc(&ptr_, bytes_));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { release(); }

  void* get() const { return ptr_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  std::size_t bytes() const { return bytes_; }

 private:
  void release() noexcept {
    if (ptr_) cudaFree(ptr_);  // not checked: a destructor must not throw
    ptr_ = nullptr;
  }
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

template <class T>
DeviceBuffer upload(const std::vector<T>& host) {
  DeviceBuffer d(host.size() * sizeof(T));
  if (!host.empty()) PATH_CUDA_CHECK(cudaMemcpy(d.get(), host.data(), d.bytes(), cudaMemcpyHostToDevice));
  return d;
}

// Every output is poisoned before a kernel runs (all bits set: NaN in bf16, fp16, fp32 and fp64),
// so an element the kernel failed to write cannot pass a comparison.
inline DeviceBuffer poisoned(std::size_t bytes) {
  DeviceBuffer d(bytes);
  if (bytes > 0) PATH_CUDA_CHECK(cudaMemset(d.get(), 0xFF, bytes));
  return d;
}

template <class T>
std::vector<T> download(const DeviceBuffer& d, std::size_t count) {
  std::vector<T> host(count);
  if (count > 0) PATH_CUDA_CHECK(cudaMemcpy(host.data(), d.get(), count * sizeof(T), cudaMemcpyDeviceToHost));
  return host;
}

}  // namespace path::gpu::detail
