#pragma once
// The plain low-precision forward kernels under test (included by sweep.cu, and by
// tests/test_gpu_kernel_host.cpp, which runs them on the CPU through path/gpu/host_shim.hpp):
// q, k, v in bf16, fp16 or fp32, w, beta and the gate in fp32, arithmetic in fp32 (docs/design.md
// section 3). The naive sweep of docs/algorithms.md §2 with an online softmax, one CUDA block per
// (sequence, query head, tile of queries). Correctness first: docs/gpu.md. The fp64 GPU oracle
// that judges these kernels is separate code (gpu/oracle); nothing here is instantiated in double.
//
// Each query is carried by a group of kLanes lanes of one warp; lane `l` holds the components
// d = l, l + kLanes, l + 2 kLanes, ... of
//   x = H_{j+1} ... H_i q_i        (starts as q_i; the raw logit is r_ij = k_j . x, then x <- H_j x)
// and of the output accumulator. Keys are staged in shared memory in tiles of key_tile tokens,
// from the tile holding the block's last query down to position 0. For each key j (high to low)
// a group forms the two dot products k_j . x and w_j . x (butterfly sums over its lanes), stores
// the final logit s_ij = gated(scale, r_ij, G_i - G_j), and applies x <- x - beta_j (w_j . x) w_j.
// After each tile, the online softmax: new max, rescale by exp(m - m'), p = exp(s - m') summed for
// l, and the accumulator gains p v_j, with p rounded to the input type first (FlashAttention's
// practice, the same as path::emulate_forward). o = acc / l rounded to the input type, lse = m + log l.
//
// Control flow is uniform across each warp (queries past the end of the sequence and keys above
// the diagonal compute and discard), so the full-mask shuffles are always legal.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "lowp_math.cuh"
#include "path/gpu/kernel_support.cuh"
#include "sweep.hpp"

namespace path::gpu::forward_kernel {
// Internal linkage: each including translation unit (the CUDA one, the host-shim test) owns its copy,
// so nvcc's host stubs and the shim's host bodies never meet at link time.
namespace {

using forward_detail::SweepArgs;
using forward_detail::SweepConfig;
using kernel_support::i64;
using kernel_support::round_up;
using kernel_support::sequence_of;
using kernel_support::SequenceOf;

constexpr int kLanes = 8;                                // lanes carrying one query
constexpr int kQueriesPerBlock = 16;                     // queries (groups) per block
constexpr int kThreads = kLanes * kQueriesPerBlock;      // 128: whole warps
constexpr std::size_t kSharedBudget = 48 * 1024;         // no opt-in needed below this
constexpr int kMaxKeyTile = 64;
static_assert(32 % kLanes == 0 && kThreads % 32 == 0, "a query group must not straddle warps");

// Shared with the other kernels under test (gpu/kernels/common/src/lowp_math.cuh).
using lowp_math::from_acc;
using lowp_math::gate_scan_kernel;
using lowp_math::gated_logit;
using lowp_math::kIsInputType;
using lowp_math::round_to_input;
using lowp_math::to_acc;

__device__ __forceinline__ float group_sum(float v) { return kernel_support::lane_group_sum<kLanes>(v); }
__device__ __forceinline__ float group_max(float v) { return kernel_support::lane_group_max<kLanes>(v); }

// CAP: components of x (and of the accumulator) per lane; CAP * kLanes >= max(D, Dv) rounded up.
template <class In, int CAP>
__global__ void __launch_bounds__(kThreads) sweep_kernel(SweepArgs a, int key_tile) {
  static_assert(kIsInputType<In>, "the low-precision sweep takes bf16, fp16 or fp32 inputs");
  using Acc = float;  // fp32 arithmetic for every input type
  const In* __restrict__ q = static_cast<const In*>(a.q);
  const In* __restrict__ k = static_cast<const In*>(a.k);
  const In* __restrict__ v = static_cast<const In*>(a.v);
  const Acc* __restrict__ w = a.w;
  const Acc* __restrict__ beta = a.beta;
  const Acc* __restrict__ G = a.G;
  In* __restrict__ o = static_cast<In*>(a.o);
  Acc* __restrict__ lse = a.lse;

  const i64 hq = blockIdx.y;
  const SequenceOf s = sequence_of(a.cu_seqlens, blockIdx.z, a.T);
  const i64 i0 = static_cast<i64>(blockIdx.x) * kQueriesPerBlock;
  if (i0 >= s.length) return;  // uniform across the block

  const int group = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  const i64 i = i0 + group;  // this group's query, position within the sequence
  const bool active = i < s.length;
  const i64 kv = hq / (a.HQ / a.H);
  const int D = static_cast<int>(a.D), Dv = static_cast<int>(a.Dv);
  const int DP = round_up(D, kLanes), VP = round_up(Dv, kLanes);
  const int KT = key_tile;

  PATH_DYNAMIC_SHARED(shared_raw);
  Acc* const ks = reinterpret_cast<Acc*>(shared_raw);  // [KT][DP], zero padded past D
  Acc* const ws = ks + KT * DP;                         // [KT][DP]
  Acc* const vs = ws + KT * DP;                         // [KT][VP]
  Acc* const bs = vs + KT * VP;                         // [KT] beta
  Acc* const gs = bs + KT;                              // [KT] G_j
  Acc* const my_p = gs + KT + group * KT;               // [kQueriesPerBlock][KT]: logits, then p

  const i64 row_i = s.batch * a.T + s.begin + (active ? i : 0);  // token row of the query
  Acc x[CAP], acc[CAP];
  PATH_UNROLL
  for (int e = 0; e < CAP; ++e) {
    const int d = lane + e * kLanes;
    x[e] = (active && d < D) ? to_acc(q[(row_i * a.HQ + hq) * D + d]) : Acc(0);
    acc[e] = Acc(0);
  }
  const Acc Gi = (G && active) ? G[row_i * a.HQ + hq] : Acc(0);
  const Acc scale = a.scale;
  Acc m = -INFINITY, l = Acc(0);

  const i64 i_last = min(i0 + kQueriesPerBlock, s.length) - 1;
  for (i64 j0 = (i_last / KT) * KT; j0 >= 0; j0 -= KT) {
    const int kt = static_cast<int>(min(static_cast<i64>(KT), s.length - j0));
    __syncthreads();  // the previous tile is no longer read
    for (int idx = threadIdx.x; idx < kt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      const i64 at = ((s.batch * a.T + s.begin + j0 + r) * a.H + kv) * D + d;
      ks[idx] = d < D ? to_acc(k[at]) : Acc(0);
      ws[idx] = d < D ? w[at] : Acc(0);
    }
    for (int idx = threadIdx.x; idx < kt * VP; idx += blockDim.x) {
      const int r = idx / VP, d = idx % VP;
      vs[idx] = d < Dv ? to_acc(v[((s.batch * a.T + s.begin + j0 + r) * a.H + kv) * Dv + d]) : Acc(0);
    }
    for (int r = threadIdx.x; r < kt; r += blockDim.x) {
      const i64 row = s.batch * a.T + s.begin + j0 + r;
      bs[r] = beta[row * a.H + kv];
      gs[r] = G ? G[row * a.HQ + hq] : Acc(0);
    }
    __syncthreads();

    // The sweep through the tile's keys, high to low.
    for (int r = kt - 1; r >= 0; --r) {
      // r_ij = k_j . (H_{j+1} ... H_i q_i), then x <- H_j x (lowp_math::query_step, shared with the
      // backward's logit kernel so that both see the same logits).
      const bool valid = active && j0 + r <= i;
      const Acc raw = lowp_math::query_step<kLanes, CAP>(x, ks + r * DP, ws + r * DP, bs[r], lane, DP, valid);
      if (valid && lane == 0) my_p[r] = gated_logit(raw, scale, Gi - gs[r], a.gate_fla);
    }
    __syncwarp();

    // Online softmax over this tile's keys j0 .. j0 + nvalid - 1 (those with j <= i).
    const int nvalid = active ? static_cast<int>(max(i64(0), min(static_cast<i64>(kt), i - j0 + 1))) : 0;
    Acc tile_max = -INFINITY;
    for (int r = lane; r < nvalid; r += kLanes) tile_max = fmax(tile_max, my_p[r]);
    tile_max = group_max(tile_max);
    const Acc m_new = nvalid > 0 ? fmax(m, tile_max) : m;
    Acc psum = Acc(0);
    for (int r = lane; r < nvalid; r += kLanes) {
      const Acc p = lowp_math::exp_rn(my_p[r] - m_new);
      psum += p;
      my_p[r] = round_to_input<In>(p);
    }
    psum = group_sum(psum);
    __syncwarp();
    if (nvalid > 0) {
      const Acc alpha = lowp_math::exp_rn(m - m_new);  // 0 on a query's first tile (m = -inf)
      l = l * alpha + psum;
      m = m_new;
      PATH_UNROLL
      for (int e = 0; e < CAP; ++e) acc[e] *= alpha;
      for (int r = 0; r < nvalid; ++r) {
        const Acc p = my_p[r];
        const Acc* vr = vs + r * VP;
        PATH_UNROLL
        for (int e = 0; e < CAP; ++e)
          if (e * kLanes < VP) acc[e] = fma(p, vr[lane + e * kLanes], acc[e]);
      }
    }
  }

  if (active) {
    PATH_UNROLL
    for (int e = 0; e < CAP; ++e) {
      const int d = lane + e * kLanes;
      if (d < Dv) o[(row_i * a.HQ + hq) * Dv + d] = from_acc<In>(acc[e] / l);
    }
    if (lane == 0) lse[row_i * a.HQ + hq] = m + lowp_math::log_rn(l);
  }
}

inline int per_lane_elements(const SweepArgs& a) {
  const int widest = static_cast<int>(a.D > a.Dv ? a.D : a.Dv);
  const int need = (widest + kLanes - 1) / kLanes;
  int cap = 1;
  while (cap < need) cap *= 2;
  return cap;
}

// Lanes, queries per block, CAP and the key tile that fits the shared-memory budget.
inline SweepConfig make_sweep_config(const SweepArgs& a) {
  SweepConfig c;
  c.lanes_per_query = kLanes;
  c.queries_per_block = kQueriesPerBlock;
  c.per_lane_elements = per_lane_elements(a);
  const std::size_t DP = static_cast<std::size_t>(round_up(static_cast<int>(a.D), kLanes));
  const std::size_t VP = static_cast<std::size_t>(round_up(static_cast<int>(a.Dv), kLanes));
  const std::size_t per_key = (2 * DP + VP + 2 + kQueriesPerBlock) * sizeof(float);
  std::size_t kt = kSharedBudget / per_key;
  if (kt > static_cast<std::size_t>(kMaxKeyTile)) kt = kMaxKeyTile;
  if (kt < 1) kt = 1;
  c.key_tile = static_cast<int>(kt);
  c.shared_bytes = kt * per_key;
  return c;
}

// Calls launch(kernel) with the sweep kernel instantiated for input type In and the config's CAP.
// Head dims 16 to 128 (path::gpu::kSupportedHeadDims) need 2 to 16 components per lane.
template <class In, class Launch>
void with_sweep_kernel(int per_lane, Launch&& launch) {
  switch (per_lane) {
    case 2: return launch(sweep_kernel<In, 2>);
    case 4: return launch(sweep_kernel<In, 4>);
    case 8: return launch(sweep_kernel<In, 8>);
    case 16: return launch(sweep_kernel<In, 16>);
    default: break;
  }
  throw std::logic_error("sweep kernel: no instantiation for " + std::to_string(per_lane) + " elements per lane");
}

}  // namespace
}  // namespace path::gpu::forward_kernel
