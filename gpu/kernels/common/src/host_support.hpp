#pragma once
// Host-side pieces the kernels under test share (gpu/kernels/{forward,backward,decode}): the checks
// made before any launch (path::InvalidProblem naming the tensor and the problem), stream-ordered
// scratch, and the packing of host values into device images through the project's one rounding
// codec (core/rounding.hpp).
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "path/gpu/cuda_check.hpp"
#include "path/gpu/device_buffer.hpp"
#include "path/gpu/kernel_args.hpp"
#include "path/problem.hpp"
#include "path/validate.hpp"

namespace path::gpu::kernel_host {

bool is_input_dtype(DType t);
bool supported_head_dim(index_t d);
std::string supported_head_dims_list();  // "16, 32, 64, 128"

// D (named "q") and Dv (named "v") in kSupportedHeadDims.
void check_head_dims(const Shape& s);
// The input dtype of q (bf16, fp16 or fp32), else a rejection naming q.
void check_input_dtype(DType t, const char* tensor = "q");
// The grid's y (query heads) and z (sequences) limits.
void check_grid(const Shape& s, std::size_t num_seqs, bool varlen);
// dtype, element count, non-null data and alignment to the dtype's size.
void check_view(const char* name, const DeviceTensor& t, std::size_t expected, DType want);
void check_view(const char* name, const DeviceOutput& t, std::size_t expected, DType want);
// A gate view: absent (null data and no elements) or a full F32 [B, T, HQ] view.
void check_optional_view(const char* name, const DeviceTensor& t, std::size_t expected);
// scale finite in fp32.
void check_scale(double scale);

// The checks the forward and the backward make alike on the problem they share (their argument
// structs name its parts the same): shape, head dims, q's dtype, the views q, k, v, w, beta, g, o
// and lse, scale, cu_seqlens and the launch grid. The backward checks its own tensors after it.
template <class Args>
void check_attention_args(const Args& a) {
  path::detail::check_shape(a.shape);
  const Shape& s = a.shape;
  check_head_dims(s);
  const DType in = a.q.dtype;
  check_input_dtype(in);
  check_view("q", a.q, s.q_size(), in);
  check_view("k", a.k, s.k_size(), in);
  check_view("v", a.v, s.v_size(), in);
  check_view("w", a.w, s.k_size(), DType::F32);
  check_view("beta", a.beta, s.beta_size(), DType::F32);
  check_optional_view("g", a.g, s.g_size());
  check_view("o", a.o, s.o_size(), in);
  check_view("lse", a.lse, s.lse_size(), DType::F32);
  check_scale(a.scale);
  path::detail::check_cu_seqlens(s, a.cu_seqlens);
  const bool varlen = !a.cu_seqlens.empty();
  check_grid(s, varlen ? a.cu_seqlens.size() - 1 : static_cast<std::size_t>(s.B), varlen);
}

// Lets `kernel` launch with `bytes` of dynamic shared memory: beyond the default 48 KiB a kernel
// must opt in (cudaFuncAttributeMaxDynamicSharedMemorySize); below it nothing is needed. `name`
// names the kernel in the error.
template <class Kernel>
void allow_dynamic_shared(Kernel kernel, std::size_t bytes, const char* name) {
  if (bytes <= 48 * 1024) return;
  const std::string what = std::string("cudaFuncSetAttribute(MaxDynamicSharedMemorySize) of ") + name;
  ::path::gpu::detail::check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
                                   what.c_str(), __FILE__, __LINE__);
}

// Stream-ordered scratch (cudaMallocAsync / cudaFreeAsync), freed on every path out.
class StreamScratch {
 public:
  StreamScratch(std::size_t bytes, cudaStream_t stream);
  StreamScratch(const StreamScratch&) = delete;
  StreamScratch& operator=(const StreamScratch&) = delete;
  ~StreamScratch();
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
  cudaStream_t stream_;
};

// Carves aligned pieces out of one scratch allocation: first a sizing pass (base null), then the
// real one.
class ScratchLayout {
 public:
  explicit ScratchLayout(unsigned char* base = nullptr) : base_(base) {}
  template <class T>
  T* take(std::size_t count) {
    offset_ = (offset_ + 255) / 256 * 256;
    T* p = base_ ? reinterpret_cast<T*>(base_ + offset_) : nullptr;
    offset_ += count * sizeof(T);
    return p;
  }
  std::size_t bytes() const { return offset_; }

 private:
  unsigned char* base_;
  std::size_t offset_ = 0;
};

// Device images of host values: bf16 and fp16 as 16-bit patterns, fp32 as 32-bit patterns, each the
// nearest value of the type (path::round_to: straight from double, ties to even). Values that are
// already of the type (a conformance case's inputs) are encoded exactly.
detail::DeviceBuffer upload_as(const std::vector<double>& xs, DType t);
// A device tensor of type t back to double (exact: every value of t is a double).
std::vector<double> download_as(const detail::DeviceBuffer& d, std::size_t n, DType t);
std::vector<double> download_as(const void* device, std::size_t n, DType t);

}  // namespace path::gpu::kernel_host
