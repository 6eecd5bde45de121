// Host-side checks and packing shared by the kernels under test (host_support.hpp).
#include "host_support.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "path/core/rounding.hpp"
#include "path/gpu/cuda_check.hpp"
#include "path/validate.hpp"

namespace path::gpu::kernel_host {

using path::detail::reject;

bool is_input_dtype(DType t) { return t == DType::BF16 || t == DType::F16 || t == DType::F32; }

bool supported_head_dim(index_t d) {
  return std::find(std::begin(kSupportedHeadDims), std::end(kSupportedHeadDims), d) != std::end(kSupportedHeadDims);
}

std::string supported_head_dims_list() {
  std::string out;
  for (index_t d : kSupportedHeadDims) out += (out.empty() ? "" : ", ") + std::to_string(d);
  return out;
}

void check_head_dims(const Shape& s) {
  if (!supported_head_dim(s.D))
    reject("q", "head dim D = " + std::to_string(s.D) + " is not supported by the GPU kernel (supported: " +
                    supported_head_dims_list() + ")");
  if (!supported_head_dim(s.Dv))
    reject("v", "value dim Dv = " + std::to_string(s.Dv) + " is not supported by the GPU kernel (supported: " +
                    supported_head_dims_list() + ")");
}

void check_input_dtype(DType t, const char* tensor) {
  if (!is_input_dtype(t))
    reject(tensor, "dtype " + std::string(dtype_label(t)) + " is not supported by the GPU kernel (bf16, fp16 or fp32)");
}

void check_grid(const Shape& s, std::size_t num_seqs, bool varlen) {
  if (s.HQ > 65535) reject("q", "query heads HQ = " + std::to_string(s.HQ) + " exceed the grid's 65535");
  if (num_seqs > 65535) reject(varlen ? "cu_seqlens" : "q", std::to_string(num_seqs) + " sequences exceed the grid's 65535");
}

namespace {

template <class View>
void check_view_impl(const char* name, const View& t, std::size_t expected, DType want) {
  if (t.dtype != want)
    reject(name, "dtype " + std::string(dtype_label(t.dtype)) + ", expected " + std::string(dtype_label(want)));
  if (t.numel != expected)
    reject(name, "has " + std::to_string(t.numel) + " elements, the shape requires " + std::to_string(expected));
  if (t.data == nullptr) reject(name, "data pointer is null");
  const std::size_t align = dtype_size(want);
  if (reinterpret_cast<std::uintptr_t>(t.data) % align != 0)
    reject(name, "data pointer is not aligned to its dtype's " + std::to_string(align) + " bytes");
}

}  // namespace

void check_view(const char* name, const DeviceTensor& t, std::size_t expected, DType want) {
  check_view_impl(name, t, expected, want);
}
void check_view(const char* name, const DeviceOutput& t, std::size_t expected, DType want) {
  check_view_impl(name, t, expected, want);
}

void check_optional_view(const char* name, const DeviceTensor& t, std::size_t expected) {
  if (t.data != nullptr) check_view(name, t, expected, DType::F32);
  else if (t.numel != 0) reject(name, "has " + std::to_string(t.numel) + " elements but a null data pointer");
}

void check_scale(double scale) {
  if (!std::isfinite(scale) || !std::isfinite(static_cast<float>(scale)))
    reject("scale", "is not finite in fp32 (" + std::to_string(scale) + ")");
}

StreamScratch::StreamScratch(std::size_t bytes, cudaStream_t stream) : stream_(stream) {
  if (bytes > 0) PATH_CUDA_CHECK(cudaMallocAsync(&ptr_, bytes, stream_));
}
StreamScratch::~StreamScratch() {
  if (ptr_) cudaFreeAsync(ptr_, stream_);  // not checked: a destructor must not throw
}

namespace {

std::vector<std::uint16_t> encode_16(const std::vector<double>& xs, DType t) {
  std::vector<std::uint16_t> out(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) out[i] = t == DType::BF16 ? encode_bf16(xs[i]) : encode_fp16(xs[i]);
  return out;
}

std::vector<std::uint32_t> encode_32(const std::vector<double>& xs) {
  std::vector<std::uint32_t> out(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) out[i] = encode_fp32(xs[i]);
  return out;
}

}  // namespace

detail::DeviceBuffer upload_as(const std::vector<double>& xs, DType t) {
  if (t == DType::F32) return detail::upload(encode_32(xs));
  if (t == DType::BF16 || t == DType::F16) return detail::upload(encode_16(xs, t));
  throw std::invalid_argument("upload_as: " + std::string(dtype_label(t)) + " is not bf16, fp16 or fp32");
}

std::vector<double> download_as(const void* device, std::size_t n, DType t) {
  std::vector<double> out(n);
  if (n == 0) return out;
  if (t == DType::F32) {
    std::vector<std::uint32_t> bits(n);
    PATH_CUDA_CHECK(cudaMemcpy(bits.data(), device, n * sizeof(std::uint32_t), cudaMemcpyDeviceToHost));
    for (std::size_t i = 0; i < n; ++i) out[i] = decode_fp32(bits[i]);
    return out;
  }
  if (t != DType::BF16 && t != DType::F16)
    throw std::invalid_argument("download_as: " + std::string(dtype_label(t)) + " is not bf16, fp16 or fp32");
  std::vector<std::uint16_t> bits(n);
  PATH_CUDA_CHECK(cudaMemcpy(bits.data(), device, n * sizeof(std::uint16_t), cudaMemcpyDeviceToHost));
  for (std::size_t i = 0; i < n; ++i) out[i] = t == DType::BF16 ? decode_bf16(bits[i]) : decode_fp16(bits[i]);
  return out;
}

std::vector<double> download_as(const detail::DeviceBuffer& d, std::size_t n, DType t) {
  return download_as(d.get(), n, t);
}

}  // namespace path::gpu::kernel_host
