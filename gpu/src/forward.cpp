// The low-precision forward's host side (path/gpu/forward.hpp): every check before the launch.
#include "path/gpu/forward.hpp"

#include <cuda_runtime_api.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cuda_check.hpp"
#include "device_buffer.hpp"
#include "path/validate.hpp"
#include "sweep.hpp"

namespace path::gpu {

std::string_view to_string(DType t) {
  switch (t) {
    case DType::bf16: return "bf16";
    case DType::fp16: return "fp16";
    case DType::fp32: return "fp32";
    case DType::fp64: return "fp64";
  }
  return "?";
}

std::size_t size_of(DType t) {
  switch (t) {
    case DType::bf16:
    case DType::fp16: return 2;
    case DType::fp32: return 4;
    case DType::fp64: return 8;
  }
  return 0;
}

namespace {

using path::detail::reject;

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
    reject(name, "dtype " + std::string(to_string(t.dtype)) + ", expected " + std::string(to_string(want)));
  if (t.numel != expected)
    reject(name, "has " + std::to_string(t.numel) + " elements, the shape requires " + std::to_string(expected));
  if (t.data == nullptr) reject(name, "data pointer is null");
}

detail::ElemType elem_type(DType t) {
  switch (t) {
    case DType::bf16: return detail::ElemType::bf16;
    case DType::fp16: return detail::ElemType::f16;
    case DType::fp32: return detail::ElemType::f32;
    case DType::fp64: break;
  }
  throw std::logic_error("elem_type: fp64 is not a low-precision input type");
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
  if (in != DType::bf16 && in != DType::fp16 && in != DType::fp32)
    reject("q", "dtype " + std::string(to_string(in)) + " is not supported by the GPU kernel (bf16, fp16 or fp32)");
  check_view("q", a.q, s.q_size(), in);
  check_view("k", a.k, s.k_size(), in);
  check_view("v", a.v, s.v_size(), in);
  check_view("w", a.w, s.k_size(), DType::fp32);
  check_view("beta", a.beta, s.beta_size(), DType::fp32);
  if (a.g.data != nullptr) check_view("g", a.g, s.g_size(), DType::fp32);
  else if (a.g.numel != 0) reject("g", "has " + std::to_string(a.g.numel) + " elements but a null data pointer");
  check_view("o", a.o, s.o_size(), in);
  check_view("lse", a.lse, s.lse_size(), DType::fp32);
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
  void* G = gate ? base + gate_offset : nullptr;

  detail::SweepArgs sa;
  sa.in_type = elem_type(a.q.dtype);
  sa.q = a.q.data;
  sa.k = a.k.data;
  sa.v = a.v.data;
  sa.w = a.w.data;
  sa.beta = a.beta.data;
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
  sa.scale = static_cast<float>(a.scale);
  sa.gate_fla = a.gate_convention == GateConvention::fla;
  sa.o = a.o.data;
  sa.lse = a.lse.data;
  if (gate) detail::launch_cumulative_gate(false, a.g.data, G, cu, sa.num_seqs, s.T, s.HQ, stream);
  detail::launch_sweep(sa, stream);
}

Problem<double> rounded_problem(const Problem<double>& p, InputPrecision precision) {
  Problem<double> r = p;
  for (auto* t : {&r.q, &r.k, &r.v})
    for (double& x : *t) x = round_to_precision(static_cast<float>(x), precision);
  for (auto* t : {&r.w, &r.beta, &r.g})
    for (double& x : *t) x = static_cast<float>(x);
  r.scale = static_cast<float>(r.scale);
  return r;
}

namespace {

DType dtype_of(InputPrecision p) {
  switch (p) {
    case InputPrecision::bf16: return DType::bf16;
    case InputPrecision::fp16: return DType::fp16;
    case InputPrecision::fp32: return DType::fp32;
  }
  return DType::fp32;
}

// Host bits of a tensor in the input type (rounded as round_to_precision does: via fp32).
std::vector<std::uint16_t> to_half_bits(const std::vector<double>& xs, InputPrecision p) {
  std::vector<std::uint16_t> out(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const float f = static_cast<float>(xs[i]);
    out[i] = p == InputPrecision::bf16 ? Eigen::numext::bit_cast<std::uint16_t>(Eigen::bfloat16(f))
                                       : Eigen::numext::bit_cast<std::uint16_t>(Eigen::half(f));
  }
  return out;
}

std::vector<float> to_float(const std::vector<double>& xs) { return std::vector<float>(xs.begin(), xs.end()); }

detail::DeviceBuffer upload_input(const std::vector<double>& xs, InputPrecision p) {
  if (p == InputPrecision::fp32) return detail::upload(to_float(xs));
  return detail::upload(to_half_bits(xs, p));
}

std::vector<double> download_output(const detail::DeviceBuffer& d, std::size_t n, InputPrecision p) {
  std::vector<double> out(n);
  if (p == InputPrecision::fp32) {
    const std::vector<float> f = detail::download<float>(d, n);
    std::copy(f.begin(), f.end(), out.begin());
    return out;
  }
  const std::vector<std::uint16_t> bits = detail::download<std::uint16_t>(d, n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = p == InputPrecision::bf16 ? static_cast<double>(Eigen::numext::bit_cast<Eigen::bfloat16>(bits[i]))
                                       : static_cast<double>(Eigen::numext::bit_cast<Eigen::half>(bits[i]));
  return out;
}

}  // namespace

ForwardResult<double> lowp_forward(const Problem<double>& p, InputPrecision precision) {
  validate(p);
  check_head_dims(p.shape);  // before any allocation
  const Shape& s = p.shape;
  const DType in = dtype_of(precision);
  const detail::DeviceBuffer dq = upload_input(p.q, precision), dk = upload_input(p.k, precision),
                             dv = upload_input(p.v, precision);
  const detail::DeviceBuffer dw = detail::upload(to_float(p.w)), dbeta = detail::upload(to_float(p.beta));
  const detail::DeviceBuffer dg = p.has_gate() ? detail::upload(to_float(p.g)) : detail::DeviceBuffer();
  const detail::DeviceBuffer dout = detail::poisoned(s.o_size() * size_of(in));
  const detail::DeviceBuffer dlse = detail::poisoned(s.lse_size() * sizeof(float));

  ForwardArgs a;
  a.shape = s;
  a.scale = static_cast<float>(p.scale);
  a.gate_convention = p.gate_convention;
  a.q = {dq.get(), s.q_size(), in};
  a.k = {dk.get(), s.k_size(), in};
  a.v = {dv.get(), s.v_size(), in};
  a.w = {dw.get(), s.k_size(), DType::fp32};
  a.beta = {dbeta.get(), s.beta_size(), DType::fp32};
  if (p.has_gate()) a.g = {dg.get(), s.g_size(), DType::fp32};
  a.cu_seqlens = p.cu_seqlens;
  a.o = {dout.get(), s.o_size(), in};
  a.lse = {dlse.get(), s.lse_size(), DType::fp32};
  lowp_forward_device(a);
  PATH_CUDA_CHECK(cudaDeviceSynchronize());  // errors of the running kernels surface here

  ForwardResult<double> r{s, download_output(dout, s.o_size(), precision), {}};
  const std::vector<float> lse = detail::download<float>(dlse, s.lse_size());
  r.lse.assign(lse.begin(), lse.end());
  return r;
}

}  // namespace path::gpu
