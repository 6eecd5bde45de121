// The low-precision backward's host side (path/gpu/backward.hpp): every check before a launch, the
// workspace, and the host convenience that runs the forward and the backward kernels.
#include "path/gpu/backward.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "backward_launch.hpp"
#include "host_support.hpp"
#include "path/core/rounding.hpp"
#include "path/gpu/cuda_check.hpp"
#include "path/gpu/device_buffer.hpp"
#include "path/validate.hpp"

namespace path::gpu {

using namespace kernel_host;
using path::detail::reject;

namespace {

// The workspace in bytes, and (with base) its pieces in `k`; the device copies of cu_seqlens and
// the packed bases follow it.
std::size_t place_workspace(backward_detail::BackwardKernelArgs& k, unsigned char* base,
                            const std::vector<SequenceRange>& seqs, bool gated, std::vector<std::int64_t>* bases,
                            std::size_t* tail_offset) {
  std::int64_t total = 0;
  std::vector<std::int64_t> b = backward_detail::packed_bases(seqs, total);
  const std::size_t main = backward_detail::workspace_layout(k, base, total, gated);
  if (bases) *bases = std::move(b);
  if (tail_offset) *tail_offset = main;
  return main + (2 * seqs.size() + 1) * sizeof(std::int64_t);
}

}  // namespace

void validate_backward_args(const BackwardArgs& a) {
  check_attention_args(a);  // the forward's problem, o and lse
  const Shape& s = a.shape;
  const DType in = a.q.dtype;
  check_view("do", a.dO, s.o_size(), in);
  check_view("dq", a.dq, s.q_size(), in);
  check_view("dk", a.dk, s.k_size(), in);
  check_view("dv", a.dv, s.v_size(), in);
  check_view("dw", a.dw, s.k_size(), DType::F32);
  check_view("dbeta", a.dbeta, s.beta_size(), DType::F32);
  if (a.g.data != nullptr) {
    check_view("dg", a.dg, s.g_size(), DType::F32);
  } else if (a.dg.data != nullptr || a.dg.numel != 0) {
    reject("dg", "is given but the problem has no gate g (dg exists only for gated problems)");
  }
}

std::size_t backward_workspace_bytes(const Shape& s, const std::vector<index_t>& cu_seqlens) {
  backward_detail::BackwardKernelArgs k;
  k.B = s.B;
  k.T = s.T;
  k.HQ = s.HQ;
  k.H = s.H;
  k.D = s.D;
  k.Dv = s.Dv;
  return place_workspace(k, nullptr, sequences_of(s, cu_seqlens), true, nullptr, nullptr);
}

void lowp_backward_device(const BackwardArgs& a) {
  validate_backward_args(a);
  const Shape& s = a.shape;
  const cudaStream_t stream = a.stream;
  const std::vector<SequenceRange> seqs = sequences_of(s, a.cu_seqlens);
  index_t max_len = 0;
  for (const SequenceRange& r : seqs) max_len = std::max(max_len, r.length);
  const bool gated = a.g.data != nullptr;

  backward_detail::BackwardKernelArgs k;
  k.in_type = a.q.dtype;
  k.q = a.q.data;
  k.k = a.k.data;
  k.v = a.v.data;
  k.o = a.o.data;
  k.dO = a.dO.data;
  k.w = static_cast<const float*>(a.w.data);
  k.beta = static_cast<const float*>(a.beta.data);
  k.g = gated ? static_cast<const float*>(a.g.data) : nullptr;
  k.lse = static_cast<const float*>(a.lse.data);
  k.num_seqs = static_cast<std::int64_t>(seqs.size());
  k.max_seq_len = max_len;
  k.B = s.B;
  k.T = s.T;
  k.HQ = s.HQ;
  k.H = s.H;
  k.D = s.D;
  k.Dv = s.Dv;
  k.scale = static_cast<float>(round_to(a.scale, DType::F32));
  k.gate_fla = a.gate_convention == GateConvention::fla;
  k.dq = a.dq.data;
  k.dk = a.dk.data;
  k.dv = a.dv.data;
  k.dw = static_cast<float*>(a.dw.data);
  k.dbeta = static_cast<float*>(a.dbeta.data);
  k.dg = gated ? static_cast<float*>(a.dg.data) : nullptr;

  const std::size_t bytes = place_workspace(k, nullptr, seqs, gated, nullptr, nullptr);
  StreamScratch scratch(bytes, stream);
  auto* base = static_cast<unsigned char*>(scratch.get());
  std::vector<std::int64_t> bases;
  std::size_t tail = 0;
  place_workspace(k, base, seqs, gated, &bases, &tail);
  auto* packed_base = reinterpret_cast<std::int64_t*>(base + tail);
  PATH_CUDA_CHECK(cudaMemcpyAsync(packed_base, bases.data(), bases.size() * sizeof(std::int64_t),
                                  cudaMemcpyHostToDevice, stream));
  k.packed_base = packed_base;
  if (!a.cu_seqlens.empty()) {
    auto* cu = packed_base + bases.size();
    PATH_CUDA_CHECK(cudaMemcpyAsync(cu, a.cu_seqlens.data(), a.cu_seqlens.size() * sizeof(std::int64_t),
                                    cudaMemcpyHostToDevice, stream));
    k.cu_seqlens = cu;
  }
  // The host vectors `bases` and a.cu_seqlens are pageable: cudaMemcpyAsync from pageable memory
  // returns only after the copy has been staged, so they may go out of scope after this.
  backward_detail::launch_backward(k, stream);
}

ForwardBackwardResult lowp_forward_backward(const Problem<double>& p, const std::vector<double>& dO, DType precision) {
  validate(p);
  validate_output_gradient(p, dO);
  check_head_dims(p.shape);  // before any allocation
  check_input_dtype(precision);
  const Shape& s = p.shape;
  const DType in = precision;
  using detail::DeviceBuffer;
  const DeviceBuffer q = upload_as(p.q, in), k = upload_as(p.k, in), v = upload_as(p.v, in);
  const DeviceBuffer w = upload_as(p.w, DType::F32), beta = upload_as(p.beta, DType::F32);
  const DeviceBuffer g = p.has_gate() ? upload_as(p.g, DType::F32) : DeviceBuffer();
  const DeviceBuffer d_o = upload_as(dO, in);
  const DeviceBuffer o = detail::poisoned(s.o_size() * dtype_size(in));
  const DeviceBuffer lse = detail::poisoned(s.lse_size() * sizeof(float));
  const DeviceBuffer dq = detail::poisoned(s.q_size() * dtype_size(in));
  const DeviceBuffer dk = detail::poisoned(s.k_size() * dtype_size(in));
  const DeviceBuffer dv = detail::poisoned(s.v_size() * dtype_size(in));
  const DeviceBuffer dw = detail::poisoned(s.k_size() * sizeof(float));
  const DeviceBuffer dbeta = detail::poisoned(s.beta_size() * sizeof(float));
  const DeviceBuffer dg = p.has_gate() ? detail::poisoned(s.g_size() * sizeof(float)) : DeviceBuffer();

  ForwardArgs f;
  // The plain backward recomputes every logit with the plain sweep's arithmetic and forms
  // P = exp(s - lse): its lse comes from the same sweep, so that each row of P sums to 1 in that
  // arithmetic. The tensor-core forward (another summation of s) pairs with the fast backward.
  f.kernel = ForwardKernel::plain;
  f.shape = s;
  f.scale = round_to(p.scale, DType::F32);
  f.gate_convention = p.gate_convention;
  f.q = {q.get(), s.q_size(), in};
  f.k = {k.get(), s.k_size(), in};
  f.v = {v.get(), s.v_size(), in};
  f.w = {w.get(), s.k_size(), DType::F32};
  f.beta = {beta.get(), s.beta_size(), DType::F32};
  if (p.has_gate()) f.g = {g.get(), s.g_size(), DType::F32};
  f.cu_seqlens = p.cu_seqlens;
  f.o = {o.get(), s.o_size(), in};
  f.lse = {lse.get(), s.lse_size(), DType::F32};
  lowp_forward_device(f);

  BackwardArgs b;
  b.shape = s;
  b.scale = f.scale;
  b.gate_convention = p.gate_convention;
  b.q = f.q;
  b.k = f.k;
  b.v = f.v;
  b.w = f.w;
  b.beta = f.beta;
  b.g = f.g;
  b.o = {o.get(), s.o_size(), in};
  b.lse = {lse.get(), s.lse_size(), DType::F32};
  b.dO = {d_o.get(), s.o_size(), in};
  b.cu_seqlens = p.cu_seqlens;
  b.dq = {dq.get(), s.q_size(), in};
  b.dk = {dk.get(), s.k_size(), in};
  b.dv = {dv.get(), s.v_size(), in};
  b.dw = {dw.get(), s.k_size(), DType::F32};
  b.dbeta = {dbeta.get(), s.beta_size(), DType::F32};
  if (p.has_gate()) b.dg = {dg.get(), s.g_size(), DType::F32};
  lowp_backward_device(b);
  PATH_CUDA_CHECK(cudaDeviceSynchronize());  // errors of the running kernels surface here

  ForwardBackwardResult r;
  r.forward = ForwardResult<double>{s, download_as(o, s.o_size(), in), download_as(lse, s.lse_size(), DType::F32)};
  r.gradients.shape = s;
  r.gradients.dq = download_as(dq, s.q_size(), in);
  r.gradients.dk = download_as(dk, s.k_size(), in);
  r.gradients.dv = download_as(dv, s.v_size(), in);
  r.gradients.dw = download_as(dw, s.k_size(), DType::F32);
  r.gradients.dbeta = download_as(dbeta, s.beta_size(), DType::F32);
  if (p.has_gate()) r.gradients.dg = download_as(dg, s.g_size(), DType::F32);
  return r;
}

}  // namespace path::gpu
