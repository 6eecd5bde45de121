#pragma once
// Device arithmetic every kernel under test shares (forward, backward, decode; gpu/kernels):
// conversions between the input types (bf16, fp16, fp32) and the fp32 arithmetic type, the gate
// conventions, and the cumulative gate scan. fp32 only: the fp64 GPU oracle (gpu/oracle) has its
// own code and includes nothing from here (docs/design.md section 3).
//
// Compiled by nvcc, and by the host compiler through path/gpu/host_shim.hpp for
// tests/test_gpu_kernel_host.cpp (include the shim first there).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "path/gpu/kernel_support.cuh"

namespace path::gpu::lowp_math {
// Internal linkage, as in kernel_support.cuh: each including translation unit owns its copy.
namespace {

using kernel_support::i64;
using kernel_support::sequence_of;
using kernel_support::SequenceOf;

// The input types: q, k, v, o (and do, dq, dk, dv, the key cache) are stored in In; everything is
// computed in fp32.
template <class In>
inline constexpr bool kIsInputType =
    std::is_same_v<In, __nv_bfloat16> || std::is_same_v<In, __half> || std::is_same_v<In, float>;

__device__ __forceinline__ float to_acc(float x) { return x; }
__device__ __forceinline__ float to_acc(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_acc(__nv_bfloat16 x) { return __bfloat162float(x); }

// fp32 to the input type, rounding to nearest even.
template <class In>
__device__ __forceinline__ In from_acc(float x) {
  if constexpr (std::is_same_v<In, __half>) {
    return __float2half_rn(x);
  } else if constexpr (std::is_same_v<In, __nv_bfloat16>) {
    return __float2bfloat16_rn(x);
  } else {
    return x;
  }
}

// A value as a product of the input type sees it: rounded to In, back in fp32.
template <class In>
__device__ __forceinline__ float round_to_input(float p) {
  return to_acc(from_acc<In>(p));
}

// The final logit from the raw one for the chosen gate convention (docs/design.md section 1):
// fla: scale * (r + G_i - G_j); paper: scale * r + G_i - G_j.
__device__ __forceinline__ float gated_logit(float raw, float scale, float gate_difference, bool fla) {
  return fla ? scale * (raw + gate_difference) : scale * raw + gate_difference;
}

// exp and log of fp32 values, correctly rounded to fp32 (evaluated in double, then rounded once; a
// double rounding can differ from the correct one only when the exact value lies within 2^-53 of a
// midpoint between floats). The same-precision baseline's std::exp and std::log on the CPU are
// correctly rounded too; CUDA's expf and logf err by up to 2 and 1 units, and in rows with few keys
// that error is most of lse's (docs/gpu.md: the lse ratio of 8.4 the first GPU run showed).
__device__ __forceinline__ float exp_rn(float x) { return static_cast<float>(exp(static_cast<double>(x))); }
__device__ __forceinline__ float log_rn(float x) { return static_cast<float>(log(static_cast<double>(x))); }

// Compensated dot products (Ogita, Rump and Oishi's Dot2, "Accurate sum and dot product", 2005): each
// product split exactly into p + e (TwoProduct with one fma), each sum into s + e (Knuth's TwoSum), the
// error terms summed alongside; the result is as accurate as if computed in twice the working
// precision and then rounded. All fp32 operations. The kernels use it for every dot product: a plain
// fp32 dot of D terms errs by up to D units of the terms' magnitude, and when the terms cancel (large
// logits, a logit of a single key) that is many units of the result, more than the same-precision
// baseline may happen to make (docs/gpu.md); Dot2 leaves about one rounding of the result.
__device__ __forceinline__ float product_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);  // never contracted into an fma: TwoProduct needs the rounded product
#else
  return a * b;
#endif
}

// s + e == a + b exactly, s = fl(a + b).
__device__ __forceinline__ void two_sum(float a, float b, float& s, float& e) {
  s = a + b;
  const float z = s - a;
  e = (a - (s - z)) + (b - z);
}

// (hi, lo) += a * b.
__device__ __forceinline__ void dot2_add(float a, float b, float& hi, float& lo) {
  const float p = product_rn(a, b);
  const float ep = fma(a, b, -p);
  float s, es;
  two_sum(hi, p, s, es);
  hi = s;
  lo += ep + es;
}

// The lane group's (hi, lo) pairs summed by a butterfly (every lane ends with the same bits: TwoSum's
// (s, e) is unique for the unordered pair), rounded once.
template <int Lanes>
__device__ __forceinline__ float group_dot2(float hi, float lo) {
  static_assert(Lanes >= 1 && 32 % Lanes == 0, "a lane group must not straddle warps");
  PATH_UNROLL
  for (int off = Lanes / 2; off > 0; off /= 2) {
    const float h2 = __shfl_xor_sync(0xffffffffu, hi, off), l2 = __shfl_xor_sync(0xffffffffu, lo, off);
    float s, e;
    two_sum(hi, h2, s, e);
    hi = s;
    lo = (lo + l2) + e;
  }
  return hi + lo;
}

// The dot product of a vector carried by the lane group (components lane + e Lanes of x) with a
// staged row r (zero padded to P), compensated.
template <int Lanes, int CAP>
__device__ __forceinline__ float group_dot(const float (&x)[CAP], const float* r, int lane, int P) {
  float hi = 0.0f, lo = 0.0f;
  PATH_UNROLL
  for (int e = 0; e < CAP; ++e)
    if (e * Lanes < P) dot2_add(r[lane + e * Lanes], x[e], hi, lo);
  return group_dot2<Lanes>(hi, lo);
}

// One step of the query sweep (docs/algorithms.md section 2) for the query carried by this group of
// Lanes lanes (lane l holds components l, l + Lanes, ... of x = H_{j+1} ... H_i q_i; kr and wr are key
// j's k and w, zero padded to DP): returns the raw logit r_ij = k_j . x and, when `apply`, replaces x
// by H_j x = x - beta_j (w_j . x) w_j. The forward kernel and the backward's logit kernel both call
// this, so they compute bitwise the same logits: the backward's P = exp(s - lse) is then consistent
// with the forward's lse and o (docs/gpu.md explains why that matters for the fp32 gradients).
// Every lane of the warp calls it together (butterfly sums).
template <int Lanes, int CAP>
__device__ __forceinline__ float query_step(float (&x)[CAP], const float* kr, const float* wr, float beta, int lane,
                                            int DP, bool apply) {
  const float dk = group_dot<Lanes>(x, kr, lane, DP);
  const float dw = group_dot<Lanes>(x, wr, lane, DP);
  if (apply) {
    const float along = beta * dw;
    PATH_UNROLL
    for (int e = 0; e < CAP; ++e)
      if (e * Lanes < DP) x[e] = fma(-along, wr[lane + e * Lanes], x[e]);
  }
  return dk;
}

// G_i = g_begin + ... + g_i, one thread per (sequence, query head), summed in order in fp32 (the
// order the CPU oracles use). g and G are [B, T, HQ]; cu_seqlens null: num_seqs batch rows of T.
__global__ void gate_scan_kernel(const float* __restrict__ g, float* __restrict__ G, const i64* __restrict__ cu_seqlens,
                                 i64 num_seqs, i64 T, i64 HQ) {
  const i64 idx = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= num_seqs * HQ) return;
  const i64 hq = idx % HQ;
  const SequenceOf s = sequence_of(cu_seqlens, idx / HQ, T);
  float acc = 0.0f;
  for (i64 t = 0; t < s.length; ++t) {
    const i64 at = (s.batch * T + s.begin + t) * HQ + hq;
    acc += g[at];
    G[at] = acc;
  }
}

}  // namespace
}  // namespace path::gpu::lowp_math
