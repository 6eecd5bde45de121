// The low-precision forward's host side (path/gpu/forward.hpp): every check before the launch.
#include "path/gpu/forward.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "path/core/rounding.hpp"
#include "path/gpu/cuda_check.hpp"
#include "path/gpu/device_buffer.hpp"
#include "path/validate.hpp"
#include "sweep.hpp"

namespace path::gpu {

namespace {

using path::detail::reject;

bool is_input_dtype(DType t) { return t == DType::BF16 || t == DType::F16 || t == DType::F32; }

bool supported_head_dim(index_t d) {
  return std::find(std::begin(kSupportedHeadDims), std::end(kSupportedHeadDims), d) != std::end(kSupportedHeadDims);
}

std::string supported_list() {
  std::string out;
  for (index_t d : kSupportedHeadDims) out += (out.empty() ? "" : ", ") + std::to_string(d);
  return out;
}

void check_head_dims(const Shape& s) {
  if (!supported_head_dim(s.D))
    reject("q", "head dim D = " + std::to_string(s.D) + " is not supported by the GPU kernel (supported: " +
                    supported_list() + ")");
  if (!supported_head_dim(s.Dv))
    reject("v", "value dim Dv = " + std::to_string(s.Dv) + " is not supported by the GPU kernel (supported: " +
                    supported_list() + ")");
}

void check_grid(const Shape& s, std::size_t num_seqs, bool varlen) {
  if (s.HQ > 65535) reject("q", "query heads HQ = " + std::to_string(s.HQ) + " exceed the grid's 65535");
  if (num_seqs > 65535) reject(varlen ? "cu_seqlens" : "q", std::to_string(num_seqs) + " sequences exceed the grid's 65535");
}

template <class View>
void check_view(const char* name, const View& t, std::size_t expected, DType want) {
  if (t.dtype != want)
    reject(name, "dtype " + std::string(dtype_label(t.dtype)) + ", expected " + std::string(dtype_label(want)));
  if (t.numel != expected)
    reject(name, "has " + std::to_string(t.numel) + " elements, the shape requires " + std::to_string(expected));
  if (t.data == nullptr) reject(name, "data pointer is null");
}

// Stream-ordered scratch, freed on every path out (in stream order).
class StreamScratch {
 public:
  StreamScratch(std::size_t bytes, cudaStream_t stream) : stream_(stream) {
    if (bytes > 0) PATH_CUDA_CHECK(cudaMallocAsync(&ptr_, bytes, stream_));
  }
  StreamScratch(const StreamScratch&) = delete;
  StreamScratch& operator=(const StreamScratch&) = delete;
  ~StreamScratch() {
    if (ptr_) cudaFreeAsync(ptr_, stream_);
  }
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
  cudaStream_t stream_;
};

}  // namespace

void validate_forward_args(const ForwardArgs& a) {
  path::detail::check_shape(a.shape);
  const Shape& s = a.shape;
  check_head_dims(s);
  const DType in = a.q.dtype;
  if (!is_input_dtype(in))
    reject("q", "dtype " + std::string(dtype_label(in)) + " is not supported by the GPU kernel (bf16, fp16 or fp32)");
  check_view("q", a.q, s.q_size(), in);
  check_view("k", a.k, s.k_size(), in);
  check_view("v", a.v, s.v_size(), in);
  check_view("w", a.w, s.k_size(), DType::F32);
  check_view("beta", a.beta, s.beta_size(), DType::F32);
  if (a.g.data != nullptr) check_view("g", a.g, s.g_size(), DType::F32);
  else if (a.g.numel != 0) reject("g", "has " + std::to_string(a.g.numel) + " elements but a null data pointer");
  check_view("o", a.o, s.o_size(), in);
  check_view("lse", a.lse, s.lse_size(), DType::F32);
  if (!std::isfinite(a.scale) || !std::isfinite(static_cast<float>(a.scale)))
    reject("scale", "is not finite in fp32 (" + std::to_string(a.scale) + ")");
  path::detail::check_cu_seqlens(s, a.cu_seqlens);
  check_grid(s, a.cu_seqlens.empty() ? static_cast<std::size_t>(s.B) : a.cu_seqlens.size() - 1, !a.cu_seqlens.empty());
}

void lowp_forward_device(const ForwardArgs& a) {
  validate_forward_args(a);
  const Shape& s = a.shape;
  const cudaStream_t stream = a.stream;
  const std::vector<SequenceRange> seqs = sequences_of(s, a.cu_seqlens);
  index_t max_len = 0;
  for (const SequenceRange& r : seqs) max_len = std::max(max_len, r.length);

  const bool gate = a.g.data != nullptr;
  const std::size_t cu_bytes = a.cu_seqlens.size() * sizeof(std::int64_t);
  const std::size_t gate_offset = (cu_bytes + 255) / 256 * 256;
  StreamScratch scratch(gate_offset + (gate ? s.g_size() * sizeof(float) : 0), stream);
  auto* base = static_cast<unsigned char*>(scratch.get());
  const std::int64_t* cu = nullptr;
  if (!a.cu_seqlens.empty()) {
    PATH_CUDA_CHECK(cudaMemcpyAsync(base, a.cu_seqlens.data(), cu_bytes, cudaMemcpyHostToDevice, stream));
    cu = reinterpret_cast<const std::int64_t*>(base);
  }
  float* G = gate ? reinterpret_cast<float*>(base + gate_offset) : nullptr;

  forward_detail::SweepArgs sa;
  sa.in_type = a.q.dtype;
  sa.q = a.q.data;
  sa.k = a.k.data;
  sa.v = a.v.data;
  sa.w = static_cast<const float*>(a.w.data);
  sa.beta = static_cast<const float*>(a.beta.data);
  sa.G = G;
  sa.cu_seqlens = cu;
  sa.num_seqs = static_cast<std::int64_t>(seqs.size());
  sa.max_seq_len = max_len;
  sa.B = s.B;
  sa.T = s.T;
  sa.HQ = s.HQ;
  sa.H = s.H;
  sa.D = s.D;
  sa.Dv = s.Dv;
  sa.scale = static_cast<float>(round_to(a.scale, DType::F32));  // the nearest fp32 (then an exact conversion)
  sa.gate_fla = a.gate_convention == GateConvention::fla;
  sa.o = a.o.data;
  sa.lse = static_cast<float*>(a.lse.data);
  if (gate) forward_detail::launch_gate_scan(static_cast<const float*>(a.g.data), G, cu, sa.num_seqs, s.T, s.HQ, stream);
  forward_detail::launch_sweep(sa, stream);
}

Problem<double> rounded_problem(const Problem<double>& p, DType precision) {
  if (!is_input_dtype(precision))
    throw std::invalid_argument("rounded_problem: " + std::string(dtype_label(precision)) +
                                " is not an input dtype of the GPU kernel (bf16, fp16 or fp32)");
  Problem<double> r = p;
  for (auto* t : {&r.q, &r.k, &r.v})
    for (double& x : *t) x = round_to(x, precision);  // straight from double: no double rounding
  for (auto* t : {&r.w, &r.beta, &r.g})
    for (double& x : *t) x = round_to(x, DType::F32);
  r.scale = round_to(r.scale, DType::F32);
  return r;
}

namespace {

// Host images of a tensor for upload, through the one rounding codec (core/rounding.hpp): bf16 and
// fp16 as 16-bit patterns, fp32 as 32-bit patterns (the bytes of the nearest float). Values that
// are already of the type (a conformance case's inputs) are encoded exactly.
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

detail::DeviceBuffer upload_as(const std::vector<double>& xs, DType t) {
  if (t == DType::F32) return detail::upload(encode_32(xs));
  return detail::upload(encode_16(xs, t));
}

// A device tensor of type t back to double (exact: every value of t is a double).
std::vector<double> download_as(const detail::DeviceBuffer& d, std::size_t n, DType t) {
  std::vector<double> out(n);
  if (t == DType::F32) {
    const std::vector<std::uint32_t> bits = detail::download<std::uint32_t>(d, n);
    for (std::size_t i = 0; i < n; ++i) out[i] = decode_fp32(bits[i]);
    return out;
  }
  const std::vector<std::uint16_t> bits = detail::download<std::uint16_t>(d, n);
  for (std::size_t i = 0; i < n; ++i) out[i] = t == DType::BF16 ? decode_bf16(bits[i]) : decode_fp16(bits[i]);
  return out;
}

}  // namespace

ForwardResult<double> lowp_forward(const Problem<double>& p, DType precision) {
  validate(p);
  check_head_dims(p.shape);  // before any allocation
  if (!is_input_dtype(precision))
    reject("q", "dtype " + std::string(dtype_label(precision)) + " is not supported by the GPU kernel (bf16, fp16 or fp32)");
  const Shape& s = p.shape;
  const DType in = precision;
  const detail::DeviceBuffer dq = upload_as(p.q, in), dk = upload_as(p.k, in), dv = upload_as(p.v, in);
  const detail::DeviceBuffer dw = upload_as(p.w, DType::F32), dbeta = upload_as(p.beta, DType::F32);
  const detail::DeviceBuffer dg = p.has_gate() ? upload_as(p.g, DType::F32) : detail::DeviceBuffer();
  const detail::DeviceBuffer dout = detail::poisoned(s.o_size() * dtype_size(in));
  const detail::DeviceBuffer dlse = detail::poisoned(s.lse_size() * dtype_size(DType::F32));

  ForwardArgs a;
  a.shape = s;
  a.scale = round_to(p.scale, DType::F32);
  a.gate_convention = p.gate_convention;
  a.q = {dq.get(), s.q_size(), in};
  a.k = {dk.get(), s.k_size(), in};
  a.v = {dv.get(), s.v_size(), in};
  a.w = {dw.get(), s.k_size(), DType::F32};
  a.beta = {dbeta.get(), s.beta_size(), DType::F32};
  if (p.has_gate()) a.g = {dg.get(), s.g_size(), DType::F32};
  a.cu_seqlens = p.cu_seqlens;
  a.o = {dout.get(), s.o_size(), in};
  a.lse = {dlse.get(), s.lse_size(), DType::F32};
  lowp_forward_device(a);
  PATH_CUDA_CHECK(cudaDeviceSynchronize());  // errors of the running kernels surface here

  return ForwardResult<double>{s, download_as(dout, s.o_size(), in), download_as(dlse, s.lse_size(), DType::F32)};
}

}  // namespace path::gpu
