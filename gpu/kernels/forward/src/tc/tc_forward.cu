// The tensor-core forward's host side (tc_forward.hpp): can-run checks, the block table, scratch
// and launches of the kernels in tc_kernels.cuh.
#include "tc_forward.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "host_support.hpp"
#include "path/gpu/cuda_check.hpp"
#include "tc_kernels.cuh"

namespace path::gpu::tc_forward {
namespace {

void launch_split_planes(const float* src, std::uint32_t* planes, std::int64_t pairs, cudaStream_t stream) {
  const unsigned threads = 256;
  const auto blocks = static_cast<unsigned>(std::min<std::int64_t>((pairs + threads - 1) / threads, 65535));
  split_planes_kernel<<<blocks, threads, 0, stream>>>(src, planes, pairs);
  PATH_CUDA_CHECK_LAUNCH("tc_forward::split_planes_kernel");
}

template <class In, int D, int NS, bool PRESPLIT>
void launch_typed(const DevArgs& d, std::int64_t num_blocks, cudaStream_t stream) {
  const dim3 block(kThreads);
  const dim3 grid_kv(static_cast<unsigned>(num_blocks), static_cast<unsigned>(d.H));
  const dim3 grid_q(static_cast<unsigned>(num_blocks), static_cast<unsigned>(d.HQ));
  const std::size_t kv_bytes = prep_kv_bytes<D>(), q_bytes = prep_q_bytes<D>();
  const std::size_t main_bytes = main_shared_bytes<D, NS, PRESPLIT>(sizeof(In));
  kernel_host::allow_dynamic_shared(prep_kv_kernel<In, D>, kv_bytes, "tc_forward::prep_kv_kernel");
  kernel_host::allow_dynamic_shared(prep_q_kernel<In, D>, q_bytes, "tc_forward::prep_q_kernel");
  kernel_host::allow_dynamic_shared(main_kernel<In, D, NS, PRESPLIT>, main_bytes, "tc_forward::main_kernel");
  prep_kv_kernel<In, D><<<grid_kv, block, kv_bytes, stream>>>(d);
  PATH_CUDA_CHECK_LAUNCH("tc_forward::prep_kv_kernel");
  if constexpr (PRESPLIT) {
    launch_split_planes(d.kt, d.kt3, d.kt_plane, stream);
    launch_split_planes(d.wpt, d.wpt3, d.kt_plane, stream);
    launch_split_planes(d.w, d.w3, d.w_plane, stream);
  }
  prep_q_kernel<In, D><<<grid_q, block, q_bytes, stream>>>(d);
  PATH_CUDA_CHECK_LAUNCH("tc_forward::prep_q_kernel");
  main_kernel<In, D, NS, PRESPLIT><<<grid_q, block, main_bytes, stream>>>(d);
  PATH_CUDA_CHECK_LAUNCH("tc_forward::main_kernel");
}

template <class In, int D, bool PRESPLIT>
void launch_split(const DevArgs& d, std::int64_t nb, int ns, cudaStream_t stream) {
  switch (ns) {
    case 1: return launch_typed<In, D, 1, PRESPLIT>(d, nb, stream);
    case 2: return launch_typed<In, D, 2, PRESPLIT>(d, nb, stream);
    case 3: return launch_typed<In, D, 3, PRESPLIT>(d, nb, stream);
    default: break;
  }
  throw std::logic_error("tc_forward: split_terms " + std::to_string(ns) + " is not 1, 2 or 3");
}

template <class In>
void launch_dim(const DevArgs& d, const TcArgs& a, std::int64_t nb, cudaStream_t stream) {
  const int ns = a.split_terms;
  if (a.D == 64) return a.presplit ? launch_split<In, 64, true>(d, nb, ns, stream)
                                   : launch_split<In, 64, false>(d, nb, ns, stream);
  if (a.D == 128) return a.presplit ? launch_split<In, 128, true>(d, nb, ns, stream)
                                    : launch_split<In, 128, false>(d, nb, ns, stream);
  throw std::logic_error("tc_forward: D = " + std::to_string(a.D) + " is not 64 or 128");
}

// Rows of w the kernels read: up to the end of the last block (blocks lie in row order).
std::int64_t rows_read(const std::vector<TcBlock>& blocks) {
  std::int64_t rows = 0;
  for (const TcBlock& b : blocks) rows = std::max(rows, b.row0 + b.len);
  return rows;
}

}  // namespace

std::string cannot_run_reason(DType in_type, std::int64_t D, std::int64_t Dv) {
  if (in_type != DType::BF16 && in_type != DType::F16)
    return "input dtype " + std::string(dtype_label(in_type)) + " (the tensor-core kernel takes bf16 or fp16)";
  if (D != Dv) return "D != Dv (the tensor-core kernel needs D == Dv)";
  if (D != 64 && D != 128) return "D = " + std::to_string(D) + " (the tensor-core kernel takes 64 or 128)";
  int dev = 0, major = 0, minor = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) {
    (void)cudaGetLastError();
    return "no CUDA device";
  }
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess) {
    (void)cudaGetLastError();
    return "cannot query the device's compute capability";
  }
  if (major != 9) return "device sm_" + std::to_string(major * 10 + minor) + " (the tensor-core kernel is for sm_90)";
  cudaFuncAttributes attr{};
  if (cudaFuncGetAttributes(&attr, main_kernel<__nv_bfloat16, 64, 3>) != cudaSuccess || attr.binaryVersion < 80) {
    (void)cudaGetLastError();
    return "no sm_90 image of the tensor-core kernel in this build";
  }
  int optin = 0;
  if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess) {
    (void)cudaGetLastError();
    return "cannot query the shared-memory limit";
  }
  // The larger of the two variants (PATH_GPU_FORWARD_TC_PRESPLIT picks one at launch) at NS = 3.
  const std::size_t need = D == 64 ? std::max(main_shared_bytes<64>(2), main_shared_bytes<64, 3, true>(2))
                                   : std::max(main_shared_bytes<128>(2), main_shared_bytes<128, 3, true>(2));
  if (static_cast<std::size_t>(optin) < need) return "device shared memory per block below " + std::to_string(need);
  return {};
}

namespace {

// The scratch's parts in their order: sizes only through a ScratchLayout without a base (then the
// pointers are null), the pointers into it through one with. One list for both, so the bytes
// allocated are the bytes placed.
TcBlock* place_scratch(const TcArgs& a, kernel_host::ScratchLayout& lay, DevArgs& d) {
  const std::size_t D = static_cast<std::size_t>(a.D), unb = a.blocks.size();
  TcBlock* blocks = lay.take<TcBlock>(unb);
  d.kt = lay.take<float>(unb * a.H * BK * D);
  d.wpt = lay.take<float>(unb * a.H * BK * D);
  d.qt = lay.take<float>(unb * a.HQ * BK * D);
  d.rd = lay.take<float>(unb * a.HQ * BK * BK);
  if (a.presplit) {
    // The pre-split planes: kSplitPlanes x (K~, W'^T: each half the fp32 array's words; w likewise).
    const std::int64_t w_pairs = rows_read(a.blocks) * a.H * a.D / 2;
    const std::size_t kt_pairs = unb * a.H * BK * D / 2;
    d.kt3 = lay.take<std::uint32_t>(kSplitPlanes * kt_pairs);
    d.wpt3 = lay.take<std::uint32_t>(kSplitPlanes * kt_pairs);
    d.w3 = lay.take<std::uint32_t>(kSplitPlanes * static_cast<std::size_t>(w_pairs));
    d.kt_plane = static_cast<std::int64_t>(kt_pairs);
    d.w_plane = w_pairs;
  }
  return blocks;
}

}  // namespace

std::size_t scratch_bytes(const TcArgs& a) {
  kernel_host::ScratchLayout sizing;
  DevArgs d{};
  place_scratch(a, sizing, d);
  return sizing.bytes();
}

void launch(const TcArgs& a, cudaStream_t stream) {
  const std::int64_t nb = static_cast<std::int64_t>(a.blocks.size());
  if (nb == 0) return;
  if (a.HQ < 1 || a.H < 1 || a.HQ % a.H != 0) throw std::logic_error("tc_forward: HQ must be a multiple of H");
  if (a.HQ > 65535 || a.H > 65535) throw std::logic_error("tc_forward: more than 65535 heads");
  const std::size_t unb = static_cast<std::size_t>(nb);
  kernel_host::StreamScratch scratch(scratch_bytes(a), stream);
  kernel_host::ScratchLayout lay(static_cast<unsigned char*>(scratch.get()));
  DevArgs d{};
  TcBlock* blocks = place_scratch(a, lay, d);
  // From pageable memory: cudaMemcpyAsync returns once the source has been staged, so a.blocks
  // may go away afterwards (forward.cpp copies cu_seqlens the same way).
  PATH_CUDA_CHECK(cudaMemcpyAsync(blocks, a.blocks.data(), unb * sizeof(TcBlock), cudaMemcpyHostToDevice, stream));
  d.blocks = blocks;
  d.q = a.q;
  d.k = a.k;
  d.v = a.v;
  d.w = a.w;
  d.beta = a.beta;
  d.G = a.G;
  d.T = a.T;
  d.HQ = a.HQ;
  d.H = a.H;
  d.scale = a.scale;
  d.gate_fla = a.gate_fla;
  d.o = a.o;
  d.lse = a.lse;
  switch (a.in_type) {
    case DType::BF16: return launch_dim<__nv_bfloat16>(d, a, nb, stream);
    case DType::F16: return launch_dim<__half>(d, a, nb, stream);
    default: break;
  }
  throw std::logic_error("tc_forward: input dtype " + std::string(dtype_label(a.in_type)) + " is not bf16 or fp16");
}

}  // namespace path::gpu::tc_forward
