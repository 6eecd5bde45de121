#pragma once
// The plain low-precision backward kernels under test (included by backward.cu, and by
// tests/test_gpu_kernel_host.cpp, which runs them on the CPU through path/gpu/host_shim.hpp).
// q, k, v, o, dO in bf16, fp16 or fp32; w, beta, g, lse in fp32; every intermediate in fp32.
// The algorithm is the closed-form backward of docs/backward.md (sections 2-5):
//
//   logits_kernel, query-parallel (one block per (sequence, query head, 16 queries), as the forward
//       kernel; the query's x = H_{j+1} ... H_t q_t carried down the keys j = t .. 0 by
//       lowp_math::query_step, the forward's own step, so the logits s_tj are bitwise the
//       forward's): P_tj = exp(s_tj - lse_t) with the forward's lse, dP_tj = dO_t . v_j,
//       Delta_t = dO_t . o_t with the forward's o, dS_tj = P_tj (dP_tj - Delta_t), dr_tj = scale dS_tj
//       (docs/backward.md (3)-(4)); the query's side of dG (5). Stores dr_tj and P_tj. P, lse and o
//       all come from the same logits, so the softmax backward is that of one (slightly perturbed)
//       problem; logits recomputed along the keys' chain (below) differ from the forward's by
//       rounding, and mixing them with the forward's lse and o measured 2-4x the baseline's error
//       on fp32 gradients with beta near 2 (docs/gpu.md).
//
// Then three key-parallel sweeps: one block per (sequence, query head hq, tile of kKeysPerBlock
// keys); key j carried by a group of kLanes lanes of one warp, lane l holding components
// l, l + kLanes, ...; the queries t staged in shared memory in tiles of `tile` positions:
//
//   cache_up_kernel (t = j .. L-1):  a = a_{j,t} -> aw_tj = a.w_t (t > j), a <- H_t a = a_{j,t+1};
//       dq_t += dr_tj a_{j,t+1} (7); dv_j += P_tj dO_t (3); the key's side of dG. Stores aw_tj.
//   queries_down_kernel (t = L-1 .. j):  c = c_{j,t+1} -> with u = t + 1: cw_uj = c.w_u,
//       (G_u^T w_u) += aw_uj c, w_u^T G_u w_u += aw_uj cw_uj (13), c <- H_u c; c += dr_tj q_t (10);
//       at t = j: dk_j = c_{j,j} (8). Stores cw_uj (over P_uj, no longer needed).
//   cache_up_again_kernel (t = j+1 .. L-1):  a = a_{j,t} -> (G_t w_t) += cw_tj a (13);
//       a <- H_t a with the recorded aw_tj (no second projection).
//   finish kernels: dw_t = -beta_t (G_t + G_t^T) w_t, dbeta_t = -w_t^T G_t w_t (12), the outputs
//       rounded to their dtypes, dg_t = c sum_{i >= t} dG_i (6).
//
// Every dot product is compensated (lowp_math::group_dot, Dot2).
// Sums over the keys of other blocks (dq_t, dG_t, G w) and over the query heads of a GQA group (dk,
// dv, dw, dbeta) are float atomicAdds into zeroed fp32 accumulators; within a block, the tile's
// per-query sums go through shared-memory atomics first, then one global atomic per element.
// Control flow around the butterfly sums is uniform across each warp (keys past the sequence's end
// or above the current query compute and discard), so the full-mask shuffles are legal.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "backward_launch.hpp"
#include "lowp_math.cuh"
#include "path/gpu/kernel_support.cuh"

namespace path::gpu::backward_kernel {
// Internal linkage (see kernel_support.cuh).
namespace {

using backward_detail::BackwardKernelArgs;
using kernel_support::i64;
using kernel_support::round_up;
using kernel_support::sequence_of;
using kernel_support::SequenceOf;
using lowp_math::from_acc;
using lowp_math::gated_logit;
using lowp_math::kIsInputType;
using lowp_math::to_acc;

constexpr int kLanes = 8;                              // lanes carrying one key
constexpr int kKeysPerBlock = 16;                      // keys (groups) per block
constexpr int kThreads = kLanes * kKeysPerBlock;       // 128: whole warps
constexpr std::size_t kSharedBudget = 48 * 1024;       // no opt-in needed below this
constexpr int kMaxTile = 32;
static_assert(32 % kLanes == 0 && kThreads % 32 == 0, "a key group must not straddle warps");

// Element (t, j), j <= t, of a packed causal array (row t holds j = 0..t).
__device__ __forceinline__ i64 packed_at(i64 t, i64 j) { return t * (t + 1) / 2 + j; }

// The packed arrays of (sequence seq of length L, query head hq).
__device__ __forceinline__ i64 packed_origin(const BackwardKernelArgs& a, i64 seq, i64 L, i64 hq) {
  return a.packed_base[seq] * a.HQ + hq * (L * (L + 1) / 2);
}

// Shared floats per staged position of each sweep (sizes the tile).
inline std::size_t logits_floats_per_key(int DP, int VP) { return 2 * DP + VP + 2; }
inline std::size_t up_floats_per_row(int DP, int VP) { return 2 * DP + VP + 1; }
inline std::size_t down_floats_per_row(int DP) { return 3 * DP + 2; }
inline std::size_t again_floats_per_row(int DP) { return 2 * DP + 1; }

__global__ void zero_kernel(float* __restrict__ p, i64 n) {
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += static_cast<i64>(gridDim.x) * blockDim.x)
    p[i] = 0.0f;
}

// The logits and the softmax backward, query-parallel (see the top of this file): dr_tj and P_tj for
// every pair, and the query's side of dG.
template <class In, int CAP>
__global__ void __launch_bounds__(kThreads) logits_kernel(BackwardKernelArgs a, int key_tile) {
  static_assert(kIsInputType<In>, "bf16, fp16 or fp32 inputs");
  const In* __restrict__ q = static_cast<const In*>(a.q);
  const In* __restrict__ k = static_cast<const In*>(a.k);
  const In* __restrict__ v = static_cast<const In*>(a.v);
  const In* __restrict__ o = static_cast<const In*>(a.o);
  const In* __restrict__ dO = static_cast<const In*>(a.dO);
  const i64 hq = blockIdx.y, seq = blockIdx.z;
  const SequenceOf s = sequence_of(a.cu_seqlens, seq, a.T);
  const i64 L = s.length;
  const i64 i0 = static_cast<i64>(blockIdx.x) * kKeysPerBlock;
  if (i0 >= L) return;  // uniform across the block

  const int group = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  const i64 i = i0 + group;  // this group's query
  const bool active = i < L;
  const i64 kv = hq / (a.HQ / a.H);
  const int D = static_cast<int>(a.D), Dv = static_cast<int>(a.Dv);
  const int DP = round_up(D, kLanes), VP = round_up(Dv, kLanes), KT = key_tile;
  float* const dr = a.dr + packed_origin(a, seq, L, hq);
  float* const P_out = a.cw + packed_origin(a, seq, L, hq);  // P_ij until the down sweep reuses the array

  PATH_DYNAMIC_SHARED(shared_raw);
  float* const ks = reinterpret_cast<float*>(shared_raw);  // [KT][DP]
  float* const ws = ks + KT * DP;                           // [KT][DP]
  float* const vs = ws + KT * DP;                           // [KT][VP]
  float* const bs = vs + KT * VP;                           // [KT] beta_j
  float* const gs = bs + KT;                                // [KT] G_j

  const i64 row_i = s.batch * a.T + s.begin + (active ? i : 0);
  float x[CAP], dOi[CAP], oi[CAP];
  PATH_UNROLL
  for (int e = 0; e < CAP; ++e) {
    const int d = lane + e * kLanes;
    x[e] = (active && d < D) ? to_acc(q[(row_i * a.HQ + hq) * D + d]) : 0.0f;
    dOi[e] = (active && d < Dv) ? to_acc(dO[(row_i * a.HQ + hq) * Dv + d]) : 0.0f;
    oi[e] = (active && d < Dv) ? to_acc(o[(row_i * a.HQ + hq) * Dv + d]) : 0.0f;
  }
  // Delta_i = dO_i . o_i (FlashAttention's D_i), computed exactly as dP_ij = dO_i . v_j below, so that
  // dP - Delta is exactly 0 where o_i = v_j (a single key).
  float delta_hi = 0.0f, delta_lo = 0.0f;
  PATH_UNROLL
  for (int e = 0; e < CAP; ++e)
    if (e * kLanes < VP) lowp_math::dot2_add(oi[e], dOi[e], delta_hi, delta_lo);
  const float delta = lowp_math::group_dot2<kLanes>(delta_hi, delta_lo);
  const float lse_i = active ? a.lse[row_i * a.HQ + hq] : 0.0f;
  const float Gi = (a.G && active) ? a.G[row_i * a.HQ + hq] : 0.0f;
  const float scale = a.scale;
  float dG_query = 0.0f;  // sum_j dr_ij: the query's side of dG_i (docs/backward.md (5)), times scale

  const i64 i_last = min(i0 + kKeysPerBlock, L) - 1;
  for (i64 j0 = (i_last / KT) * KT; j0 >= 0; j0 -= KT) {
    const int kt = static_cast<int>(min(static_cast<i64>(KT), L - j0));
    __syncthreads();  // the previous tile is no longer read
    for (int idx = threadIdx.x; idx < kt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      const i64 at = ((s.batch * a.T + s.begin + j0 + r) * a.H + kv) * D + d;
      ks[idx] = d < D ? to_acc(k[at]) : 0.0f;
      ws[idx] = d < D ? a.w[at] : 0.0f;
    }
    for (int idx = threadIdx.x; idx < kt * VP; idx += blockDim.x) {
      const int r = idx / VP, d = idx % VP;
      vs[idx] = d < Dv ? to_acc(v[((s.batch * a.T + s.begin + j0 + r) * a.H + kv) * Dv + d]) : 0.0f;
    }
    for (int r = threadIdx.x; r < kt; r += blockDim.x) {
      const i64 row = s.batch * a.T + s.begin + j0 + r;
      bs[r] = a.beta[row * a.H + kv];
      gs[r] = a.G ? a.G[row * a.HQ + hq] : 0.0f;
    }
    __syncthreads();
    for (int r = kt - 1; r >= 0; --r) {
      const i64 j = j0 + r;
      const bool valid = active && j <= i;
      const float raw = lowp_math::query_step<kLanes, CAP>(x, ks + r * DP, ws + r * DP, bs[r], lane, DP, valid);
      const float dp = lowp_math::group_dot<kLanes>(dOi, vs + r * VP, lane, VP);  // dP_ij = dO_i . v_j
      if (valid) {
        const float P = lowp_math::exp_rn(gated_logit(raw, scale, Gi - gs[r], a.gate_fla) - lse_i);
        const float drv = scale * (P * (dp - delta));  // dr = scale dS in both conventions (4)
        dG_query += drv;
        if (lane == 0) {
          dr[packed_at(i, j)] = drv;
          P_out[packed_at(i, j)] = P;
        }
      }
    }
  }
  if (active && lane == 0) atomicAdd(&a.dG_acc[row_i * a.HQ + hq], dG_query);
}

// Sweep 1, up: the key cache, dq, dv and the key's side of dG; records aw.
template <class In, int CAP>
__global__ void __launch_bounds__(kThreads) cache_up_kernel(BackwardKernelArgs a, int tile) {
  static_assert(kIsInputType<In>, "bf16, fp16 or fp32 inputs");
  const In* __restrict__ k = static_cast<const In*>(a.k);
  const In* __restrict__ dO = static_cast<const In*>(a.dO);
  const i64 hq = blockIdx.y, seq = blockIdx.z;
  const SequenceOf s = sequence_of(a.cu_seqlens, seq, a.T);
  const i64 L = s.length;
  const i64 j0 = static_cast<i64>(blockIdx.x) * kKeysPerBlock;
  if (j0 >= L) return;  // uniform across the block

  const int group = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  const i64 j = j0 + group;
  const bool active = j < L;
  const i64 kv = hq / (a.HQ / a.H);
  const int D = static_cast<int>(a.D), Dv = static_cast<int>(a.Dv);
  const int DP = round_up(D, kLanes), VP = round_up(Dv, kLanes);
  const int TT = tile;
  const float* const dr = a.dr + packed_origin(a, seq, L, hq);
  const float* const P_in = a.cw + packed_origin(a, seq, L, hq);
  float* const aw = a.aw + packed_origin(a, seq, L, hq);

  PATH_DYNAMIC_SHARED(shared_raw);
  float* const ws = reinterpret_cast<float*>(shared_raw);  // [TT][DP] w_t
  float* const dq_tile = ws + TT * DP;                      // [TT][DP] this block's share of dq_t
  float* const dos = dq_tile + TT * DP;                     // [TT][VP] dO_t
  float* const bs = dos + TT * VP;                          // [TT] beta_t

  const i64 row_j = s.batch * a.T + s.begin + (active ? j : 0);
  float x[CAP], dvj[CAP];  // x = a_{j,t} (starts as k_j)
  PATH_UNROLL
  for (int e = 0; e < CAP; ++e) {
    const int d = lane + e * kLanes;
    x[e] = (active && d < D) ? to_acc(k[(row_j * a.H + kv) * D + d]) : 0.0f;
    dvj[e] = 0.0f;
  }
  float dG_key = 0.0f;  // - sum_{t >= j} dr_tj (docs/backward.md (5), the key's side), times scale

  for (i64 t0 = j0; t0 < L; t0 += TT) {
    const int tt = static_cast<int>(min(static_cast<i64>(TT), L - t0));
    __syncthreads();  // the previous tile is no longer read
    for (int idx = threadIdx.x; idx < tt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      const i64 row = s.batch * a.T + s.begin + t0 + r;
      ws[idx] = d < D ? a.w[(row * a.H + kv) * D + d] : 0.0f;
      dq_tile[idx] = 0.0f;
    }
    for (int idx = threadIdx.x; idx < tt * VP; idx += blockDim.x) {
      const int r = idx / VP, d = idx % VP;
      const i64 row = s.batch * a.T + s.begin + t0 + r;
      dos[idx] = d < Dv ? to_acc(dO[(row * a.HQ + hq) * Dv + d]) : 0.0f;
    }
    for (int r = threadIdx.x; r < tt; r += blockDim.x) bs[r] = a.beta[(s.batch * a.T + s.begin + t0 + r) * a.H + kv];
    __syncthreads();

    for (int r = 0; r < tt; ++r) {
      const i64 t = t0 + r;
      const float* wr = ws + r * DP;
      const float* dor = dos + r * VP;
      // H_t on the cached key (t > j): a_{j,t+1} = a_{j,t} - beta_t (a_{j,t} . w_t) w_t.
      const float pw = lowp_math::group_dot<kLanes>(x, wr, lane, DP);
      if (active && t > j) {
        const float along = bs[r] * pw;
        PATH_UNROLL
        for (int e = 0; e < CAP; ++e)
          if (e * kLanes < DP) x[e] = fma(-along, wr[lane + e * kLanes], x[e]);
        if (lane == 0) aw[packed_at(t, j)] = pw;
      }
      if (active && t >= j) {
        const float drv = dr[packed_at(t, j)], P = P_in[packed_at(t, j)];
        dG_key -= drv;
        PATH_UNROLL
        for (int e = 0; e < CAP; ++e) {
          if (e * kLanes < VP) dvj[e] = fma(P, dor[lane + e * kLanes], dvj[e]);
          if (lane + e * kLanes < D) atomicAdd(&dq_tile[r * DP + lane + e * kLanes], drv * x[e]);
        }
      }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < tt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      if (d < D) atomicAdd(&a.dq_acc[((s.batch * a.T + s.begin + t0 + r) * a.HQ + hq) * D + d], dq_tile[idx]);
    }
  }

  if (active) {
    PATH_UNROLL
    for (int e = 0; e < CAP; ++e) {
      const int d = lane + e * kLanes;
      if (d < Dv) atomicAdd(&a.dv_acc[(row_j * a.H + kv) * Dv + d], dvj[e]);
    }
    if (lane == 0) atomicAdd(&a.dG_acc[row_j * a.HQ + hq], dG_key);
  }
}

// Sweep 2, down: c_{j,t}, dk, G_u^T w_u and w_u^T G_u w_u; records cw.
template <class In, int CAP>
__global__ void __launch_bounds__(kThreads) queries_down_kernel(BackwardKernelArgs a, int tile) {
  const In* __restrict__ q = static_cast<const In*>(a.q);
  const i64 hq = blockIdx.y, seq = blockIdx.z;
  const SequenceOf s = sequence_of(a.cu_seqlens, seq, a.T);
  const i64 L = s.length;
  const i64 j0 = static_cast<i64>(blockIdx.x) * kKeysPerBlock;
  if (j0 >= L) return;

  const int group = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  const i64 j = j0 + group;
  const bool active = j < L;
  const i64 kv = hq / (a.HQ / a.H);
  const int D = static_cast<int>(a.D);
  const int DP = round_up(D, kLanes);
  const int TT = tile;
  const float* const dr = a.dr + packed_origin(a, seq, L, hq);
  const float* const aw = a.aw + packed_origin(a, seq, L, hq);
  float* const cw = a.cw + packed_origin(a, seq, L, hq);

  PATH_DYNAMIC_SHARED(shared_raw);
  float* const qs = reinterpret_cast<float*>(shared_raw);  // [TT][DP] q_t
  float* const wn = qs + TT * DP;                           // [TT][DP] w_{t+1} (0 past the end)
  float* const sym_tile = wn + TT * DP;                     // [TT][DP] share of G_{t+1}^T w_{t+1}
  float* const bn = sym_tile + TT * DP;                     // [TT] beta_{t+1}
  float* const wgw_tile = bn + TT;                          // [TT] share of w^T G w at t+1

  const i64 row_j = s.batch * a.T + s.begin + (active ? j : 0);
  float c[CAP];
  PATH_UNROLL
  for (int e = 0; e < CAP; ++e) c[e] = 0.0f;

  for (i64 t0 = j0 + ((L - 1 - j0) / TT) * TT; t0 >= j0; t0 -= TT) {
    const int tt = static_cast<int>(min(static_cast<i64>(TT), L - t0));
    __syncthreads();
    for (int idx = threadIdx.x; idx < tt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      const i64 row = s.batch * a.T + s.begin + t0 + r;
      const bool next = t0 + r + 1 < L;
      qs[idx] = d < D ? to_acc(q[(row * a.HQ + hq) * D + d]) : 0.0f;
      wn[idx] = (d < D && next) ? a.w[((row + 1) * a.H + kv) * D + d] : 0.0f;
      sym_tile[idx] = 0.0f;
    }
    for (int r = threadIdx.x; r < tt; r += blockDim.x) {
      const i64 row = s.batch * a.T + s.begin + t0 + r;
      bn[r] = t0 + r + 1 < L ? a.beta[(row + 1) * a.H + kv] : 0.0f;
      wgw_tile[r] = 0.0f;
    }
    __syncthreads();

    for (int r = tt - 1; r >= 0; --r) {
      const i64 t = t0 + r, u = t + 1;
      if (u < L) {  // uniform: c holds c_{j,u}
        const float* wr = wn + r * DP;
        const float pc = lowp_math::group_dot<kLanes>(c, wr, lane, DP);
        if (active && j <= t) {
          const float awv = aw[packed_at(u, j)];
          const float along = bn[r] * pc;
          PATH_UNROLL
          for (int e = 0; e < CAP; ++e) {
            if (lane + e * kLanes < D) atomicAdd(&sym_tile[r * DP + lane + e * kLanes], awv * c[e]);
            if (e * kLanes < DP) c[e] = fma(-along, wr[lane + e * kLanes], c[e]);
          }
          if (lane == 0) {
            cw[packed_at(u, j)] = pc;
            atomicAdd(&wgw_tile[r], awv * pc);
          }
        }
      }
      if (active && j <= t) {
        const float drv = dr[packed_at(t, j)];
        const float* qr = qs + r * DP;
        PATH_UNROLL
        for (int e = 0; e < CAP; ++e)
          if (e * kLanes < DP) c[e] = fma(drv, qr[lane + e * kLanes], c[e]);
        if (t == j) {  // dk_j = c_{j,j}, summed over the group's query heads
          PATH_UNROLL
          for (int e = 0; e < CAP; ++e)
            if (lane + e * kLanes < D) atomicAdd(&a.dk_acc[(row_j * a.H + kv) * D + lane + e * kLanes], c[e]);
        }
      }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < tt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      if (d < D && t0 + r + 1 < L)
        atomicAdd(&a.sym_acc[((s.batch * a.T + s.begin + t0 + r + 1) * a.H + kv) * D + d], sym_tile[idx]);
    }
    for (int r = threadIdx.x; r < tt; r += blockDim.x)
      if (t0 + r + 1 < L) atomicAdd(&a.wgw_acc[(s.batch * a.T + s.begin + t0 + r + 1) * a.H + kv], wgw_tile[r]);
  }
}

// Sweep 3, up again: G_t w_t = sum_j cw_tj a_{j,t}, advancing the cache with the recorded aw.
template <class In, int CAP>
__global__ void __launch_bounds__(kThreads) cache_up_again_kernel(BackwardKernelArgs a, int tile) {
  const In* __restrict__ k = static_cast<const In*>(a.k);
  const i64 hq = blockIdx.y, seq = blockIdx.z;
  const SequenceOf s = sequence_of(a.cu_seqlens, seq, a.T);
  const i64 L = s.length;
  const i64 j0 = static_cast<i64>(blockIdx.x) * kKeysPerBlock;
  if (j0 >= L) return;

  const int group = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  const i64 j = j0 + group;
  const bool active = j < L;
  const i64 kv = hq / (a.HQ / a.H);
  const int D = static_cast<int>(a.D);
  const int DP = round_up(D, kLanes);
  const int TT = tile;
  const float* const aw = a.aw + packed_origin(a, seq, L, hq);
  const float* const cw = a.cw + packed_origin(a, seq, L, hq);

  PATH_DYNAMIC_SHARED(shared_raw);
  float* const ws = reinterpret_cast<float*>(shared_raw);  // [TT][DP] w_t
  float* const sym_tile = ws + TT * DP;                     // [TT][DP] share of G_t w_t
  float* const bs = sym_tile + TT * DP;                     // [TT] beta_t

  const i64 row_j = s.batch * a.T + s.begin + (active ? j : 0);
  float x[CAP];
  PATH_UNROLL
  for (int e = 0; e < CAP; ++e) {
    const int d = lane + e * kLanes;
    x[e] = (active && d < D) ? to_acc(k[(row_j * a.H + kv) * D + d]) : 0.0f;
  }

  for (i64 t0 = j0; t0 < L; t0 += TT) {
    const int tt = static_cast<int>(min(static_cast<i64>(TT), L - t0));
    __syncthreads();
    for (int idx = threadIdx.x; idx < tt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      const i64 row = s.batch * a.T + s.begin + t0 + r;
      ws[idx] = d < D ? a.w[(row * a.H + kv) * D + d] : 0.0f;
      sym_tile[idx] = 0.0f;
    }
    for (int r = threadIdx.x; r < tt; r += blockDim.x) bs[r] = a.beta[(s.batch * a.T + s.begin + t0 + r) * a.H + kv];
    __syncthreads();

    for (int r = 0; r < tt; ++r) {
      const i64 t = t0 + r;
      if (active && t > j) {  // no shuffle in this sweep: divergence is harmless
        const float cwv = cw[packed_at(t, j)];
        const float along = bs[r] * aw[packed_at(t, j)];
        const float* wr = ws + r * DP;
        PATH_UNROLL
        for (int e = 0; e < CAP; ++e) {
          if (lane + e * kLanes < D) atomicAdd(&sym_tile[r * DP + lane + e * kLanes], cwv * x[e]);
          if (e * kLanes < DP) x[e] = fma(-along, wr[lane + e * kLanes], x[e]);
        }
      }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < tt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      if (d < D) atomicAdd(&a.sym_acc[((s.batch * a.T + s.begin + t0 + r) * a.H + kv) * D + d], sym_tile[idx]);
    }
  }
}

// dq per (token, query head), rounded to the input type.
template <class In>
__global__ void finish_queries_kernel(BackwardKernelArgs a) {
  const i64 idx = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= a.B * a.T * a.HQ) return;
  In* dq = static_cast<In*>(a.dq);
  for (i64 d = 0; d < a.D; ++d) dq[idx * a.D + d] = from_acc<In>(a.dq_acc[idx * a.D + d]);
}

// dk, dv (input type), dw = -beta (G + G^T) w and dbeta = -w^T G w (fp32) per (token, kv head).
template <class In>
__global__ void finish_keys_kernel(BackwardKernelArgs a) {
  const i64 idx = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= a.B * a.T * a.H) return;
  In* dk = static_cast<In*>(a.dk);
  In* dv = static_cast<In*>(a.dv);
  const float beta = a.beta[idx];
  for (i64 d = 0; d < a.D; ++d) {
    dk[idx * a.D + d] = from_acc<In>(a.dk_acc[idx * a.D + d]);
    a.dw[idx * a.D + d] = -beta * a.sym_acc[idx * a.D + d];
  }
  for (i64 d = 0; d < a.Dv; ++d) dv[idx * a.Dv + d] = from_acc<In>(a.dv_acc[idx * a.Dv + d]);
  a.dbeta[idx] = -a.wgw_acc[idx];
}

// dg_t = c sum_{i >= t} dG_i per (sequence, query head), c = 1 (paper) or scale (fla) (6). The
// accumulators hold the sums of dr = scale dS, that is scale dG_i / c: so dg_t is their suffix sum
// divided by scale (paper) or the suffix sum itself (fla).
__global__ void gate_gradient_kernel(BackwardKernelArgs a) {
  const i64 idx = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= a.num_seqs * a.HQ) return;
  const i64 hq = idx % a.HQ;
  const SequenceOf s = sequence_of(a.cu_seqlens, idx / a.HQ, a.T);
  float suffix = 0.0f;
  for (i64 t = s.length - 1; t >= 0; --t) {
    const i64 at = (s.batch * a.T + s.begin + t) * a.HQ + hq;
    suffix += a.dG_acc[at];
    a.dg[at] = a.gate_fla ? suffix : suffix / a.scale;
  }
}

// Components per lane: CAP * kLanes >= max(D, Dv), a power of two.
inline int per_lane_elements(const BackwardKernelArgs& a) {
  const int widest = static_cast<int>(a.D > a.Dv ? a.D : a.Dv);
  const int need = (widest + kLanes - 1) / kLanes;
  int cap = 1;
  while (cap < need) cap *= 2;
  return cap;
}

// The query tile of each sweep and its shared bytes (under the 48 KB that need no opt-in).
struct BackwardConfig {
  int per_lane_elements = 0;
  int logits_tile = 0, up_tile = 0, down_tile = 0, again_tile = 0;
  std::size_t logits_shared = 0, up_shared = 0, down_shared = 0, again_shared = 0;
};

inline int tile_for(std::size_t floats_per_row, int max_tile = kMaxTile) {
  std::size_t t = kSharedBudget / (floats_per_row * sizeof(float));
  if (t > static_cast<std::size_t>(max_tile)) t = static_cast<std::size_t>(max_tile);
  return t < 1 ? 1 : static_cast<int>(t);
}

inline BackwardConfig make_backward_config(const BackwardKernelArgs& a) {
  BackwardConfig c;
  c.per_lane_elements = per_lane_elements(a);
  const int DP = round_up(static_cast<int>(a.D), kLanes), VP = round_up(static_cast<int>(a.Dv), kLanes);
  c.logits_tile = tile_for(logits_floats_per_key(DP, VP), 64);
  c.logits_shared = c.logits_tile * logits_floats_per_key(DP, VP) * sizeof(float);
  c.up_tile = tile_for(up_floats_per_row(DP, VP));
  c.down_tile = tile_for(down_floats_per_row(DP));
  c.again_tile = tile_for(again_floats_per_row(DP));
  c.up_shared = c.up_tile * up_floats_per_row(DP, VP) * sizeof(float);
  c.down_shared = c.down_tile * down_floats_per_row(DP) * sizeof(float);
  c.again_shared = c.again_tile * again_floats_per_row(DP) * sizeof(float);
  return c;
}

// A grid size the launcher understands on both sides (dim3 on the GPU, the shim's Dim on the host).
struct Grid {
  unsigned x = 1, y = 1, z = 1;
};

inline unsigned blocks_for(i64 n, unsigned threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

// The whole backward, in stream order, through `launch(name, grid, threads, shared_bytes, kernel,
// args...)`: the device launcher (backward.cu) or the host shim's (tests/test_gpu_kernel_host.cpp),
// so both run exactly this sequence. Expects a.in_type == the type of In, the workspace placed
// (workspace_layout) and a.dg set when a.g is.
template <class In, int CAP, class Launch>
void enqueue_backward_typed(const BackwardKernelArgs& a, const BackwardConfig& c, Launch&& launch) {
  const unsigned threads = 128;
  const i64 accumulators = static_cast<i64>(a.accumulator_count);
  const unsigned zero_blocks = blocks_for(accumulators, threads);  // >= 1: every problem has a token
  launch("zero_kernel", Grid{zero_blocks < 4096u ? zero_blocks : 4096u}, threads, std::size_t(0), zero_kernel,
         a.accumulators, accumulators);
  if (a.g)
    launch("gate_scan_kernel", Grid{blocks_for(a.num_seqs * a.HQ, threads)}, threads, std::size_t(0),
           lowp_math::gate_scan_kernel, a.g, a.G, a.cu_seqlens, a.num_seqs, a.T, a.HQ);
  const Grid sweeps{blocks_for(a.max_seq_len, kKeysPerBlock), static_cast<unsigned>(a.HQ),
                    static_cast<unsigned>(a.num_seqs)};
  launch("logits_kernel", sweeps, static_cast<unsigned>(kThreads), c.logits_shared, logits_kernel<In, CAP>, a,
         c.logits_tile);
  launch("cache_up_kernel", sweeps, static_cast<unsigned>(kThreads), c.up_shared, cache_up_kernel<In, CAP>, a, c.up_tile);
  launch("queries_down_kernel", sweeps, static_cast<unsigned>(kThreads), c.down_shared, queries_down_kernel<In, CAP>, a,
         c.down_tile);
  launch("cache_up_again_kernel", sweeps, static_cast<unsigned>(kThreads), c.again_shared,
         cache_up_again_kernel<In, CAP>, a, c.again_tile);
  launch("finish_queries_kernel", Grid{blocks_for(a.B * a.T * a.HQ, threads)}, threads, std::size_t(0),
         finish_queries_kernel<In>, a);
  launch("finish_keys_kernel", Grid{blocks_for(a.B * a.T * a.H, threads)}, threads, std::size_t(0),
         finish_keys_kernel<In>, a);
  if (a.g)
    launch("gate_gradient_kernel", Grid{blocks_for(a.num_seqs * a.HQ, threads)}, threads, std::size_t(0),
           gate_gradient_kernel, a);
}

// Dispatch on the configured components per lane (head dims 16 to 128 need 2 to 16).
template <class In, class Launch>
void enqueue_backward(const BackwardKernelArgs& a, Launch&& launch) {
  if (a.max_seq_len < 1 || a.num_seqs < 1) return;
  const BackwardConfig c = make_backward_config(a);
  switch (c.per_lane_elements) {
    case 2: return enqueue_backward_typed<In, 2>(a, c, launch);
    case 4: return enqueue_backward_typed<In, 4>(a, c, launch);
    case 8: return enqueue_backward_typed<In, 8>(a, c, launch);
    case 16: return enqueue_backward_typed<In, 16>(a, c, launch);
    default: break;
  }
  throw std::logic_error("backward kernels: no instantiation for " + std::to_string(c.per_lane_elements) +
                         " elements per lane");
}

}  // namespace
}  // namespace path::gpu::backward_kernel
