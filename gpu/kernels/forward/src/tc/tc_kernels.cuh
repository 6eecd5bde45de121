#pragma once
// The tensor-core forward's kernels (docs/gpu-fast-forward.md; host side in tc_forward.cu). Compiled
// by nvcc for sm_90, and by the host compiler through path/gpu/host_shim.hpp for
// tests/test_gpu_forward_tc_host.cpp, where mma.sync is emulated lane by lane (include the shim first).
//   prep_kv_kernel  per (block m, kv head): A_m by back substitution (fp32), W'_m = A_m^T W_m
//                   (stored transposed, [D][Bk]), K~_m by the fp32 sweep k~_j = H_{e}..H_{j+1} k_j;
//   prep_q_kernel   per (block n, query head): the in-block naive sweep of docs/algorithms.md §2 in
//                   fp32 with compensated dots (the plain kernel's lowp_math::query_step), which
//                   yields both the diagonal block's raw logits r_ij (j <= i, same block) and, at
//                   its end, q~_i = H_{s_n} .. H_i q_i;
//   main_kernel     per (block n, query head): X = Q~ rows, diagonal tile from the precomputed
//                   logits, then for m = n-1 down to the sequence's first block: S = X K~_m^T,
//                   online softmax, O += P V_m, and (m > first) X <- X - (X W_m^T) W'_m, all with
//                   mma.sync.m16n8k16 (fp32 accumulate). X, K~, W, W' are fp32 and enter the MMAs
//                   as sums of `NS` bf16 terms (hi + mid + lo), products of term pairs with
//                   sa + sb < NS (NS = 3: 6 MMAs, about fp32 accuracy); P (rounded to the input
//                   type, as the baseline does) and V (input type, exact) enter as one MMA.
// Blocks are per sequence (aligned to each sequence start), so no product crosses a sequence.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "lowp_math.cuh"
#include "path/gpu/kernel_support.cuh"
#include "tc_forward.hpp"

namespace path::gpu::tc_forward {
namespace {

using i64 = std::int64_t;
using lowp_math::from_acc;
using lowp_math::gated_logit;
using lowp_math::to_acc;

constexpr int BK = kBlock;
constexpr int kThreads = 128;  // 4 warps x 16 query rows
constexpr int kPadF = 8;       // fp32 row padding of the [key][D] tiles (conflict-free float2 reads)
constexpr int kKeyStride = BK + 8;  // row stride (elements) of the [D][key] tiles

struct DevArgs {
  const void* q;
  const void* k;
  const void* v;
  const float* w;
  const float* beta;
  const float* G;
  i64 T, HQ, H;
  float scale;
  bool gate_fla;
  void* o;
  float* lse;
  const TcBlock* blocks;
  float* kt;   // [block][H][BK][D]   K~
  float* wpt;  // [block][H][D][BK]   W'^T
  float* qt;   // [block][HQ][BK][D]  Q~
  float* rd;   // [block][HQ][BK][BK] diagonal raw logits r_ij at [i][j], j <= i
  // The pre-split variant (main_kernel<..., PRESPLIT = true>): K~, W'^T and W once as kSplitPlanes
  // planes of bf16 pairs (split_planes_kernel), plane s at base + s * *_plane words, each plane the
  // fp32 array's layout with two adjacent elements per 32-bit word.
  std::uint32_t* kt3;
  std::uint32_t* wpt3;
  std::uint32_t* w3;
  i64 kt_plane, w_plane;  // words per plane (wpt3's plane is kt_plane)
};

// ---------------------------------------------------------------------------------------------
// Preprocessing.

template <class In, int D>
__global__ void __launch_bounds__(kThreads) prep_kv_kernel(DevArgs a) {
  const In* __restrict__ k = static_cast<const In*>(a.k);
  const i64 b = blockIdx.x, h = blockIdx.y;
  const TcBlock blk = a.blocks[b];
  const int n = blk.len;
  PATH_DYNAMIC_SHARED(raw);
  float* Ws = reinterpret_cast<float*>(raw);  // [BK][D]
  float* Ks = Ws + BK * D;                    // [BK][D]
  float* Gm = Ks + BK * D;                    // [BK][BK + 1] w_a . w_c (c > a)
  float* Xs = Gm + BK * (BK + 1);             // [BK][BK + 1] T^{-1}, then A
  float* bs = Xs + BK * (BK + 1);             // [BK]
  for (int idx = threadIdx.x; idx < BK * D; idx += blockDim.x) {
    const int r = idx / D, d = idx % D;
    const bool ok = r < n;
    const i64 at = ((blk.row0 + r) * a.H + h) * D + d;
    Ws[idx] = ok ? a.w[at] : 0.0f;
    Ks[idx] = ok ? to_acc(k[at]) : 0.0f;
  }
  for (int r = threadIdx.x; r < BK; r += blockDim.x) bs[r] = r < n ? a.beta[(blk.row0 + r) * a.H + h] : 0.0f;
  __syncthreads();
  for (int idx = threadIdx.x; idx < BK * BK; idx += blockDim.x) {
    const int r = idx / BK, c = idx % BK;
    float s = 0.0f;
    if (c > r)
      for (int d = 0; d < D; ++d) s = fmaf(Ws[r * D + d], Ws[c * D + d], s);
    Gm[r * (BK + 1) + c] = s;
  }
  __syncthreads();
  // X = (I + Dg strictUpper(W W^T))^{-1}: X_rr = 1, X_rc = -beta_r sum_{e=r+1..c} (w_r . w_e) X_ec.
  for (int r = BK - 1; r >= 0; --r) {
    const int c = threadIdx.x;
    if (c < BK) {
      float val = 0.0f;
      if (c == r) {
        val = 1.0f;
      } else if (c > r) {
        float s = 0.0f;
        for (int e = r + 1; e <= c; ++e) s = fmaf(Gm[r * (BK + 1) + e], Xs[e * (BK + 1) + c], s);
        val = -bs[r] * s;
      }
      Xs[r * (BK + 1) + c] = val;
    }
    __syncthreads();
  }
  // A = X Dg (column c scaled by beta_c); W'^T[d][c] = sum_{r <= c} A_rc w_r[d].
  float* wpt = a.wpt + (b * a.H + h) * D * BK;
  for (int idx = threadIdx.x; idx < D * BK; idx += blockDim.x) {
    const int d = idx / BK, c = idx % BK;
    float s = 0.0f;
    for (int r = 0; r <= c; ++r) s = fmaf(Xs[r * (BK + 1) + c], Ws[r * D + d], s);
    wpt[idx] = s * bs[c];
  }
  // K~: k~_j = H_{n-1} .. H_{j+1} k_j, one warp per key, lane holds d = lane + 32 e.
  constexpr int CAP = D / 32;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* kt = a.kt + (b * a.H + h) * BK * D;
  for (int j = warp; j < BK; j += kThreads / 32) {
    float x[CAP];
    PATH_UNROLL
    for (int e = 0; e < CAP; ++e) x[e] = Ks[j * D + lane + 32 * e];
    for (int t = j + 1; t < n; ++t) {
      const float dw = lowp_math::group_dot<32>(x, Ws + t * D, lane, D);
      const float along = bs[t] * dw;
      PATH_UNROLL
      for (int e = 0; e < CAP; ++e) x[e] = fmaf(-along, Ws[t * D + lane + 32 * e], x[e]);
    }
    PATH_UNROLL
    for (int e = 0; e < CAP; ++e) kt[j * D + lane + 32 * e] = x[e];
  }
}

template <class In, int D>
__global__ void __launch_bounds__(kThreads) prep_q_kernel(DevArgs a) {
  const In* __restrict__ q = static_cast<const In*>(a.q);
  const In* __restrict__ k = static_cast<const In*>(a.k);
  const i64 b = blockIdx.x, hq = blockIdx.y, h = hq / (a.HQ / a.H);
  const TcBlock blk = a.blocks[b];
  const int n = blk.len;
  PATH_DYNAMIC_SHARED(raw);
  float* Ws = reinterpret_cast<float*>(raw);  // [BK][D]
  float* Ks = Ws + BK * D;                    // [BK][D]
  float* bs = Ks + BK * D;                    // [BK]
  for (int idx = threadIdx.x; idx < BK * D; idx += blockDim.x) {
    const int r = idx / D, d = idx % D;
    const bool ok = r < n;
    const i64 at = ((blk.row0 + r) * a.H + h) * D + d;
    Ws[idx] = ok ? a.w[at] : 0.0f;
    Ks[idx] = ok ? to_acc(k[at]) : 0.0f;
  }
  for (int r = threadIdx.x; r < BK; r += blockDim.x) bs[r] = r < n ? a.beta[(blk.row0 + r) * a.H + h] : 0.0f;
  __syncthreads();
  constexpr int CAP = D / 32;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* qt = a.qt + (b * a.HQ + hq) * BK * D;
  float* rd = a.rd + (b * a.HQ + hq) * BK * BK;
  for (int i = warp; i < BK; i += kThreads / 32) {
    float x[CAP];
    const bool ok = i < n;
    PATH_UNROLL
    for (int e = 0; e < CAP; ++e) x[e] = ok ? to_acc(q[((blk.row0 + i) * a.HQ + hq) * D + lane + 32 * e]) : 0.0f;
    if (ok) {
      for (int j = i; j >= 0; --j) {
        const float r = lowp_math::query_step<32, CAP>(x, Ks + j * D, Ws + j * D, bs[j], lane, D, true);
        if (lane == 0) rd[i * BK + j] = r;
      }
    }
    PATH_UNROLL
    for (int e = 0; e < CAP; ++e) qt[i * D + lane + 32 * e] = x[e];  // q~_i = H_{s} .. H_i q_i (0 past the end)
  }
}

// ---------------------------------------------------------------------------------------------
// mma.sync helpers. Fragments of m16n8k16 (g = lane / 4, t = lane % 4), each 32-bit register two
// 16-bit values, the lower column/k index in the low half:
//   A (16 x 16, row):  a0 (g, 2t..2t+1)  a1 (g+8, 2t..)  a2 (g, 2t+8..)  a3 (g+8, 2t+8..)
//   B (16 x 8, col):   b0 (k 2t..2t+1, n g)  b1 (k 2t+8..2t+9, n g)
//   C (16 x 8, fp32):  c0 c1 (g, 2t..2t+1)  c2 c3 (g+8, 2t..2t+1)
// So the accumulators of two adjacent n8 tiles 2kk and 2kk+1 of a 16 x N product are, converted
// pairwise, exactly the A fragment of k-block kk of that product used as the next GEMM's left
// operand: a0 = (C[2kk].c0, c1), a1 = (C[2kk].c2, c3), a2 = (C[2kk+1].c0, c1), a3 = (C[2kk+1].c2, c3).

#if !defined(__CUDACC__)
// The host shim's model of one MMA's fp32 accumulation, after Fasi, Higham, Mikaitis and Pranesh,
// "Numerical behavior of NVIDIA tensor cores" (PeerJ CS, 2021): the 16 products (exact: 8- or
// 11-bit significands) and the accumulator are aligned to the largest magnitude among them, the bits
// below that term's 24-bit significand are cut off (truncation, not rounding), the aligned terms are
// summed exactly, and the sum is rounded toward zero to fp32. No extra alignment bits are kept, so
// the model errs on the pessimistic side of the hardware; it makes the host test see what an
// accumulator holding a large partial sum does to small addends (the kernel's split corrections):
// their low bits are cut off.
inline float tensor_core_sum(const double (&terms)[17]) {
  int emax = INT_MIN;
  for (double x : terms)
    if (x != 0.0) {
      int e = 0;
      std::frexp(x, &e);  // |x| in [2^(e-1), 2^e)
      emax = e > emax ? e : emax;
    }
  if (emax == INT_MIN) return 0.0f;
  const double quantum = std::ldexp(1.0, emax - 24);  // the last of 24 bits below the leading one
  double sum = 0.0;  // exact: at most 17 multiples of quantum below 2^emax
  for (double x : terms) sum += std::trunc(x / quantum) * quantum;
  float r = static_cast<float>(sum);
  if (std::fabs(static_cast<double>(r)) > std::fabs(sum)) r = std::nextafter(r, 0.0f);
  return r;
}
#endif

template <class T>
__device__ __forceinline__ void mma16816(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                         std::uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    asm(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
#elif defined(__CUDACC__)
  __trap();  // never chosen: cannot_run_reason refuses devices below sm_90
#else
  // Host shim (one host thread per CUDA thread, blocks one at a time): every lane publishes its
  // fragments, then computes its own four accumulators from the warp's A and B, in fp32 (products
  // of 16-bit values are exact in fp32; the order of the sums is not the tensor core's).
  static std::uint32_t slots[1024][6];
  const unsigned me = threadIdx.x, base = me / 32 * 32, lane = me % 32;
  for (int r = 0; r < 4; ++r) slots[me][r] = a[r];
  slots[me][4] = b0;
  slots[me][5] = b1;
  __syncwarp();
  auto half = [](std::uint32_t w, int hi) {
    const unsigned short bits = static_cast<unsigned short>(hi ? w >> 16 : w & 0xFFFFu);
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
      __nv_bfloat16_raw r;
      r.x = bits;
      return lowp_math::to_acc(__nv_bfloat16(r));
    } else {
      __half_raw r;
      r.x = bits;
      return lowp_math::to_acc(__half(r));
    }
  };
  auto A = [&](int row, int k) {  // a_{row,k}: lane (row % 8) * 4 + (k % 8) / 2, reg row / 8 + 2 (k / 8)
    return half(slots[base + (row % 8) * 4 + (k % 8) / 2][row / 8 + 2 * (k / 8)], k % 2);
  };
  auto B = [&](int k, int n) {  // b_{k,n}: lane n * 4 + (k % 8) / 2, reg k / 8
    return half(slots[base + n * 4 + (k % 8) / 2][4 + k / 8], k % 2);
  };
  const int g = static_cast<int>(lane / 4), t = static_cast<int>(lane % 4);
  for (int e = 0; e < 4; ++e) {
    const int row = g + 8 * (e / 2), col = 2 * t + e % 2;
    double terms[17];
    for (int k = 0; k < 16; ++k) terms[k] = static_cast<double>(A(row, k)) * static_cast<double>(B(k, col));
    terms[16] = c[e];
    c[e] = tensor_core_sum(terms);
  }
  __syncwarp();
#endif
}

template <class V>
__device__ __forceinline__ std::uint32_t bits32(const V& v) {
  static_assert(sizeof(V) == 4);
  std::uint32_t u;
  std::memcpy(&u, &v, 4);  // no type punning through pointers (the host compiler's aliasing rules)
  return u;
}

__device__ __forceinline__ std::uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (low half) = lo
  return bits32(v);
}

template <class In>
__device__ __forceinline__ std::uint32_t pack_in(float lo, float hi) {
  if constexpr (std::is_same_v<In, __nv_bfloat16>) {
    return pack_bf16(lo, hi);
  } else {
    const __half2 v = __floats2half2_rn(lo, hi);
    return bits32(v);
  }
}

// (x0, x1) as NS bf16 pairs: x = t0 + t1 + ... (each term the bf16 rounding of what remains; the
// remainders are exact in fp32).
template <int NS>
__device__ __forceinline__ void split_pair(float x0, float x1, std::uint32_t* out, i64 stride) {
  PATH_UNROLL
  for (int s = 0; s < NS; ++s) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(x0, x1);
    out[s * stride] = bits32(v);
    if (s + 1 < NS) {
      x0 -= __low2float(v);
      x1 -= __high2float(v);
    }
  }
}

// c += A B with A = sum_sa a[sa], B = sum_sb (b0[sb], b1[sb]), the products with sa + sb < NS,
// smallest first.
template <int NS>
__device__ __forceinline__ void mma_split(float (&c)[4], const std::uint32_t (&a)[NS][4], const std::uint32_t (&b)[NS][2]) {
  PATH_UNROLL
  for (int order = NS - 1; order >= 0; --order) {
    PATH_UNROLL
    for (int sa = 0; sa <= order; ++sa) mma16816<__nv_bfloat16>(c, a[sa], b[order - sa][0], b[order - sa][1]);
  }
}

// The A fragments (NS terms) of k-block kk of a 16 x N fp32 accumulator array C[N/8][4].
template <int NS, int NT>
__device__ __forceinline__ void a_fragments(const float (&C)[NT][4], int kk, std::uint32_t (&a)[NS][4]) {
  split_pair<NS>(C[2 * kk][0], C[2 * kk][1], &a[0][0], 4);
  split_pair<NS>(C[2 * kk][2], C[2 * kk][3], &a[0][1], 4);
  split_pair<NS>(C[2 * kk + 1][0], C[2 * kk + 1][1], &a[0][2], 4);
  split_pair<NS>(C[2 * kk + 1][2], C[2 * kk + 1][3], &a[0][3], 4);
}

// The B fragment (NS terms) at fp32 tile row n (the n index), k offset k0 + 2t and k0 + 2t + 8.
template <int NS>
__device__ __forceinline__ void b_fragments(const float* row, int k0, int t, std::uint32_t (&b)[NS][2]) {
  const float2 lo = *reinterpret_cast<const float2*>(row + k0 + 2 * t);
  const float2 hi = *reinterpret_cast<const float2*>(row + k0 + 2 * t + 8);
  split_pair<NS>(lo.x, lo.y, &b[0][0], 2);
  split_pair<NS>(hi.x, hi.y, &b[0][1], 2);
}

// c += A B for one k-block: its split products into a freshly zeroed accumulator, then one fp32
// add (round to nearest) into c. Why not straight into c: the tensor cores align an MMA's products
// to the largest magnitude among them and the accumulator and truncate (they do not round), so
// adding the small correction products of a split into an accumulator that already holds the
// partial dot of all earlier k-blocks cuts off their low bits, once per MMA (not a bias: the
// corrections have either sign; under the shim's model lse's rms error grows about 4x, see
// TcForwardHost.LargeLogitLseIsFp32Accurate). In a fresh accumulator the truncation is relative to
// this k-block's 16-term partial only, and
// the k-blocks are summed with correctly rounded adds (docs/gpu-fast-forward.md, "MMA operands and
// accuracy": the lse at large logits).
template <int NS>
__device__ __forceinline__ void mma_split_add(float (&c)[4], const std::uint32_t (&a)[NS][4],
                                              const std::uint32_t (&b)[NS][2]) {
  float part[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  mma_split<NS>(part, a, b);
  PATH_UNROLL
  for (int e = 0; e < 4; ++e) c[e] += part[e];
}

// ---------------------------------------------------------------------------------------------
// Pre-split operands (docs/gpu-fast-forward.md, "pre-split planes"). The main kernel's B operands
// K~, W and W' are fp32 values that every warp of every CTA split into bf16 terms again and again
// (ncu, 2026-12-02: the integer/logic pipe the busiest, 255 registers). Split once instead:
// split_planes_kernel writes the three terms of split_pair<3> of each adjacent pair (x0, x1) as
// plane s, word i = bf16x2 term s of (src[2i], src[2i + 1]). split_pair<NS> for NS < 3 yields the
// first NS of those same terms, so the main kernel reading NS planes computes bit for bit what it
// computes splitting on the fly (TcForwardHost.PresplitIsBitwiseTheSame).
constexpr int kSplitPlanes = 3;

__global__ void split_planes_kernel(const float* __restrict__ src, std::uint32_t* __restrict__ planes, i64 pairs) {
  for (i64 i = blockIdx.x * static_cast<i64>(blockDim.x) + threadIdx.x; i < pairs;
       i += static_cast<i64>(gridDim.x) * blockDim.x)
    split_pair<kSplitPlanes>(src[2 * i], src[2 * i + 1], planes + i, pairs);
}

// Shared-memory row stride (words) of a plane tile whose rows hold `words` words: + 4, so that the
// 8 rows x 4 consecutive words a B fragment load touches fall in 32 different banks.
__host__ __device__ constexpr int plane_stride(int words) { return words + 4; }

// The B fragment (NS terms) at row n of a plane tile (plane s at P + s * plane, rows `stride` words
// apart), k offset k0 + 2t and k0 + 2t + 8: words k0/2 + t and k0/2 + t + 4 of the row.
template <int NS>
__device__ __forceinline__ void b_planes(const std::uint32_t* P, int plane, int stride, int n, int k0, int t,
                                         std::uint32_t (&b)[NS][2]) {
  PATH_UNROLL
  for (int sp = 0; sp < NS; ++sp) {
    const std::uint32_t* row = P + sp * plane + n * stride + k0 / 2 + t;
    b[sp][0] = row[0];
    b[sp][1] = row[4];
  }
}

// C[BK/8][4] (16 x BK) = X (16 x D) times B^T, B's fragments from fetch(n, k0, bb): B row n
// (n = nt * 8 + g), k offset k0 (b_fragments of an fp32 [BK][D + kPadF] tile, or b_planes).
template <int D, int NS, class Fetch>
__device__ __forceinline__ void gemm_x_bt(const float (&X)[D / 8][4], const Fetch& fetch, float (&C)[BK / 8][4],
                                          int g) {
  PATH_UNROLL
  for (int nt = 0; nt < BK / 8; ++nt)
    PATH_UNROLL
    for (int e = 0; e < 4; ++e) C[nt][e] = 0.0f;
  PATH_UNROLL
  for (int kk = 0; kk < D / 16; ++kk) {
    std::uint32_t xa[NS][4];
    a_fragments<NS>(X, kk, xa);
    PATH_UNROLL
    for (int nt = 0; nt < BK / 8; ++nt) {
      std::uint32_t bb[NS][2];
      fetch(nt * 8 + g, kk * 16, bb);
      mma_split_add<NS>(C[nt], xa, bb);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The main kernel.

struct RowState {
  float m[2], l[2], Gi[2];
};

// Online softmax over one 16 x BK tile of final logits S (-inf where masked), then O += P V with P
// rounded to the input type. Vt: [D][kKeyStride] input-type tile (V transposed).
template <class In, int D>
__device__ __forceinline__ void softmax_pv(float (&S)[BK / 8][4], RowState& st, float (&O)[D / 8][4], const In* Vt,
                                           int g, int t) {
  float mx[2] = {-INFINITY, -INFINITY};
  PATH_UNROLL
  for (int nt = 0; nt < BK / 8; ++nt) {
    mx[0] = fmaxf(mx[0], fmaxf(S[nt][0], S[nt][1]));
    mx[1] = fmaxf(mx[1], fmaxf(S[nt][2], S[nt][3]));
  }
  float ref[2], alpha[2], psum[2] = {0.0f, 0.0f};
  PATH_UNROLL
  for (int r = 0; r < 2; ++r) {
    mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
    mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
    const float m_new = fmaxf(st.m[r], mx[r]);
    ref[r] = m_new == -INFINITY ? 0.0f : m_new;  // a row with nothing yet (rows past the end)
    alpha[r] = st.m[r] == -INFINITY ? 0.0f : lowp_math::exp_rn(st.m[r] - ref[r]);
    st.m[r] = m_new;
  }
  std::uint32_t pa[BK / 16][4];
  PATH_UNROLL
  for (int nt = 0; nt < BK / 8; ++nt) {
    float p[4];
    PATH_UNROLL
    for (int e = 0; e < 4; ++e) {
      p[e] = S[nt][e] == -INFINITY ? 0.0f : lowp_math::exp_rn(S[nt][e] - ref[e / 2]);
      psum[e / 2] += p[e];
    }
    pa[nt / 2][(nt % 2) * 2 + 0] = pack_in<In>(p[0], p[1]);
    pa[nt / 2][(nt % 2) * 2 + 1] = pack_in<In>(p[2], p[3]);
  }
  PATH_UNROLL
  for (int r = 0; r < 2; ++r) st.l[r] = st.l[r] * alpha[r] + psum[r];
  PATH_UNROLL
  for (int nt = 0; nt < D / 8; ++nt) {
    O[nt][0] *= alpha[0];
    O[nt][1] *= alpha[0];
    O[nt][2] *= alpha[1];
    O[nt][3] *= alpha[1];
    const In* vrow = Vt + (nt * 8 + g) * kKeyStride;
    PATH_UNROLL
    for (int kk = 0; kk < BK / 16; ++kk) {
      std::uint32_t b0, b1;
      std::memcpy(&b0, vrow + kk * 16 + 2 * t, 4);  // two In values, the lower key in the low half
      std::memcpy(&b1, vrow + kk * 16 + 2 * t + 8, 4);
      mma16816<In>(O[nt], pa[kk], b0, b1);
    }
  }
}

// Words of the operand tiles K~, W (each [BK][D]) and W'^T ([D][BK]) in shared memory: fp32 with
// padding, or NS planes of bf16 pairs (PRESPLIT).
template <int D, int NS, bool PRESPLIT>
__host__ __device__ constexpr std::size_t operand_tile_words() {
  if constexpr (PRESPLIT)
    return static_cast<std::size_t>(NS) * (2 * BK * plane_stride(D / 2) + D * plane_stride(BK / 2));
  else
    return 2 * BK * (D + kPadF) + D * kKeyStride;
}

template <int D, int NS = 3, bool PRESPLIT = false>
constexpr std::size_t main_shared_bytes(std::size_t in_size) {
  return (operand_tile_words<D, NS, PRESPLIT>() + BK) * sizeof(float) + D * kKeyStride * in_size;
}

template <class In, int D, int NS, bool PRESPLIT = false>
__global__ void __launch_bounds__(kThreads) main_kernel(DevArgs a) {
  const In* __restrict__ v = static_cast<const In*>(a.v);
  // Blocks in reverse: the CTAs with the longest scans (a sequence's last blocks) start first.
  const i64 b = static_cast<i64>(gridDim.x) - 1 - blockIdx.x, hq = blockIdx.y, h = hq / (a.HQ / a.H);
  const TcBlock blk = a.blocks[b];
  const int n = blk.len;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int rows[2] = {warp * 16 + g, warp * 16 + g + 8};

  PATH_DYNAMIC_SHARED(raw);
  // fp32 tiles: K~_m, W_m [BK][D + kPadF], W'_m^T [D][kKeyStride]; pre-split: NS planes each of
  // K~_m, W_m [BK][plane_stride(D / 2)] and W'_m^T [D][plane_stride(BK / 2)] words.
  [[maybe_unused]] float* Ks = reinterpret_cast<float*>(raw);
  [[maybe_unused]] float* Ws = Ks + BK * (D + kPadF);
  [[maybe_unused]] float* WPs = Ws + BK * (D + kPadF);
  [[maybe_unused]] std::uint32_t* Kp = reinterpret_cast<std::uint32_t*>(raw);
  constexpr int kRow = plane_stride(D / 2), kPlaneK = BK * kRow;  // K~ and W planes
  constexpr int wRow = plane_stride(BK / 2), kPlaneW = D * wRow;  // W'^T planes
  [[maybe_unused]] std::uint32_t* Wp = Kp + NS * kPlaneK;
  [[maybe_unused]] std::uint32_t* WPp = Wp + NS * kPlaneK;
  float* Gs = reinterpret_cast<float*>(raw) + operand_tile_words<D, NS, PRESPLIT>();  // [BK] G_j
  In* Vt = reinterpret_cast<In*>(Gs + BK);    // [D][kKeyStride]  V_m^T

  RowState st;
  float X[D / 8][4], O[D / 8][4];
  {
    const float* qt = a.qt + (b * a.HQ + hq) * BK * D;
    PATH_UNROLL
    for (int nt = 0; nt < D / 8; ++nt) {
      PATH_UNROLL
      for (int r = 0; r < 2; ++r) {
        const float2 x = *reinterpret_cast<const float2*>(qt + rows[r] * D + nt * 8 + 2 * t);
        X[nt][2 * r] = x.x;
        X[nt][2 * r + 1] = x.y;
      }
      PATH_UNROLL
      for (int e = 0; e < 4; ++e) O[nt][e] = 0.0f;
    }
    PATH_UNROLL
    for (int r = 0; r < 2; ++r) {
      st.m[r] = -INFINITY;
      st.l[r] = 0.0f;
      st.Gi[r] = (a.G && rows[r] < n) ? a.G[(blk.row0 + rows[r]) * a.HQ + hq] : 0.0f;
    }
  }

  // Stages V_m^T and G of block m (len keys, zero past them).
  auto stage_v_g = [&](const TcBlock& bm) {
    for (int idx = threadIdx.x; idx < BK * D; idx += blockDim.x) {
      const int r = idx / D, d = idx % D;
      Vt[d * kKeyStride + r] = r < bm.len ? v[((bm.row0 + r) * a.H + h) * D + d] : from_acc<In>(0.0f);
    }
    for (int r = threadIdx.x; r < BK; r += blockDim.x)
      Gs[r] = (a.G && r < bm.len) ? a.G[(bm.row0 + r) * a.HQ + hq] : 0.0f;
  };

  // The diagonal block: raw logits from prep_q_kernel, causal mask j <= i (< n).
  stage_v_g(blk);
  __syncthreads();
  {
    const float* rd = a.rd + (b * a.HQ + hq) * BK * BK;
    float S[BK / 8][4];
    PATH_UNROLL
    for (int nt = 0; nt < BK / 8; ++nt)
      PATH_UNROLL
      for (int r = 0; r < 2; ++r) {
        const int i = rows[r];
        PATH_UNROLL
        for (int c = 0; c < 2; ++c) {
          const int j = nt * 8 + 2 * t + c;
          const bool ok = i < n && j <= i;
          const float rv = ok ? rd[i * BK + j] : 0.0f;
          S[nt][2 * r + c] = ok ? gated_logit(rv, a.scale, st.Gi[r] - Gs[j], a.gate_fla) : -INFINITY;
        }
      }
    softmax_pv<In, D>(S, st, O, Vt, g, t);
  }

  // Across blocks, right to left.
  for (int m = static_cast<int>(b) - 1; m >= blk.first; --m) {
    const TcBlock bm = a.blocks[m];  // a full block (only the last block of a sequence is short)
    __syncthreads();                 // the previous block's tiles are no longer read
    if constexpr (PRESPLIT) {
      // NS planes of each operand, 4 words at a time (every row is a multiple of 4 words).
      const i64 kv = (static_cast<i64>(m) * a.H + h) * BK * D / 2;
      for (int sp = 0; sp < NS; ++sp) {
        const uint4* kt = reinterpret_cast<const uint4*>(a.kt3 + sp * a.kt_plane + kv);
        const uint4* wp = reinterpret_cast<const uint4*>(a.wpt3 + sp * a.kt_plane + kv);
        for (int idx = threadIdx.x; idx < BK * D / 8; idx += blockDim.x) {
          const int r = idx / (D / 8), c = idx % (D / 8);
          *reinterpret_cast<uint4*>(Kp + sp * kPlaneK + r * kRow + 4 * c) = kt[idx];
          const uint4* wr = reinterpret_cast<const uint4*>(a.w3 + sp * a.w_plane + ((bm.row0 + r) * a.H + h) * D / 2);
          *reinterpret_cast<uint4*>(Wp + sp * kPlaneK + r * kRow + 4 * c) = wr[c];
        }
        for (int idx = threadIdx.x; idx < D * BK / 8; idx += blockDim.x) {
          const int d = idx / (BK / 8), c = idx % (BK / 8);
          *reinterpret_cast<uint4*>(WPp + sp * kPlaneW + d * wRow + 4 * c) = wp[idx];
        }
      }
      stage_v_g(bm);
    } else {
      const float4* kt = reinterpret_cast<const float4*>(a.kt + (static_cast<i64>(m) * a.H + h) * BK * D);
      const float4* wp = reinterpret_cast<const float4*>(a.wpt + (static_cast<i64>(m) * a.H + h) * D * BK);
      for (int idx = threadIdx.x; idx < BK * D / 4; idx += blockDim.x) {
        const int r = idx / (D / 4), c = idx % (D / 4);
        *reinterpret_cast<float4*>(Ks + r * (D + kPadF) + 4 * c) = kt[idx];
      }
      for (int idx = threadIdx.x; idx < D * BK / 4; idx += blockDim.x) {
        const int d = idx / (BK / 4), c = idx % (BK / 4);
        *reinterpret_cast<float4*>(WPs + d * kKeyStride + 4 * c) = wp[idx];
      }
      for (int idx = threadIdx.x; idx < BK * D; idx += blockDim.x) {
        const int r = idx / D, d = idx % D;
        Ws[r * (D + kPadF) + d] = a.w[((bm.row0 + r) * a.H + h) * D + d];
      }
      stage_v_g(bm);
    }
    __syncthreads();
    // B fragments of K~, W (row n = key, k = d) and W'^T (row n = d, k = key).
    auto fetch_k = [&](int n, int k0, std::uint32_t (&bb)[NS][2]) {
      if constexpr (PRESPLIT) b_planes<NS>(Kp, kPlaneK, kRow, n, k0, t, bb);
      else b_fragments<NS>(Ks + n * (D + kPadF), k0, t, bb);
    };
    auto fetch_w = [&](int n, int k0, std::uint32_t (&bb)[NS][2]) {
      if constexpr (PRESPLIT) b_planes<NS>(Wp, kPlaneK, kRow, n, k0, t, bb);
      else b_fragments<NS>(Ws + n * (D + kPadF), k0, t, bb);
    };
    auto fetch_wp = [&](int n, int k0, std::uint32_t (&bb)[NS][2]) {
      if constexpr (PRESPLIT) b_planes<NS>(WPp, kPlaneW, wRow, n, k0, t, bb);
      else b_fragments<NS>(WPs + n * kKeyStride, k0, t, bb);
    };

    float S[BK / 8][4];
    gemm_x_bt<D, NS>(X, fetch_k, S, g);
    PATH_UNROLL
    for (int nt = 0; nt < BK / 8; ++nt)
      PATH_UNROLL
      for (int e = 0; e < 4; ++e) {
        const int j = nt * 8 + 2 * t + (e % 2);
        S[nt][e] = gated_logit(S[nt][e], a.scale, st.Gi[e / 2] - Gs[j], a.gate_fla);
      }
    softmax_pv<In, D>(S, st, O, Vt, g, t);

    if (m > blk.first) {
      // X <- X - (X W_m^T) W'_m: U = X W^T (16 x BK), then per 8 columns of D, X -= U W'.
      float U[BK / 8][4];
      gemm_x_bt<D, NS>(X, fetch_w, U, g);
      std::uint32_t ua[BK / 16][NS][4];
      PATH_UNROLL
      for (int kk = 0; kk < BK / 16; ++kk) a_fragments<NS>(U, kk, ua[kk]);
      PATH_UNROLL
      for (int nt = 0; nt < D / 8; ++nt) {
        float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        PATH_UNROLL
        for (int kk = 0; kk < BK / 16; ++kk) {
          std::uint32_t bb[NS][2];
          fetch_wp(nt * 8 + g, kk * 16, bb);
          mma_split_add<NS>(c, ua[kk], bb);
        }
        PATH_UNROLL
        for (int e = 0; e < 4; ++e) X[nt][e] -= c[e];
      }
    }
  }

  // o = O / l, lse = m + log l (l summed over the row's four lanes).
  In* __restrict__ o = static_cast<In*>(a.o);
  PATH_UNROLL
  for (int r = 0; r < 2; ++r) {
    float l = st.l[r];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    if (rows[r] >= n) continue;
    const i64 row = blk.row0 + rows[r];
    PATH_UNROLL
    for (int nt = 0; nt < D / 8; ++nt) {
      In* dst = o + (row * a.HQ + hq) * D + nt * 8 + 2 * t;
      dst[0] = from_acc<In>(O[nt][2 * r] / l);
      dst[1] = from_acc<In>(O[nt][2 * r + 1] / l);
    }
    if (t == 0) a.lse[row * a.HQ + hq] = st.m[r] + lowp_math::log_rn(l);
  }
}

template <int D>
constexpr std::size_t prep_kv_bytes() {
  return (2 * BK * D + 2 * BK * (BK + 1) + BK) * sizeof(float);
}
template <int D>
constexpr std::size_t prep_q_bytes() {
  return (2 * BK * D + BK) * sizeof(float);
}

}  // namespace
}  // namespace path::gpu::tc_forward
