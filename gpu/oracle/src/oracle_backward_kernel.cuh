#pragma once
// The fp64 GPU oracle's backward and key-cache kernels (included by oracle_backward.cu, and by
// tests/test_gpu_kernel_host.cpp through path/gpu/host_shim.hpp). Plain double throughout; the
// yardstick's own code, kept apart from the kernels under test (docs/design.md section 3).
//
// Backward, query-parallel reverse mode of docs/backward.md's raw logits (one CUDA block per
// (sequence, query head, tile of 16 queries), 8 lanes per query as in the forward oracle):
//   sweep 1, down (j = i .. 0): x = b_{j,i} = H_{j+1} ... H_i q_i; r_ij = k_j . x; P_ij = exp(s_ij - lse_i);
//       dS_ij = P_ij (dO_i . v_j - Delta_i); dr_ij = scale dS_ij; dk_j += dr_ij x (docs/backward.md (8));
//       dv_j += P_ij dO_i; dG_i += dS_ij, dG_j -= dS_ij (5); record dr_ij and w_j . x; x <- H_j x.
//   sweep 2, up (j = 0 .. i): y = sum_{j' < j} dr_ij' H_{j-1} ... H_{j'+1} k_j' is the adjoint of H_j x;
//       H_t enters r_ij' (j' < t <= i) as a_{j',t}^T H_t b_{t,i} (1), so dLoss/dH_j = sum_i y x^T with
//       x = b_{j,i}: dbeta_j += -(w_j.x)(w_j.y), dw_j += -beta_j (w_j.x) y (and the (w_j.y) x half in
//       sweep 3, where x is at hand again); record w_j . y; y <- H_j y + dr_ij k_j; finally dq_i = y (7).
//   sweep 3, down: dw_j += -beta_j (w_j.y) x.
//   dg_t = c sum_{i >= t} dG_i (6).
// Sums over queries (dk, dv, dw, dbeta, the key side of dG) are double atomicAdds, within a block
// into shared memory first; results are correct to double rounding but not bitwise reproducible.
//
// Key cache: one block per (sequence, kv head, tile of 16 keys); key j carried through
// H_{j+1}, ..., H_{L-1} one at a time.
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "oracle_backward_launch.hpp"
#include "path/gpu/kernel_support.cuh"

namespace path::gpu::oracle_backward_kernel {
// Internal linkage (see kernel_support.cuh).
namespace {

using kernel_support::i64;
using kernel_support::round_up;
using kernel_support::sequence_of;
using kernel_support::SequenceOf;
using oracle_detail::OracleBackwardArgs;
using oracle_detail::OracleKeyCacheArgs;

constexpr int kLanes = 8;
constexpr int kGroups = 16;
constexpr int kThreads = kLanes * kGroups;
constexpr std::size_t kSharedBudget = 48 * 1024;
constexpr int kMaxKeyTile = 64;

__device__ __forceinline__ double group_sum(double v) { return kernel_support::lane_group_sum<kLanes>(v); }

__device__ __forceinline__ i64 packed_at(i64 i, i64 j) { return i * (i + 1) / 2 + j; }

__device__ __forceinline__ double gated_logit(double raw, double scale, double gate_difference, bool fla) {
  return fla ? scale * (raw + gate_difference) : scale * raw + gate_difference;
}

__global__ void oracle_zero_kernel(double* __restrict__ p, i64 n) {
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += static_cast<i64>(gridDim.x) * blockDim.x)
    p[i] = 0.0;
}

// What every sweep block knows about itself.
struct QueryBlock {
  SequenceOf s;
  i64 hq, kv, i0, i, row_i, origin;
  int group, lane;
  bool active;
};

__device__ __forceinline__ QueryBlock query_block(const OracleBackwardArgs& a) {
  QueryBlock b;
  b.hq = blockIdx.y;
  b.s = sequence_of(a.cu_seqlens, blockIdx.z, a.T);
  b.i0 = static_cast<i64>(blockIdx.x) * kGroups;
  b.group = threadIdx.x / kLanes;
  b.lane = threadIdx.x % kLanes;
  b.i = b.i0 + b.group;
  b.active = b.i < b.s.length;
  b.kv = b.hq / (a.HQ / a.H);
  b.row_i = b.s.batch * a.T + b.s.begin + (b.active ? b.i : 0);
  const i64 L = b.s.length;
  b.origin = a.packed_base[blockIdx.z] * a.HQ + b.hq * (L * (L + 1) / 2);
  return b;
}

// Sweep 1 (down).
template <int CAP>
__global__ void __launch_bounds__(kThreads) oracle_backward_down_kernel(OracleBackwardArgs a, int key_tile) {
  const QueryBlock qb = query_block(a);
  const SequenceOf& s = qb.s;
  if (qb.i0 >= s.length) return;  // uniform across the block
  const int lane = qb.lane, D = static_cast<int>(a.D), Dv = static_cast<int>(a.Dv);
  const int DP = round_up(D, kLanes), VP = round_up(Dv, kLanes), KT = key_tile;
  double* const dr = a.dr + qb.origin;
  double* const xw = a.xw + qb.origin;

  PATH_DYNAMIC_SHARED(shared_raw);
  double* const ks = reinterpret_cast<double*>(shared_raw);  // [KT][DP]
  double* const ws = ks + KT * DP;                            // [KT][DP]
  double* const dk_tile = ws + KT * DP;                       // [KT][DP]
  double* const vs = dk_tile + KT * DP;                       // [KT][VP]
  double* const dv_tile = vs + KT * VP;                       // [KT][VP]
  double* const bs = dv_tile + KT * VP;                       // [KT]
  double* const gs = bs + KT;                                 // [KT]
  double* const dG_tile = gs + KT;                            // [KT]

  double x[CAP], dOi[CAP];
  double delta = 0.0;
  PATH_UNROLL
  for (int e = 0; e < CAP; ++e) {
    const int d = lane + e * kLanes;
    x[e] = (qb.active && d < D) ? a.q[(qb.row_i * a.HQ + qb.hq) * D + d] : 0.0;
    dOi[e] = (qb.active && d < Dv) ? a.dO[(qb.row_i * a.HQ + qb.hq) * Dv + d] : 0.0;
    if (d < Dv) delta = fma(dOi[e], (qb.active ? a.o[(qb.row_i * a.HQ + qb.hq) * Dv + d] : 0.0), delta);
  }
  delta = group_sum(delta);  // Delta_i = dO_i . o_i
  const double lse_i = qb.active ? a.lse[qb.row_i * a.HQ + qb.hq] : 0.0;
  const double Gi = (a.G && qb.active) ? a.G[qb.row_i * a.HQ + qb.hq] : 0.0;
  double dG_query = 0.0;

  const i64 i_last = min(qb.i0 + kGroups, s.length) - 1;
  for (i64 j0 = (i_last / KT) * KT; j0 >= 0; j0 -= KT) {
    const int kt = static_cast<int>(min(static_cast<i64>(KT), s.length - j0));
    __syncthreads();
    for (int idx = threadIdx.x; idx < kt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      const i64 at = ((s.batch * a.T + s.begin + j0 + r) * a.H + qb.kv) * D + d;
      ks[idx] = d < D ? a.k[at] : 0.0;
      ws[idx] = d < D ? a.w[at] : 0.0;
      dk_tile[idx] = 0.0;
    }
    for (int idx = threadIdx.x; idx < kt * VP; idx += blockDim.x) {
      const int r = idx / VP, d = idx % VP;
      vs[idx] = d < Dv ? a.v[((s.batch * a.T + s.begin + j0 + r) * a.H + qb.kv) * Dv + d] : 0.0;
      dv_tile[idx] = 0.0;
    }
    for (int r = threadIdx.x; r < kt; r += blockDim.x) {
      const i64 row = s.batch * a.T + s.begin + j0 + r;
      bs[r] = a.beta[row * a.H + qb.kv];
      gs[r] = a.G ? a.G[row * a.HQ + qb.hq] : 0.0;
      dG_tile[r] = 0.0;
    }
    __syncthreads();
    for (int r = kt - 1; r >= 0; --r) {
      const i64 j = j0 + r;
      const double* kr = ks + r * DP;
      const double* wr = ws + r * DP;
      const double* vr = vs + r * VP;
      double rk = 0.0, pw = 0.0, dp = 0.0;
      PATH_UNROLL
      for (int e = 0; e < CAP; ++e) {
        if (e * kLanes < DP) {
          rk = fma(kr[lane + e * kLanes], x[e], rk);
          pw = fma(wr[lane + e * kLanes], x[e], pw);
        }
        if (e * kLanes < VP) dp = fma(vr[lane + e * kLanes], dOi[e], dp);
      }
      rk = group_sum(rk);
      pw = group_sum(pw);
      dp = group_sum(dp);
      if (qb.active && j <= qb.i) {
        const double P = exp(gated_logit(rk, a.scale, Gi - gs[r], a.gate_fla) - lse_i);
        const double dS = P * (dp - delta);
        const double drv = a.scale * dS;
        dG_query += dS;
        PATH_UNROLL
        for (int e = 0; e < CAP; ++e) {
          if (lane + e * kLanes < D) atomicAdd(&dk_tile[r * DP + lane + e * kLanes], drv * x[e]);
          if (lane + e * kLanes < Dv) atomicAdd(&dv_tile[r * VP + lane + e * kLanes], P * dOi[e]);
        }
        if (lane == 0) {
          dr[packed_at(qb.i, j)] = drv;
          xw[packed_at(qb.i, j)] = pw;
          atomicAdd(&dG_tile[r], -dS);
        }
        const double along = bs[r] * pw;  // x <- H_j x
        PATH_UNROLL
        for (int e = 0; e < CAP; ++e)
          if (e * kLanes < DP) x[e] = fma(-along, wr[lane + e * kLanes], x[e]);
      }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < kt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      if (d < D) atomicAdd(&a.dk[((s.batch * a.T + s.begin + j0 + r) * a.H + qb.kv) * D + d], dk_tile[idx]);
    }
    for (int idx = threadIdx.x; idx < kt * VP; idx += blockDim.x) {
      const int r = idx / VP, d = idx % VP;
      if (d < Dv) atomicAdd(&a.dv[((s.batch * a.T + s.begin + j0 + r) * a.H + qb.kv) * Dv + d], dv_tile[idx]);
    }
    if (a.dG)
      for (int r = threadIdx.x; r < kt; r += blockDim.x)
        atomicAdd(&a.dG[(s.batch * a.T + s.begin + j0 + r) * a.HQ + qb.hq], dG_tile[r]);
  }
  if (a.dG && qb.active && lane == 0) atomicAdd(&a.dG[qb.row_i * a.HQ + qb.hq], dG_query);
}

// Sweep 2 (up): the adjoint y, dbeta, the (w.x) y half of dw, and dq.
template <int CAP>
__global__ void __launch_bounds__(kThreads) oracle_backward_up_kernel(OracleBackwardArgs a, int key_tile) {
  const QueryBlock qb = query_block(a);
  const SequenceOf& s = qb.s;
  if (qb.i0 >= s.length) return;
  const int lane = qb.lane, D = static_cast<int>(a.D), DP = round_up(D, kLanes), KT = key_tile;
  const double* const dr = a.dr + qb.origin;
  const double* const xw = a.xw + qb.origin;
  double* const yw = a.yw + qb.origin;

  PATH_DYNAMIC_SHARED(shared_raw);
  double* const ks = reinterpret_cast<double*>(shared_raw);  // [KT][DP]
  double* const ws = ks + KT * DP;                            // [KT][DP]
  double* const dw_tile = ws + KT * DP;                       // [KT][DP]
  double* const bs = dw_tile + KT * DP;                       // [KT]
  double* const dbeta_tile = bs + KT;                         // [KT]

  double y[CAP];
  PATH_UNROLL
  for (int e = 0; e < CAP; ++e) y[e] = 0.0;

  const i64 i_last = min(qb.i0 + kGroups, s.length) - 1;
  for (i64 j0 = 0; j0 <= i_last; j0 += KT) {
    const int kt = static_cast<int>(min(static_cast<i64>(KT), s.length - j0));
    __syncthreads();
    for (int idx = threadIdx.x; idx < kt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      const i64 at = ((s.batch * a.T + s.begin + j0 + r) * a.H + qb.kv) * D + d;
      ks[idx] = d < D ? a.k[at] : 0.0;
      ws[idx] = d < D ? a.w[at] : 0.0;
      dw_tile[idx] = 0.0;
    }
    for (int r = threadIdx.x; r < kt; r += blockDim.x) {
      bs[r] = a.beta[(s.batch * a.T + s.begin + j0 + r) * a.H + qb.kv];
      dbeta_tile[r] = 0.0;
    }
    __syncthreads();
    for (int r = 0; r < kt; ++r) {
      const i64 j = j0 + r;
      const double* kr = ks + r * DP;
      const double* wr = ws + r * DP;
      double pw = 0.0;
      PATH_UNROLL
      for (int e = 0; e < CAP; ++e)
        if (e * kLanes < DP) pw = fma(wr[lane + e * kLanes], y[e], pw);
      pw = group_sum(pw);  // w_j . y
      if (qb.active && j <= qb.i) {
        const double xwv = xw[packed_at(qb.i, j)], drv = dr[packed_at(qb.i, j)];
        const double along = bs[r] * pw;
        PATH_UNROLL
        for (int e = 0; e < CAP; ++e) {
          if (lane + e * kLanes < D) atomicAdd(&dw_tile[r * DP + lane + e * kLanes], -bs[r] * xwv * y[e]);
          if (e * kLanes < DP) y[e] = fma(drv, kr[lane + e * kLanes], fma(-along, wr[lane + e * kLanes], y[e]));
        }
        if (lane == 0) {
          yw[packed_at(qb.i, j)] = pw;
          atomicAdd(&dbeta_tile[r], -xwv * pw);
        }
      }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < kt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      if (d < D) atomicAdd(&a.dw[((s.batch * a.T + s.begin + j0 + r) * a.H + qb.kv) * D + d], dw_tile[idx]);
    }
    for (int r = threadIdx.x; r < kt; r += blockDim.x)
      atomicAdd(&a.dbeta[(s.batch * a.T + s.begin + j0 + r) * a.H + qb.kv], dbeta_tile[r]);
  }
  if (qb.active) {
    PATH_UNROLL
    for (int e = 0; e < CAP; ++e)
      if (lane + e * kLanes < D) a.dq[(qb.row_i * a.HQ + qb.hq) * D + lane + e * kLanes] = y[e];
  }
}

// Sweep 3 (down again): the (w.y) x half of dw.
template <int CAP>
__global__ void __launch_bounds__(kThreads) oracle_backward_down_again_kernel(OracleBackwardArgs a, int key_tile) {
  const QueryBlock qb = query_block(a);
  const SequenceOf& s = qb.s;
  if (qb.i0 >= s.length) return;
  const int lane = qb.lane, D = static_cast<int>(a.D), DP = round_up(D, kLanes), KT = key_tile;
  const double* const xw = a.xw + qb.origin;
  const double* const yw = a.yw + qb.origin;

  PATH_DYNAMIC_SHARED(shared_raw);
  double* const ws = reinterpret_cast<double*>(shared_raw);  // [KT][DP]
  double* const dw_tile = ws + KT * DP;                       // [KT][DP]
  double* const bs = dw_tile + KT * DP;                       // [KT]

  double x[CAP];
  PATH_UNROLL
  for (int e = 0; e < CAP; ++e) {
    const int d = lane + e * kLanes;
    x[e] = (qb.active && d < D) ? a.q[(qb.row_i * a.HQ + qb.hq) * D + d] : 0.0;
  }
  const i64 i_last = min(qb.i0 + kGroups, s.length) - 1;
  for (i64 j0 = (i_last / KT) * KT; j0 >= 0; j0 -= KT) {
    const int kt = static_cast<int>(min(static_cast<i64>(KT), s.length - j0));
    __syncthreads();
    for (int idx = threadIdx.x; idx < kt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      ws[idx] = d < D ? a.w[((s.batch * a.T + s.begin + j0 + r) * a.H + qb.kv) * D + d] : 0.0;
      dw_tile[idx] = 0.0;
    }
    for (int r = threadIdx.x; r < kt; r += blockDim.x) bs[r] = a.beta[(s.batch * a.T + s.begin + j0 + r) * a.H + qb.kv];
    __syncthreads();
    for (int r = kt - 1; r >= 0; --r) {
      const i64 j = j0 + r;
      if (qb.active && j <= qb.i) {  // no shuffle here: the recorded w.x advances x
        const double* wr = ws + r * DP;
        const double ywv = yw[packed_at(qb.i, j)];
        const double along = bs[r] * xw[packed_at(qb.i, j)];
        PATH_UNROLL
        for (int e = 0; e < CAP; ++e) {
          if (lane + e * kLanes < D) atomicAdd(&dw_tile[r * DP + lane + e * kLanes], -bs[r] * ywv * x[e]);
          if (e * kLanes < DP) x[e] = fma(-along, wr[lane + e * kLanes], x[e]);
        }
      }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < kt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      if (d < D) atomicAdd(&a.dw[((s.batch * a.T + s.begin + j0 + r) * a.H + qb.kv) * D + d], dw_tile[idx]);
    }
  }
}

// dg_t = c sum_{i >= t} dG_i, one thread per (sequence, query head).
__global__ void oracle_gate_gradient_kernel(OracleBackwardArgs a) {
  const i64 idx = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= a.num_seqs * a.HQ) return;
  const i64 hq = idx % a.HQ;
  const SequenceOf s = sequence_of(a.cu_seqlens, idx / a.HQ, a.T);
  const double factor = a.gate_fla ? a.scale : 1.0;
  double suffix = 0.0;
  for (i64 t = s.length - 1; t >= 0; --t) {
    const i64 at = (s.batch * a.T + s.begin + t) * a.HQ + hq;
    suffix += a.dG[at];
    a.dg[at] = factor * suffix;
  }
}

// The key cache by the definition: key j carried through H_{j+1}, ..., H_{L-1}.
template <int CAP>
__global__ void __launch_bounds__(kThreads) oracle_key_cache_kernel(OracleKeyCacheArgs a, int tile) {
  const i64 h = blockIdx.y;
  const SequenceOf s = sequence_of(a.cu_seqlens, blockIdx.z, a.T);
  const i64 j0 = static_cast<i64>(blockIdx.x) * kGroups;
  if (j0 >= s.length) return;
  const int group = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  const i64 j = j0 + group;
  const bool active = j < s.length;
  const int D = static_cast<int>(a.D), DP = round_up(D, kLanes), TT = tile;

  PATH_DYNAMIC_SHARED(shared_raw);
  double* const ws = reinterpret_cast<double*>(shared_raw);  // [TT][DP]
  double* const bs = ws + TT * DP;                            // [TT]

  const i64 at_j = ((s.batch * a.T + s.begin + (active ? j : 0)) * a.H + h) * D;
  double x[CAP];
  PATH_UNROLL
  for (int e = 0; e < CAP; ++e) {
    const int d = lane + e * kLanes;
    x[e] = (active && d < D) ? a.k[at_j + d] : 0.0;
  }
  for (i64 t0 = j0 + 1; t0 < s.length; t0 += TT) {
    const int tt = static_cast<int>(min(static_cast<i64>(TT), s.length - t0));
    __syncthreads();
    for (int idx = threadIdx.x; idx < tt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      ws[idx] = d < D ? a.w[((s.batch * a.T + s.begin + t0 + r) * a.H + h) * D + d] : 0.0;
    }
    for (int r = threadIdx.x; r < tt; r += blockDim.x) bs[r] = a.beta[(s.batch * a.T + s.begin + t0 + r) * a.H + h];
    __syncthreads();
    for (int r = 0; r < tt; ++r) {
      const double* wr = ws + r * DP;
      double pw = 0.0;
      PATH_UNROLL
      for (int e = 0; e < CAP; ++e)
        if (e * kLanes < DP) pw = fma(wr[lane + e * kLanes], x[e], pw);
      pw = group_sum(pw);
      if (active && t0 + r > j) {
        const double along = bs[r] * pw;
        PATH_UNROLL
        for (int e = 0; e < CAP; ++e)
          if (e * kLanes < DP) x[e] = fma(-along, wr[lane + e * kLanes], x[e]);
      }
    }
  }
  if (active) {
    PATH_UNROLL
    for (int e = 0; e < CAP; ++e)
      if (lane + e * kLanes < D) a.k_cache[at_j + lane + e * kLanes] = x[e];
  }
}

inline int per_lane(std::int64_t D, std::int64_t Dv) {
  const int widest = static_cast<int>(D > Dv ? D : Dv);
  const int need = (widest + kLanes - 1) / kLanes;
  int cap = 1;
  while (cap < need) cap *= 2;
  return cap;
}

inline int tile_for(std::size_t doubles_per_row) {
  std::size_t t = kSharedBudget / (doubles_per_row * sizeof(double));
  if (t > static_cast<std::size_t>(kMaxKeyTile)) t = kMaxKeyTile;
  return t < 1 ? 1 : static_cast<int>(t);
}

struct Grid {
  unsigned x = 1, y = 1, z = 1;
};

inline unsigned blocks_for(i64 n, unsigned threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

// Calls f(std::integral_constant<int, CAP>) for the instantiation covering D and Dv (up to 256).
template <class F>
void with_cap(int cap, F&& f) {
  switch (cap) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 4: return f(std::integral_constant<int, 4>{});
    case 8: return f(std::integral_constant<int, 8>{});
    case 16: return f(std::integral_constant<int, 16>{});
    case 32: return f(std::integral_constant<int, 32>{});
    default: break;
  }
  throw std::logic_error("oracle backward: no instantiation for " + std::to_string(cap) + " elements per lane");
}

// The whole backward after the forward (o, lse) and the gate scan, through
// launch(name, grid, threads, shared_bytes, kernel, args...). Expects dk, dv, dw, dbeta and dG
// zeroed (enqueue_oracle_zero).
template <class Launch>
void enqueue_oracle_backward(const OracleBackwardArgs& a, Launch& launch) {
  if (a.max_seq_len < 1 || a.num_seqs < 1) return;
  const i64 DP = round_up(static_cast<int>(a.D), kLanes), VP = round_up(static_cast<int>(a.Dv), kLanes);
  const std::size_t down_per = static_cast<std::size_t>(3 * DP + 2 * VP + 3), up_per = static_cast<std::size_t>(3 * DP + 2),
                    again_per = static_cast<std::size_t>(2 * DP + 1);
  const int down_tile = tile_for(down_per), up_tile = tile_for(up_per), again_tile = tile_for(again_per);
  const Grid sweeps{blocks_for(a.max_seq_len, kGroups), static_cast<unsigned>(a.HQ), static_cast<unsigned>(a.num_seqs)};
  with_cap(per_lane(a.D, a.Dv), [&](auto cap) {
    constexpr int CAP = decltype(cap)::value;
    launch("oracle_backward_down_kernel", sweeps, static_cast<unsigned>(kThreads),
           down_tile * down_per * sizeof(double), oracle_backward_down_kernel<CAP>, a, down_tile);
    launch("oracle_backward_up_kernel", sweeps, static_cast<unsigned>(kThreads), up_tile * up_per * sizeof(double),
           oracle_backward_up_kernel<CAP>, a, up_tile);
    launch("oracle_backward_down_again_kernel", sweeps, static_cast<unsigned>(kThreads),
           again_tile * again_per * sizeof(double), oracle_backward_down_again_kernel<CAP>, a, again_tile);
  });
  if (a.dG)
    launch("oracle_gate_gradient_kernel", Grid{blocks_for(a.num_seqs * a.HQ, 128)}, 128u, std::size_t(0),
           oracle_gate_gradient_kernel, a);
}

template <class Launch>
void enqueue_oracle_zero(double* p, i64 n, Launch& launch) {
  if (n < 1) return;
  const unsigned blocks = blocks_for(n, 128);
  launch("oracle_zero_kernel", Grid{blocks < 4096u ? blocks : 4096u}, 128u, std::size_t(0), oracle_zero_kernel, p, n);
}

template <class Launch>
void enqueue_oracle_key_cache(const OracleKeyCacheArgs& a, Launch& launch) {
  if (a.max_seq_len < 1 || a.num_seqs < 1) return;
  const std::size_t per = static_cast<std::size_t>(round_up(static_cast<int>(a.D), kLanes) + 1);
  const int tile = tile_for(per);
  with_cap(per_lane(a.D, a.D), [&](auto cap) {
    constexpr int CAP = decltype(cap)::value;
    launch("oracle_key_cache_kernel",
           Grid{blocks_for(a.max_seq_len, kGroups), static_cast<unsigned>(a.H), static_cast<unsigned>(a.num_seqs)},
           static_cast<unsigned>(kThreads), tile * per * sizeof(double), oracle_key_cache_kernel<CAP>, a, tile);
  });
}

}  // namespace
}  // namespace path::gpu::oracle_backward_kernel
