// The low-precision forward's host side (path/gpu/forward.hpp): every check before the launch.
#include "path/gpu/forward.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "host_support.hpp"
#include "path/core/rounding.hpp"
#include "path/gpu/cuda_check.hpp"
#include "path/gpu/device_buffer.hpp"
#include "path/validate.hpp"
#include "sweep.hpp"
#include "tc/tc_forward.hpp"

namespace path::gpu {

using namespace kernel_host;

void validate_forward_args(const ForwardArgs& a) { check_attention_args(a); }

const char* forward_kernel_label(ForwardKernel k) {
  switch (k) {
    case ForwardKernel::automatic: return "auto";
    case ForwardKernel::plain: return "plain";
    case ForwardKernel::tensor_core: return "tensor-core";
  }
  return "?";
}

std::string tensor_core_cannot_run(const ForwardArgs& a) {
  return tc_forward::cannot_run_reason(a.q.dtype, a.shape.D, a.shape.Dv);
}

ForwardKernel resolve_forward_kernel(const ForwardArgs& a) {
  ForwardKernel want = a.kernel;
  if (want == ForwardKernel::automatic) {
    const char* env = std::getenv("PATH_GPU_FORWARD_KERNEL");
    const std::string e = env ? env : "";
    if (e == "plain") {
      want = ForwardKernel::plain;
    } else if (e == "tensor-core") {
      want = ForwardKernel::tensor_core;
    } else if (!e.empty() && e != "auto") {
      throw std::invalid_argument("PATH_GPU_FORWARD_KERNEL=" + e + ": expected plain, tensor-core or auto");
    }
  }
  if (want == ForwardKernel::plain) return want;
  const std::string why = tensor_core_cannot_run(a);
  if (want == ForwardKernel::tensor_core && !why.empty())
    throw std::invalid_argument("the tensor-core forward cannot run this problem: " + why);
  return why.empty() ? ForwardKernel::tensor_core : ForwardKernel::plain;
}

namespace {
// PATH_GPU_FORWARD_TC_SPLIT = 1, 2 or 3: bf16 terms per fp32 operand of the tensor-core GEMMs
// (default 3; docs/gpu-fast-forward.md).
int tc_split_terms() {
  const char* env = std::getenv("PATH_GPU_FORWARD_TC_SPLIT");
  if (!env || !*env) return 3;
  const std::string e = env;
  if (e == "1" || e == "2" || e == "3") return e[0] - '0';
  throw std::invalid_argument("PATH_GPU_FORWARD_TC_SPLIT=" + e + ": expected 1, 2 or 3");
}
// The tensor-core kernel's pre-split operand planes: on unless PATH_GPU_FORWARD_TC_PRESPLIT = 0 (the
// same results bit for bit, 20-33% faster on the H200, docs/gpu-fast-forward.md; 0 keeps the
// kernel that splits its operands in every warp, for comparison).
bool tc_presplit() {
  const char* env = std::getenv("PATH_GPU_FORWARD_TC_PRESPLIT");
  if (!env || !*env || std::string(env) == "1") return true;
  if (std::string(env) == "0") return false;
  throw std::invalid_argument("PATH_GPU_FORWARD_TC_PRESPLIT=" + std::string(env) + ": expected 0 or 1");
}
}  // namespace

namespace {
// The tensor-core kernel's arguments for `a` (its pointers, the blocks of its sequences and the
// split settings from the environment); G and scale as lowp_forward_device prepared them.
tc_forward::TcArgs tc_args_for(const ForwardArgs& a, const std::vector<SequenceRange>& seqs, const float* G,
                               float scale) {
  const Shape& s = a.shape;
  tc_forward::TcArgs ta;
  ta.in_type = a.q.dtype;
  ta.q = a.q.data;
  ta.k = a.k.data;
  ta.v = a.v.data;
  ta.w = static_cast<const float*>(a.w.data);
  ta.beta = static_cast<const float*>(a.beta.data);
  ta.G = G;
  ta.T = s.T;
  ta.HQ = s.HQ;
  ta.H = s.H;
  ta.D = s.D;
  ta.scale = scale;
  ta.gate_fla = a.gate_convention == GateConvention::fla;
  ta.o = a.o.data;
  ta.lse = static_cast<float*>(a.lse.data);
  std::vector<std::int64_t> batch, begin, length;
  for (const SequenceRange& r : seqs) {
    batch.push_back(r.batch);
    begin.push_back(r.begin);
    length.push_back(r.length);
  }
  ta.blocks = tc_forward::make_blocks(batch, begin, length, s.T);
  ta.split_terms = tc_split_terms();
  ta.presplit = tc_presplit();
  return ta;
}

// Where the gate scan's G starts in the scratch: after the copy of cu_seqlens, 256-byte aligned.
std::size_t gate_offset_of(const ForwardArgs& a) { return (a.cu_seqlens.size() * sizeof(std::int64_t) + 255) / 256 * 256; }
// The scratch every forward kernel gets: the copy of cu_seqlens and, with a gate, the scan's G.
std::size_t common_scratch_bytes(const ForwardArgs& a) {
  return gate_offset_of(a) + (a.g.data != nullptr ? a.shape.g_size() * sizeof(float) : 0);
}
}  // namespace

std::size_t forward_workspace_bytes(const ForwardArgs& a) {
  // The checks of the problem that do not need its tensors (the sizes below trust them).
  path::detail::check_shape(a.shape);
  check_head_dims(a.shape);
  check_input_dtype(a.q.dtype);
  path::detail::check_cu_seqlens(a.shape, a.cu_seqlens);
  const std::size_t common = common_scratch_bytes(a);
  if (resolve_forward_kernel(a) != ForwardKernel::tensor_core) return common;
  return common + tc_forward::scratch_bytes(tc_args_for(a, sequences_of(a.shape, a.cu_seqlens), nullptr, 1.0f));
}

void lowp_forward_device(const ForwardArgs& a) {
  validate_forward_args(a);
  const ForwardKernel kernel = resolve_forward_kernel(a);
  const Shape& s = a.shape;
  const cudaStream_t stream = a.stream;
  const std::vector<SequenceRange> seqs = sequences_of(s, a.cu_seqlens);
  index_t max_len = 0;
  for (const SequenceRange& r : seqs) max_len = std::max(max_len, r.length);

  const bool gate = a.g.data != nullptr;
  const std::size_t cu_bytes = a.cu_seqlens.size() * sizeof(std::int64_t);
  const std::size_t gate_offset = gate_offset_of(a);
  StreamScratch scratch(common_scratch_bytes(a), stream);
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
  if (kernel == ForwardKernel::tensor_core) {
    const tc_forward::TcArgs ta = tc_args_for(a, seqs, G, sa.scale);
    tc_forward::launch(ta, stream);
    return;
  }
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

ForwardResult<double> lowp_forward(const Problem<double>& p, DType precision, ForwardKernel kernel) {
  validate(p);
  check_head_dims(p.shape);  // before any allocation
  check_input_dtype(precision);
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
  a.kernel = kernel;
  lowp_forward_device(a);
  PATH_CUDA_CHECK(cudaDeviceSynchronize());  // errors of the running kernels surface here

  return ForwardResult<double>{s, download_as(dout, s.o_size(), in), download_as(dlse, s.lse_size(), DType::F32)};
}

}  // namespace path::gpu
