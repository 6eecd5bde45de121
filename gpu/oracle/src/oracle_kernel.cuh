#pragma once
// The fp64 GPU oracle's kernels (included by oracle_launch.cu, and by
// tests/test_gpu_kernel_host.cpp, which runs them on the CPU through path/gpu/host_shim.hpp).
// Plain double throughout: inputs, parameters, arithmetic and outputs. This source belongs to the
// yardstick alone and is kept frozen; the kernels under test (gpu/kernels) have their own
// (docs/design.md section 3). docs/gpu.md describes the algorithm:
//
// the naive sweep of docs/algorithms.md §2 with an online softmax, one CUDA block per (sequence,
// query head, tile of queries). Each query is carried by a group of kLanes lanes of one warp; lane
// `l` holds the components d = l, l + kLanes, l + 2 kLanes, ... of
//   x = H_{j+1} ... H_i q_i        (starts as q_i; the raw logit is r_ij = k_j . x, then x <- H_j x)
// and of the output accumulator. Keys are staged in shared memory in tiles of key_tile tokens,
// from the tile holding the block's last query down to position 0. For each key j (high to low)
// a group forms the two dot products k_j . x and w_j . x (butterfly sums over its lanes), stores
// the final logit s_ij = gated(scale, r_ij, G_i - G_j), and applies x <- x - beta_j (w_j . x) w_j.
// After each tile, the online softmax: new max, rescale by exp(m - m'), p = exp(s - m') summed for
// l and added as p v_j to the accumulator (in double: the oracle rounds nothing to a lower type).
// o = acc / l, lse = m + log l.
//
// Control flow is uniform across each warp (queries past the end of the sequence and keys above
// the diagonal compute and discard), so the full-mask shuffles are always legal.
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "oracle_launch.hpp"
#include "path/gpu/kernel_support.cuh"

namespace path::gpu::oracle_kernel {
// Internal linkage: each including translation unit (the CUDA one, the host-shim test) owns its copy,
// so nvcc's host stubs and the shim's host bodies never meet at link time.
namespace {

using kernel_support::i64;
using kernel_support::round_up;
using kernel_support::sequence_of;
using kernel_support::SequenceOf;
using oracle_detail::OracleSweepArgs;
using oracle_detail::OracleSweepConfig;

constexpr int kLanes = 8;                                // lanes carrying one query
constexpr int kQueriesPerBlock = 16;                     // queries (groups) per block
constexpr int kThreads = kLanes * kQueriesPerBlock;      // 128: whole warps
constexpr std::size_t kSharedBudget = 48 * 1024;         // no opt-in needed below this
constexpr int kMaxKeyTile = 64;
static_assert(32 % kLanes == 0 && kThreads % 32 == 0, "a query group must not straddle warps");

__device__ __forceinline__ double group_sum(double v) { return kernel_support::lane_group_sum<kLanes>(v); }
__device__ __forceinline__ double group_max(double v) { return kernel_support::lane_group_max<kLanes>(v); }

// The final logit from the raw one for the chosen gate convention (docs/design.md section 1).
__device__ __forceinline__ double gated_logit(double raw, double scale, double gate_difference, bool fla) {
  return fla ? scale * (raw + gate_difference) : scale * raw + gate_difference;
}

// G_i = g_begin + ... + g_i, one thread per (sequence, query head), summed in order.
__global__ void oracle_gate_scan_kernel(const double* __restrict__ g, double* __restrict__ G,
                                        const i64* __restrict__ cu_seqlens, i64 num_seqs, i64 T, i64 HQ) {
  const i64 idx = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= num_seqs * HQ) return;
  const i64 hq = idx % HQ;
  const SequenceOf s = sequence_of(cu_seqlens, idx / HQ, T);
  double acc = 0.0;
  for (i64 t = 0; t < s.length; ++t) {
    const i64 at = (s.batch * T + s.begin + t) * HQ + hq;
    acc += g[at];
    G[at] = acc;
  }
}

// CAP: components of x (and of the accumulator) per lane; CAP * kLanes >= max(D, Dv) rounded up.
template <int CAP>
__global__ void __launch_bounds__(kThreads) oracle_sweep_kernel(OracleSweepArgs a, int key_tile) {
  const double* __restrict__ q = a.q;
  const double* __restrict__ k = a.k;
  const double* __restrict__ v = a.v;
  const double* __restrict__ w = a.w;
  const double* __restrict__ beta = a.beta;
  const double* __restrict__ G = a.G;
  double* __restrict__ o = a.o;
  double* __restrict__ lse = a.lse;

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
  double* const ks = reinterpret_cast<double*>(shared_raw);  // [KT][DP], zero padded past D
  double* const ws = ks + KT * DP;                            // [KT][DP]
  double* const vs = ws + KT * DP;                            // [KT][VP]
  double* const bs = vs + KT * VP;                            // [KT] beta
  double* const gs = bs + KT;                                 // [KT] G_j
  double* const my_p = gs + KT + group * KT;                  // [kQueriesPerBlock][KT]: logits, then p

  const i64 row_i = s.batch * a.T + s.begin + (active ? i : 0);  // token row of the query
  double x[CAP], acc[CAP];
  PATH_UNROLL
  for (int e = 0; e < CAP; ++e) {
    const int d = lane + e * kLanes;
    x[e] = (active && d < D) ? q[(row_i * a.HQ + hq) * D + d] : 0.0;
    acc[e] = 0.0;
  }
  const double Gi = (G && active) ? G[row_i * a.HQ + hq] : 0.0;
  const double scale = a.scale;
  double m = -INFINITY, l = 0.0;

  const i64 i_last = min(i0 + kQueriesPerBlock, s.length) - 1;
  for (i64 j0 = (i_last / KT) * KT; j0 >= 0; j0 -= KT) {
    const int kt = static_cast<int>(min(static_cast<i64>(KT), s.length - j0));
    __syncthreads();  // the previous tile is no longer read
    for (int idx = threadIdx.x; idx < kt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      const i64 at = ((s.batch * a.T + s.begin + j0 + r) * a.H + kv) * D + d;
      ks[idx] = d < D ? k[at] : 0.0;
      ws[idx] = d < D ? w[at] : 0.0;
    }
    for (int idx = threadIdx.x; idx < kt * VP; idx += blockDim.x) {
      const int r = idx / VP, d = idx % VP;
      vs[idx] = d < Dv ? v[((s.batch * a.T + s.begin + j0 + r) * a.H + kv) * Dv + d] : 0.0;
    }
    for (int r = threadIdx.x; r < kt; r += blockDim.x) {
      const i64 row = s.batch * a.T + s.begin + j0 + r;
      bs[r] = beta[row * a.H + kv];
      gs[r] = G ? G[row * a.HQ + hq] : 0.0;
    }
    __syncthreads();

    // The sweep through the tile's keys, high to low.
    for (int r = kt - 1; r >= 0; --r) {
      const double* kr = ks + r * DP;
      const double* wr = ws + r * DP;
      double dk = 0.0, dw = 0.0;
      PATH_UNROLL
      for (int e = 0; e < CAP; ++e) {
        if (e * kLanes < DP) {
          dk = fma(kr[lane + e * kLanes], x[e], dk);
          dw = fma(wr[lane + e * kLanes], x[e], dw);
        }
      }
      dk = group_sum(dk);  // r_ij = k_j . (H_{j+1} ... H_i q_i)
      dw = group_sum(dw);
      if (active && j0 + r <= i) {
        const double along = bs[r] * dw;  // x <- H_j x = x - beta_j (w_j . x) w_j
        PATH_UNROLL
        for (int e = 0; e < CAP; ++e)
          if (e * kLanes < DP) x[e] = fma(-along, wr[lane + e * kLanes], x[e]);
        if (lane == 0) my_p[r] = gated_logit(dk, scale, Gi - gs[r], a.gate_fla);
      }
    }
    __syncwarp();

    // Online softmax over this tile's keys j0 .. j0 + nvalid - 1 (those with j <= i).
    const int nvalid = active ? static_cast<int>(max(i64(0), min(static_cast<i64>(kt), i - j0 + 1))) : 0;
    double tile_max = -INFINITY;
    for (int r = lane; r < nvalid; r += kLanes) tile_max = fmax(tile_max, my_p[r]);
    tile_max = group_max(tile_max);
    const double m_new = nvalid > 0 ? fmax(m, tile_max) : m;
    double psum = 0.0;
    for (int r = lane; r < nvalid; r += kLanes) {
      const double p = exp(my_p[r] - m_new);
      psum += p;
      my_p[r] = p;
    }
    psum = group_sum(psum);
    __syncwarp();
    if (nvalid > 0) {
      const double alpha = exp(m - m_new);  // 0 on a query's first tile (m = -inf)
      l = l * alpha + psum;
      m = m_new;
      PATH_UNROLL
      for (int e = 0; e < CAP; ++e) acc[e] *= alpha;
      for (int r = 0; r < nvalid; ++r) {
        const double p = my_p[r];
        const double* vr = vs + r * VP;
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
      if (d < Dv) o[(row_i * a.HQ + hq) * Dv + d] = acc[e] / l;
    }
    if (lane == 0) lse[row_i * a.HQ + hq] = m + log(l);
  }
}

inline int per_lane_elements(const OracleSweepArgs& a) {
  const int widest = static_cast<int>(a.D > a.Dv ? a.D : a.Dv);
  const int need = (widest + kLanes - 1) / kLanes;
  int cap = 1;
  while (cap < need) cap *= 2;
  return cap;
}

// Lanes, queries per block, CAP and the key tile that fits the shared-memory budget.
inline OracleSweepConfig make_oracle_sweep_config(const OracleSweepArgs& a) {
  OracleSweepConfig c;
  c.lanes_per_query = kLanes;
  c.queries_per_block = kQueriesPerBlock;
  c.per_lane_elements = per_lane_elements(a);
  const std::size_t DP = static_cast<std::size_t>(round_up(static_cast<int>(a.D), kLanes));
  const std::size_t VP = static_cast<std::size_t>(round_up(static_cast<int>(a.Dv), kLanes));
  const std::size_t per_key = (2 * DP + VP + 2 + kQueriesPerBlock) * sizeof(double);
  std::size_t kt = kSharedBudget / per_key;
  if (kt > static_cast<std::size_t>(kMaxKeyTile)) kt = kMaxKeyTile;
  if (kt < 1) kt = 1;
  c.key_tile = static_cast<int>(kt);
  c.shared_bytes = kt * per_key;
  return c;
}

// Calls launch(kernel) with the sweep instantiated for the config's CAP (D, Dv up to 256).
template <class Launch>
void with_oracle_sweep_kernel(int per_lane, Launch&& launch) {
  switch (per_lane) {
    case 1: return launch(oracle_sweep_kernel<1>);
    case 2: return launch(oracle_sweep_kernel<2>);
    case 4: return launch(oracle_sweep_kernel<4>);
    case 8: return launch(oracle_sweep_kernel<8>);
    case 16: return launch(oracle_sweep_kernel<16>);
    case 32: return launch(oracle_sweep_kernel<32>);
    default: break;
  }
  throw std::logic_error("oracle sweep kernel: no instantiation for " + std::to_string(per_lane) +
                         " elements per lane");
}

}  // namespace
}  // namespace path::gpu::oracle_kernel
