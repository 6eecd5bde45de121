#pragma once
// The fused decode step (issue 17): one pass over the key cache that transforms every cached key by
// the chunk's Householder transformations, scores it against every new query that sees it, writes it
// back once, and accumulates a partial softmax per split of the cache; a small kernel merges the
// splits. Included by decode.cu, and usable through the host shim (path/gpu/host_shim.hpp) like
// decode_kernel.cuh.
//
// Notation (path/gpu/decode.hpp, docs/decode.md (1)): the cache holds k_j^(n0-1) for j < n0; the
// chunk's tokens are t = n0 + c, c = 0..n-1. Token t sees key j through k_j^(t) = H_t ... H_{j+1} k_j.
// Here the transformations are applied to the key (not to the query as the plain step does): a lane
// group holds key j in fp32 registers, and for c = 0..n-1 first applies H_{n0+c} (when j < n0 + c)
// and then scores it against the query heads of the GQA group for token n0+c (when j <= n0 + c).
// After the last c the key is k_j^(n0+n-1) and is stored back (rounded once to the cache type). The
// chunk's own keys are part of the same key range (j = n0 .. n0+n-1, read from the new tokens), so
// the in-chunk causal part is covered by the same code, with masking c >= j - n0.
//
// Work split: grid (split, kv head, sequence); a block of kThreads = 32 groups of kLanes = 8 lanes
// streams keys [split * split_len, ...) in tiles of 32 keys (one key per group); lane l of a group
// holds the E = D / 8 contiguous components l*E .. l*E+E-1 (16-byte loads of the cache for bf16
// D = 64), its rows streamed through a ring of cp.async copies S - 1 tiles ahead (ring_stages). Per
// tile: logits to shared memory, then per (token, query head) pair an online-softmax update
// (probabilities rounded to the input type before P*V, as the plain kernels do), and P*V either in
// each key's group (group_pv_fits: up to two pairs, in registers) or over the block's threads in key
// slices (pv_slices). Each split writes (m, l, acc) per pair to a workspace; fused_combine_kernel
// merges them into o and lse. Why each piece: docs/decode.md section 6 and the profiles in
// docs/performance-gpu.md (2026-12-02).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "decode_launch.hpp"
#include "lowp_math.cuh"
#include "path/gpu/async_copy.cuh"
#include "path/gpu/kernel_support.cuh"

namespace path::gpu::fused_decode_kernel {
namespace {

using decode_detail::DecodeKernelArgs;
using kernel_support::i64;
using lowp_math::from_acc;
using lowp_math::gated_logit;
using lowp_math::round_to_input;
using lowp_math::to_acc;

constexpr int kLanes = 8;
constexpr int kGroups = 32;                 // keys per tile
constexpr int kThreads = kLanes * kGroups;  // 256
constexpr int kWarps = kThreads / 32;
constexpr int kMaxAcc = 16;                 // accumulators per thread: pairs * Dv <= kThreads * kMaxAcc
// Pairs of per-group P*V (FusedPlan::group_pv) for a value row of EV elements per lane: their
// accumulators stay in registers (2 pairs at Dv <= 64, 1 at 128).
__host__ __device__ constexpr int group_pv_pairs(int EV) { return EV * 2 <= 16 ? 2 : 1; }
constexpr std::size_t kSharedLimit = 48 * 1024;
constexpr i64 kMinSplitLength = 4 * kGroups;  // keys
static_assert(kGroups == 32, "the per-pair softmax reduction gives one key of a tile to each lane of a warp");

// Loads E contiguous elements of T at p into fp32. Vector loads (p aligned to the vector's size,
// which the cache guarantees) on the GPU; element by element on the host shim.
template <class T, int E, bool Vec>
__device__ __forceinline__ void load_row(const T* p, float (&x)[E]) {
  constexpr int bytes = E * static_cast<int>(sizeof(T));
#ifdef __CUDA_ARCH__
  constexpr bool kVector = Vec && (bytes % 16 == 0 || bytes == 8 || bytes == 4);
#else
  constexpr bool kVector = false;
#endif
  if constexpr (kVector) {
    using V = std::conditional_t<bytes % 16 == 0, uint4, std::conditional_t<bytes == 8, uint2, unsigned>>;
    constexpr int per = static_cast<int>(sizeof(V) / sizeof(T));
    PATH_UNROLL
    for (int i = 0; i < E / per; ++i) {
      const V v = reinterpret_cast<const V*>(p)[i];
      const T* e = reinterpret_cast<const T*>(&v);
      PATH_UNROLL
      for (int k = 0; k < per; ++k) x[i * per + k] = to_acc(e[k]);
    }
  } else {
    PATH_UNROLL
    for (int e = 0; e < E; ++e) x[e] = to_acc(p[e]);
  }
}

// Stores x rounded to T at p (aligned to the vector's size: the cache).
template <class T, int E>
__device__ __forceinline__ void store_row(T* p, const float (&x)[E]) {
  constexpr int bytes = E * static_cast<int>(sizeof(T));
#ifdef __CUDA_ARCH__
  constexpr bool kVector = bytes % 16 == 0 || bytes == 8 || bytes == 4;
#else
  constexpr bool kVector = false;
#endif
  if constexpr (kVector) {
    using V = std::conditional_t<bytes % 16 == 0, uint4, std::conditional_t<bytes == 8, uint2, unsigned>>;
    constexpr int per = static_cast<int>(sizeof(V) / sizeof(T));
    PATH_UNROLL
    for (int i = 0; i < E / per; ++i) {
      V v;
      T* e = reinterpret_cast<T*>(&v);
      PATH_UNROLL
      for (int k = 0; k < per; ++k) e[k] = from_acc<T>(x[i * per + k]);
      reinterpret_cast<V*>(p)[i] = v;
    }
  } else {
    PATH_UNROLL
    for (int e = 0; e < E; ++e) p[e] = from_acc<T>(x[e]);
  }
}

// A staged row (w or q) is kept permuted so that a lane's E components come as float4s that the
// group's lanes read side by side: component lane*E + e sits at (e / V) * V * kLanes + lane * V +
// e % V, V = min(E, 4) (conflict-free; every group reads the same row, a broadcast).
__host__ __device__ constexpr int perm_width(int E) { return E < 4 ? E : 4; }
__host__ __device__ inline int perm_index(int d, int E) {
  const int lane = d / E, e = d % E, V = perm_width(E);
  return (e / V) * V * kLanes + lane * V + e % V;
}

// This lane's E components of a staged row.
template <int E>
__device__ __forceinline__ void perm_row(const float* row, int lane, float (&r)[E]) {
  constexpr int V = perm_width(E);
  PATH_UNROLL
  for (int i = 0; i < E / V; ++i) {
    const float* const p = row + i * V * kLanes + lane * V;
    if constexpr (V == 4) {
      const float4 t = *reinterpret_cast<const float4*>(p);
      r[4 * i] = t.x;
      r[4 * i + 1] = t.y;
      r[4 * i + 2] = t.z;
      r[4 * i + 3] = t.w;
    } else {
      PATH_UNROLL
      for (int v = 0; v < V; ++v) r[i * V + v] = p[v];
    }
  }
}

// The dot product of the group's vector x (lane holds components lane*E + e) with r (the same
// components of a staged row). Compensated (lowp_math's Dot2, as every dot product of the kernels
// under test) when the cache or the inputs are fp32; a plain fp32 fma chain and butterfly sum over
// a 16-bit cache, where it costs a third of the instructions and changes no error that shows
// (docs/decode.md section 6, "Plain dots over a 16-bit cache": each logit and stored key already
// carries the cache's rounding, 2^-9 or 2^-12 relative per element, against <= D 2^-24 of
// Sum |x_e r_e| for the plain dot). Every lane of the group ends with the same bits either way (each
// butterfly level adds the same two values).
template <int E, bool Compensated>
__device__ __forceinline__ float group_dot(const float (&x)[E], const float (&r)[E]) {
  if constexpr (Compensated) {
    float hi = 0.0f, lo = 0.0f;
    PATH_UNROLL
    for (int e = 0; e < E; ++e) lowp_math::dot2_add(r[e], x[e], hi, lo);
    return lowp_math::group_dot2<kLanes>(hi, lo);
  } else {
    float s = 0.0f;
    PATH_UNROLL
    for (int e = 0; e < E; ++e) s = fma(r[e], x[e], s);
    return kernel_support::lane_group_sum<kLanes>(s);
  }
}

// exp for the probabilities: correctly rounded (as the plain kernels) where the inputs or the
// cache are fp32; CUDA's expf (<= 2 ulp) over a 16-bit cache, whose probabilities are rounded to
// the input type (2^-9 or 2^-12) before P*V and whose logits carry the cache's rounding: 2 ulp of
// fp32 in l is 2^-22 in lse, far below that (docs/decode.md section 6).
template <bool Exact>
__device__ __forceinline__ float prob_exp(float x) {
  if constexpr (Exact) return lowp_math::exp_rn(x);
  else return expf(x);
}

// What the host decides for a fused step; the shared layout (floats) follows it.
struct FusedPlan {
  int G = 1, pairs = 1;        // query heads per kv head; pairs = n * G, pair p = c * G + g
  int splits = 1;
  i64 split_len = kGroups;     // keys per split, a multiple of kGroups
  int slices = 1;              // P*V key slices: pv_slices()
  bool group_pv = false;       // P*V in each key's group (group_pv_fits)
  std::size_t shared_bytes = 0;
};

// How many slices of a tile's keys the P*V update is spread over: with few accumulators (pairs * Dv
// below the block's threads, one token and no GQA: 64 at D = 64) one slice would leave most threads
// idle while a few chain 32 fmas each; with s slices, thread (slice, pair, d) sums kGroups / s keys
// into its own accumulator and the slices are added once, at the split's end. A power of two (it
// divides kGroups) with s * pairs * Dv <= kThreads (one accumulator per thread when s > 1).
inline int pv_slices(int pairs, i64 Dv) {
  int s = 1;
  while (2 * s <= kGroups && static_cast<i64>(2 * s) * pairs * Dv <= kThreads) s *= 2;
  return s;
}

__host__ __device__ inline std::size_t fused_shared_floats(i64 n, int pairs, i64 D, i64 Dv) {
  // w [n][D], q [pairs][D] (permuted), beta [n], G_t [pairs], logits [pairs][kGroups], values
  // [kGroups][Dv], m, l, alpha [pairs]
  return static_cast<std::size_t>(n * D + pairs * D + n + pairs + pairs * kGroups + kGroups * Dv + 3 * pairs);
}

// P*V in the groups: with few pairs (group_pv_pairs: one token at Dv = 128, up to two at Dv <= 64),
// each key's group adds p_j v_j into the lane's own accumulators of every
// pair, in registers, tile after tile (the value row is in the group's registers already): no value
// tile in shared memory, no P*V phase, Dv fmas per key and pair. The groups' sums are added once, at
// the split's end, through the ring (free then), which must hold kGroups * pairs * Dv floats.
inline bool group_pv_fits(int pairs, i64 Dv, std::size_t ring_bytes_available) {
  return pairs <= group_pv_pairs(static_cast<int>(Dv / kLanes)) &&
         static_cast<std::size_t>(kGroups) * pairs * Dv * sizeof(float) <= ring_bytes_available;
}

// The ring of streamed cache rows (fused_step_kernel's tiles): S tiles of every thread's key and
// value segments, row_bytes = (D + Dv) / 8 cache elements per thread and tile. As many tiles as fit
// 32 KiB, 2 to 4 (2 tiles: 64 KiB at D = Dv = 128 with an fp32 cache, the largest).
__host__ __device__ constexpr int ring_stages(int row_bytes) {
  const int s = 32 * 1024 / (kThreads * row_bytes);
  return s < 2 ? 2 : (s > 4 ? 4 : s);
}
__host__ __device__ constexpr std::size_t ring_bytes(int row_bytes) {
  return static_cast<std::size_t>(ring_stages(row_bytes)) * kThreads * row_bytes;
}
// The ring follows the staged chunk (fused_shared_floats), 16-byte aligned for the copies.
__host__ __device__ inline std::size_t ring_offset(i64 n, int pairs, i64 D, i64 Dv) {
  return (fused_shared_floats(n, pairs, D, Dv) * sizeof(float) + 15) / 16 * 16;
}

// Whether the fused step can run this step (and how); `why` says why not. Splits: enough for about
// target_blocks blocks, each of at least min_split keys.
inline bool plan_fused(const DecodeKernelArgs& a, int target_blocks, FusedPlan& f, std::string* why,
                       i64 min_split = kMinSplitLength) {
  auto no = [&](const std::string& s) {
    if (why) *why = s;
    return false;
  };
  if (a.H < 1 || a.HQ % a.H != 0) return no("HQ is not a multiple of H");
  if (a.D % kLanes != 0 || a.D / kLanes > 16 || a.Dv % kLanes != 0 || a.Dv / kLanes > 16)
    return no("head dims must be multiples of 8 up to 128");
  f.G = static_cast<int>(a.HQ / a.H);
  if (a.n > 64 || a.n * f.G > kThreads) return no("too many (token, query head) pairs in the chunk");
  f.pairs = static_cast<int>(a.n * f.G);
  if (static_cast<i64>(f.pairs) * a.Dv > static_cast<i64>(kThreads) * kMaxAcc)
    return no("n * HQ/H * Dv = " + std::to_string(f.pairs * a.Dv) + " exceeds " + std::to_string(kThreads * kMaxAcc) +
              " accumulators");
  if (fused_shared_floats(a.n, f.pairs, a.D, a.Dv) * sizeof(float) > kSharedLimit)
    return no("the chunk's staged tokens exceed 48 KiB of shared memory");
  const int cache_bytes = (a.in_type == DType::F32 || a.cache_type == DType::F32) ? 4 : 2;  // KC
  const std::size_t ring = ring_bytes(static_cast<int>((a.D + a.Dv) / kLanes) * cache_bytes);
  f.shared_bytes = ring_offset(a.n, f.pairs, a.D, a.Dv) + ring;
  const i64 total = a.n0 + a.n;
  const i64 per_seq = a.batch * a.H;
  i64 splits = (static_cast<i64>(target_blocks) + per_seq - 1) / per_seq;
  if (min_split < kGroups) min_split = kGroups;
  const i64 max_splits = (total + min_split - 1) / min_split;
  if (splits > max_splits) splits = max_splits;
  if (splits < 1) splits = 1;
  if (splits > 65535) splits = 65535;
  i64 len = (total + splits - 1) / splits;
  len = (len + kGroups - 1) / kGroups * kGroups;
  f.split_len = len;
  f.splits = static_cast<int>((total + len - 1) / len);
  f.slices = pv_slices(f.pairs, a.Dv);
  f.group_pv = group_pv_fits(f.pairs, a.Dv, ring);
  return true;
}

// Workspace floats: per (sequence, kv head, split, pair) m, l and Dv accumulators.
inline std::size_t fused_workspace_floats(const DecodeKernelArgs& a, const FusedPlan& f) {
  return static_cast<std::size_t>(a.batch * a.H) * static_cast<std::size_t>(f.splits) *
         static_cast<std::size_t>(f.pairs) * static_cast<std::size_t>(a.Dv + 2);
}

// Values of the new tokens into the cache (converted to the cache type) and, when gated, the
// cumulative gates (as decode_kernel's append_gates_kernel: in order, fp32).
template <class In, class KC>
__global__ void fused_append_values_kernel(DecodeKernelArgs a) {
  const i64 total = a.batch * a.n * a.H * a.Dv;
  const i64 idx = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= total) return;
  const i64 row = idx / (a.H * a.Dv), within = idx % (a.H * a.Dv);
  const i64 b = row / a.n, c = row % a.n;
  static_cast<KC*>(a.cache_v)[(b * a.capacity + a.n0 + c) * a.H * a.Dv + within] =
      from_acc<KC>(to_acc(static_cast<const In*>(a.v)[idx]));
}

__global__ void fused_append_gates_kernel(DecodeKernelArgs a) {
  const i64 idx = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= a.batch * a.HQ) return;
  const i64 b = idx / a.HQ, hq = idx % a.HQ;
  float acc = a.n0 > 0 ? a.cache_G[(b * a.capacity + a.n0 - 1) * a.HQ + hq] : 0.0f;
  for (i64 c = 0; c < a.n; ++c) {
    acc += a.g[(b * a.n + c) * a.HQ + hq];
    a.cache_G[(b * a.capacity + a.n0 + c) * a.HQ + hq] = acc;
  }
}

// Blocks per multiprocessor the register allocation must allow: 3 (24 warps: at most 85 registers
// a thread) for a 16-bit cache at D = Dv <= 64, where the step is bound by the latency of its loads
// and barriers (80 registers and 16 bytes of spills at D = 64); the compiler's choice otherwise
// (D != Dv's run-time value width would spill hundreds of bytes).
template <class KC, int E, int EVT>
constexpr int fused_min_blocks() {
  return sizeof(KC) == 2 && E <= 8 && EVT == E ? 3 : 1;
}

// The fused pass over keys [split * split_len, min(+split_len, n0 + n)) of (sequence, kv head).
// The chunk's values and gates are in the cache already (the append kernels run first).
// EVT: the value row's elements per lane (Dv / 8) when it is a compile-time constant (the
// instantiations with Dv = D), 0 for a run-time one (D != Dv: a switch, more registers).
template <class In, class KC, int E, int EVT>
__global__ void __launch_bounds__(kThreads, fused_min_blocks<KC, E, EVT>()) fused_step_kernel(DecodeKernelArgs a, FusedPlan f) {
  const In* __restrict__ q = static_cast<const In*>(a.q);
  const In* __restrict__ k_new = static_cast<const In*>(a.k);
  KC* __restrict__ cache_k = static_cast<KC*>(a.cache_k);
  const KC* __restrict__ cache_v = static_cast<const KC*>(a.cache_v);
  const i64 split = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int D = kLanes * E, Dv = static_cast<int>(a.Dv), EV = Dv / kLanes;
  const int n = static_cast<int>(a.n), G = f.G, P = f.pairs;
  const int group = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  const int warp = threadIdx.x / 32, wlane = threadIdx.x % 32;
  const i64 total = a.n0 + a.n;
  const i64 begin = split * f.split_len;
  const i64 end = min(begin + f.split_len, total);
  constexpr bool kCompensated = std::is_same_v<In, float> || std::is_same_v<KC, float>;  // group_dot, prob_exp

  PATH_DYNAMIC_SHARED(shared_raw);
  float* const ws = reinterpret_cast<float*>(shared_raw);  // [n][D] permuted
  float* const qs = ws + n * D;                             // [P][D] permuted
  float* const bs = qs + P * D;                             // [n]
  float* const gt = bs + n;                                 // [P]  G_t of the pair's token and head
  float* const ss = gt + P;                                 // [P][kGroups] logits, then probabilities
  float* const vs = ss + P * kGroups;                       // [kGroups][Dv]
  float* const ms = vs + kGroups * Dv;                      // [P]
  float* const ls = ms + P;                                 // [P]
  float* const as = ls + P;                                 // [P]

  for (int idx = threadIdx.x; idx < n * D; idx += blockDim.x) {
    const int c = idx / D, d = idx % D;
    ws[c * D + perm_index(d, E)] = a.w[((b * a.n + c) * a.H + h) * D + d];
  }
  for (int idx = threadIdx.x; idx < P * D; idx += blockDim.x) {
    const int p = idx / D, d = idx % D, c = p / G, g = p % G;
    qs[p * D + perm_index(d, E)] = to_acc(q[((b * a.n + c) * a.HQ + h * G + g) * D + d]);
  }
  for (int c = threadIdx.x; c < n; c += blockDim.x) bs[c] = a.beta[(b * a.n + c) * a.H + h];
  for (int p = threadIdx.x; p < P; p += blockDim.x) {
    const int c = p / G, g = p % G;
    gt[p] = a.cache_G ? a.cache_G[(b * a.capacity + a.n0 + c) * a.HQ + h * G + g] : 0.0f;
    ms[p] = -INFINITY;
    ls[p] = 0.0f;
  }
  float acc[kMaxAcc];
  PATH_UNROLL
  for (int r = 0; r < kMaxAcc; ++r) acc[r] = 0.0f;
  const float scale = a.scale;

  // The tile loop, with the value row's width per lane (EV = Dv / 8) known at compile time so that
  // the value row stays in registers. The cached rows stream through a ring of S tiles in shared
  // memory (ring_stages): each thread copies its own segments of key and value row j
  // asynchronously (async_copy) S - 1 tiles ahead and reads back only what it copied, so no barrier
  // guards the ring and S - 1 tiles of loads are in flight while a tile is transformed, scored and
  // accumulated. The chunk's own keys come from the new tokens (plain loads: their rows need not be
  // aligned); rows past the split's end are zero (probability 0 times a finite value).
  auto tiles = [&](auto ev) {
    constexpr int EVc = decltype(ev)::value;
    constexpr int KB = E * static_cast<int>(sizeof(KC)), VB = EVc * static_cast<int>(sizeof(KC));
    constexpr int S = ring_stages(KB + VB);
    KC* const kring = reinterpret_cast<KC*>(shared_raw + ring_offset(n, P, D, Dv));  // [S][kThreads][E]
    KC* const vring = kring + S * kThreads * E;                                      // [S][kThreads][EVc]
    const i64 tiles_n = (end - begin + kGroups - 1) / kGroups;
    auto slot = [&](i64 t) { return static_cast<int>(t % S) * kThreads + static_cast<int>(threadIdx.x); };
    auto issue = [&](i64 t) {  // tile t's rows of this thread into its ring slot (one group, maybe empty)
      const i64 j = begin + t * kGroups + group;
      if (j < end && j < a.n0)
        async_copy::copy_row<KB>(kring + slot(t) * E, cache_k + ((b * a.capacity + j) * a.H + h) * D + lane * E);
      if (j < end)
        async_copy::copy_row<VB>(vring + slot(t) * EVc, cache_v + ((b * a.capacity + j) * a.H + h) * Dv + lane * EVc);
      async_copy::commit();
    };
    auto take = [&](i64 t, float (&x)[E], float (&y)[EVc]) {  // tile t's rows, once its group is complete
      const i64 j = begin + t * kGroups + group;
      if (j < end && j < a.n0) {
        load_row<KC, E, true>(kring + slot(t) * E, x);
      } else if (j < end) {
        load_row<In, E, false>(k_new + ((b * a.n + (j - a.n0)) * a.H + h) * D + lane * E, x);
      } else {
        PATH_UNROLL
        for (int e = 0; e < E; ++e) x[e] = 0.0f;
      }
      if (j < end) {
        load_row<KC, EVc, true>(vring + slot(t) * EVc, y);
      } else {
        PATH_UNROLL
        for (int e = 0; e < EVc; ++e) y[e] = 0.0f;
      }
    };
    float gacc[group_pv_pairs(EVc) * EVc];  // per-group P*V (f.group_pv): pair p, component lane*EVc + e at p*EVc + e
    PATH_UNROLL
    for (int r = 0; r < group_pv_pairs(EVc) * EVc; ++r) gacc[r] = 0.0f;
    for (int t = 0; t < S - 1; ++t) issue(t);
    for (i64 t = 0; t < tiles_n; ++t) {
      issue(t + S - 1);  // into the slot tile t - 1 used (read by this thread in the last iteration)
      async_copy::wait<S - 1>();
      float x[E], y[EVc];
      take(t, x, y);
      const i64 j0 = begin + t * kGroups;
      __syncthreads();  // the previous tile's probabilities and values are used; the staging is done
      const i64 j = j0 + group;
      const bool valid = j < end;
      const int ci = valid ? static_cast<int>(max(j - a.n0, i64(-1))) : n;  // -1: a cached key
      for (int c = 0; c < n; ++c) {
        float wr[E];
        perm_row<E>(ws + c * D, lane, wr);
        const float dw = group_dot<E, kCompensated>(x, wr);  // every lane of the warp (butterfly)
        if (c > ci) {                                          // k <- H_{n0+c} k for keys older than token n0+c
          const float along = bs[c] * dw;
          PATH_UNROLL
          for (int e = 0; e < E; ++e) x[e] = fma(-along, wr[e], x[e]);
        }
        for (int g = 0; g < G; ++g) {
          const int p = c * G + g;
          float qr[E];
          perm_row<E>(qs + p * D, lane, qr);
          const float raw = group_dot<E, kCompensated>(x, qr);
          if (lane == 0) {
            float s = -INFINITY;
            if (valid && c >= ci) {
              const float Gj = a.cache_G ? a.cache_G[(b * a.capacity + j) * a.HQ + h * G + g] : 0.0f;
              s = gated_logit(raw, scale, gt[p] - Gj, a.gate_fla);
            }
            ss[p * kGroups + group] = s;
          }
        }
      }
      if (valid) store_row<KC, E>(cache_k + ((b * a.capacity + j) * a.H + h) * D + lane * E, x);
      if (!f.group_pv) {
        PATH_UNROLL
        for (int e = 0; e < EVc; ++e) vs[group * Dv + lane * EVc + e] = y[e];
      }
      __syncthreads();
      // Online softmax statistics: one warp per pair, one key per lane.
      for (int p = warp; p < P; p += kWarps) {
        const float s = ss[p * kGroups + wlane];
        const float tile_max = kernel_support::lane_group_max<32>(s);
        const float m_old = ms[p];
        const float m_new = fmax(m_old, tile_max);
        float pr = 0.0f, alpha = 1.0f;
        if (m_new != -INFINITY) {
          pr = prob_exp<kCompensated>(s - m_new);         // 0 for masked keys
          alpha = prob_exp<kCompensated>(m_old - m_new);  // 0 on the first live tile
        }
        const float psum = kernel_support::lane_group_sum<32>(pr);
        ss[p * kGroups + wlane] = round_to_input<In>(pr);
        __syncwarp();
        if (wlane == 0) {
          ls[p] = ls[p] * alpha + psum;
          ms[p] = m_new;
          as[p] = alpha;
        }
      }
      __syncthreads();
      if (f.group_pv) {  // this group's key into the lane's accumulators of every pair
        PATH_UNROLL
        for (int p = 0; p < group_pv_pairs(EVc); ++p)
          if (p < P) {
            const float alpha = as[p], pj = ss[p * kGroups + group];
            PATH_UNROLL
            for (int e = 0; e < EVc; ++e) gacc[p * EVc + e] = fma(pj, y[e], gacc[p * EVc + e] * alpha);
          }
        continue;
      }
      // P*V: thread owns accumulators idx = threadIdx.x + r * kThreads of the [slices][P][Dv]
      // block; slice sl sums keys sl * per .. (sl + 1) * per - 1 of the tile (pv_slices).
      const int per = kGroups / f.slices;
      PATH_UNROLL
      for (int r = 0; r < kMaxAcc; ++r) {
        const int idx = static_cast<int>(threadIdx.x) + r * kThreads;
        if (idx < f.slices * P * Dv) {
          const int sl = idx / (P * Dv), p = idx % (P * Dv) / Dv, d = idx % Dv;
          float v = acc[r] * as[p];
          const float* const pr = ss + p * kGroups + sl * per;
          const float* const vv = vs + sl * per * Dv + d;
          for (int key = 0; key < per; ++key) v = fma(pr[key], vv[key * Dv], v);
          acc[r] = v;
        }
      }
    }
    async_copy::wait<0>();  // the groups issued past the last tile are empty; none is left pending
    if (f.group_pv) {  // the groups' sums, in group order, through the ring: [kGroups][P][Dv]
      float* const red = reinterpret_cast<float*>(kring);
      __syncthreads();
      PATH_UNROLL
      for (int p = 0; p < group_pv_pairs(EVc); ++p)
        if (p < P) {
          PATH_UNROLL
          for (int e = 0; e < EVc; ++e) red[(group * P + p) * Dv + lane * EVc + e] = gacc[p * EVc + e];
        }
      __syncthreads();
      float* const part = a.partials + ((b * a.H + h) * f.splits + split) * P * (Dv + 2);
      for (int idx = threadIdx.x; idx < P * Dv; idx += kThreads) {
        float v = red[idx];
        for (int gr = 1; gr < kGroups; ++gr) v += red[gr * P * Dv + idx];
        part[2 * P + idx] = v;
      }
    }
  };
  if constexpr (EVT > 0) {
    tiles(std::integral_constant<int, EVT>{});
  } else {
    switch (EV) {
      case 2: tiles(std::integral_constant<int, 2>{}); break;
      case 4: tiles(std::integral_constant<int, 4>{}); break;
      case 8: tiles(std::integral_constant<int, 8>{}); break;
      default: tiles(std::integral_constant<int, 16>{}); break;
    }
  }
  __syncthreads();
  float* const part = a.partials + ((b * a.H + h) * f.splits + split) * P * (Dv + 2);
  if (f.group_pv) {
    // written by tiles()
  } else if (f.slices == 1) {
    PATH_UNROLL
    for (int r = 0; r < kMaxAcc; ++r) {
      const int idx = static_cast<int>(threadIdx.x) + r * kThreads;
      if (idx < P * Dv) part[2 * P + idx] = acc[r];
    }
  } else {
    // The slices' sums (one accumulator per thread, slices * P * Dv <= kThreads) added in slice
    // order through the value tile's shared memory (kGroups * Dv >= kThreads floats), free now.
    if (static_cast<int>(threadIdx.x) < f.slices * P * Dv) vs[threadIdx.x] = acc[0];
    __syncthreads();
    for (int idx = threadIdx.x; idx < P * Dv; idx += kThreads) {
      float v = vs[idx];
      for (int sl = 1; sl < f.slices; ++sl) v += vs[sl * P * Dv + idx];
      part[2 * P + idx] = v;
    }
  }
  for (int p = threadIdx.x; p < P; p += blockDim.x) {
    part[p] = ms[p];
    part[P + p] = ls[p];
  }
}

// Merges the splits of (sequence, kv head): per pair m = max m_s, l = sum l_s e^(m_s - m),
// acc = sum acc_s e^(m_s - m); o = acc / l in the input type, lse = m + log l.
template <class In>
__global__ void __launch_bounds__(kThreads) fused_combine_kernel(DecodeKernelArgs a, FusedPlan f) {
  In* __restrict__ o = static_cast<In*>(a.o);
  const i64 h = blockIdx.y, b = blockIdx.z;
  const int Dv = static_cast<int>(a.Dv), P = f.pairs, G = f.G;
  const std::size_t stride = static_cast<std::size_t>(P) * (Dv + 2);
  const float* const base = a.partials + (b * a.H + h) * f.splits * stride;
  for (int idx = static_cast<int>(threadIdx.x) + static_cast<int>(blockIdx.x) * kThreads; idx < P * Dv;
       idx += kThreads * static_cast<int>(gridDim.x)) {
    const int p = idx / Dv, d = idx % Dv, c = p / G, g = p % G;
    float m = -INFINITY;
    for (int s = 0; s < f.splits; ++s) m = fmax(m, base[s * stride + p]);
    float l = 0.0f, v = 0.0f;
    for (int s = 0; s < f.splits; ++s) {
      const float* const part = base + s * stride;
      if (part[p] == -INFINITY) continue;  // no key of this split is seen by the pair's token
      const float alpha = lowp_math::exp_rn(part[p] - m);
      l = fma(part[P + p], alpha, l);
      v = fma(part[2 * P + idx], alpha, v);
    }
    const i64 row = (b * a.n + c) * a.HQ + h * G + g;
    o[row * Dv + d] = from_acc<In>(v / l);
    if (d == 0) a.lse[row] = m + lowp_math::log_rn(l);
  }
}

struct Grid {
  unsigned x = 1, y = 1, z = 1;
};

inline unsigned blocks_for(i64 n, unsigned threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

// The fused step in stream order through launch(name, grid, threads, shared_bytes, kernel, args...):
// appends (values, gates), the fused pass, the combine. a.partials must hold
// fused_workspace_floats(a, f) floats.
template <class In, class KC, class Launch>
void enqueue_fused_step(const DecodeKernelArgs& a, const FusedPlan& f, Launch& launch) {
  if (a.n < 1 || a.batch < 1) return;
  const unsigned threads = 128;
  launch("fused_append_values_kernel", Grid{blocks_for(a.batch * a.n * a.H * a.Dv, threads)}, threads,
         std::size_t(0), fused_append_values_kernel<In, KC>, a);
  if (a.g)
    launch("fused_append_gates_kernel", Grid{blocks_for(a.batch * a.HQ, threads)}, threads, std::size_t(0),
           fused_append_gates_kernel, a);
  const Grid grid{static_cast<unsigned>(f.splits), static_cast<unsigned>(a.H), static_cast<unsigned>(a.batch)};
  auto run = [&](auto e) {
    constexpr int E = decltype(e)::value;
    if (a.Dv == a.D)
      launch("fused_step_kernel", grid, static_cast<unsigned>(kThreads), f.shared_bytes,
             fused_step_kernel<In, KC, E, E>, a, f);
    else
      launch("fused_step_kernel", grid, static_cast<unsigned>(kThreads), f.shared_bytes,
             fused_step_kernel<In, KC, E, 0>, a, f);
  };
  switch (a.D / kLanes) {
    case 2: run(std::integral_constant<int, 2>{}); break;
    case 4: run(std::integral_constant<int, 4>{}); break;
    case 8: run(std::integral_constant<int, 8>{}); break;
    case 16: run(std::integral_constant<int, 16>{}); break;
    default: throw std::logic_error("fused decode: no instantiation for D = " + std::to_string(a.D));
  }
  launch("fused_combine_kernel",
         Grid{blocks_for(static_cast<i64>(f.pairs) * a.Dv, kThreads), static_cast<unsigned>(a.H),
              static_cast<unsigned>(a.batch)},
         static_cast<unsigned>(kThreads), std::size_t(0), fused_combine_kernel<In>, a, f);
}

}  // namespace
}  // namespace path::gpu::fused_decode_kernel
