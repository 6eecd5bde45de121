#pragma once
// The plain low-precision decode kernels under test (included by decode.cu, and by
// tests/test_gpu_kernel_host.cpp through path/gpu/host_shim.hpp): prefill-to-cache and decode
// steps (path/gpu/decode.hpp has the algorithm; docs/decode.md the math). Inputs bf16, fp16 or fp32,
// w, beta, g in fp32, fp32 arithmetic; the cache's keys and values in the input type, its gates
// in fp32. As in the forward, each vector (a query, a key, a row of a suffix product) is carried by
// kLanes lanes of one warp, lane l holding components l, l + kLanes, ...; staged tiles live in
// shared memory; control flow around the butterfly sums is uniform across each warp. Every dot
// product is compensated (lowp_math::group_dot, Dot2); the query steps are the forward's own
// (lowp_math::query_step).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "decode_launch.hpp"
#include "lowp_math.cuh"
#include "path/gpu/kernel_support.cuh"

namespace path::gpu::decode_kernel {
// Internal linkage (see kernel_support.cuh).
namespace {

using decode_detail::DecodeKernelArgs;
using kernel_support::i64;
using kernel_support::round_up;
using lowp_math::from_acc;
using lowp_math::gated_logit;
using lowp_math::kIsInputType;
using lowp_math::round_to_input;
using lowp_math::to_acc;

constexpr int kLanes = 8;
constexpr int kGroups = 16;                   // vectors (groups) per block
constexpr int kThreads = kLanes * kGroups;    // 128
constexpr std::size_t kSharedBudget = 48 * 1024;
constexpr int kMaxKeyTile = 64;
static_assert(32 % kLanes == 0 && kThreads % 32 == 0, "a group must not straddle warps");

__device__ __forceinline__ float group_sum(float v) { return kernel_support::lane_group_sum<kLanes>(v); }
__device__ __forceinline__ float group_max(float v) { return kernel_support::lane_group_max<kLanes>(v); }

// Values of the n new tokens into cache slots n0 .. n0+n-1 (a copy; widened to fp32 for an fp32
// cache of bf16/fp16 inputs: exact).
template <class In, class KC>
__global__ void append_values_kernel(DecodeKernelArgs a) {
  const i64 total = a.batch * a.n * a.H * a.Dv;
  const i64 idx = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= total) return;
  const i64 row = idx / (a.H * a.Dv), within = idx % (a.H * a.Dv);
  const i64 b = row / a.n, c = row % a.n;
  static_cast<KC*>(a.cache_v)[(b * a.capacity + a.n0 + c) * a.H * a.Dv + within] =
      from_acc<KC>(to_acc(static_cast<const In*>(a.v)[idx]));
}

// Cumulative gates of the new tokens, continuing the cache's: G_t = G_{t-1} + g_t (G_{-1} = 0), in
// order in fp32 (the order of the CPU oracles), one thread per (sequence, query head).
__global__ void append_gates_kernel(DecodeKernelArgs a) {
  const i64 idx = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= a.batch * a.HQ) return;
  const i64 b = idx / a.HQ, hq = idx % a.HQ;
  float acc = a.n0 > 0 ? a.cache_G[(b * a.capacity + a.n0 - 1) * a.HQ + hq] : 0.0f;
  for (i64 c = 0; c < a.n; ++c) {
    acc += a.g[(b * a.n + c) * a.HQ + hq];
    a.cache_G[(b * a.capacity + a.n0 + c) * a.HQ + hq] = acc;
  }
}

// Prefill keys: one block per (16 rows i of the suffix product, kv head, sequence). Row i of
// S_j = H_{n-1} ... H_{j+1} is x^T with x = H_{j+1} ... H_{n-1} e_i; x starts as e_i at j = n-1 and
// takes x <- H_j x after key j, so entry i of the cached key is k_j^(n-1)[i] = x . k_j.
template <class In, class KC, int CAP>
__global__ void __launch_bounds__(kThreads) prefill_keys_kernel(DecodeKernelArgs a, int key_tile) {
  static_assert(kIsInputType<In>, "bf16, fp16 or fp32 inputs");
  const In* __restrict__ k = static_cast<const In*>(a.k);
  KC* __restrict__ cache = static_cast<KC*>(a.cache_k);
  const i64 h = blockIdx.y, b = blockIdx.z;
  const int group = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  const int D = static_cast<int>(a.D), DP = round_up(D, kLanes), KT = key_tile;
  const int i = static_cast<int>(blockIdx.x) * kGroups + group;
  const bool active = i < D;

  PATH_DYNAMIC_SHARED(shared_raw);
  float* const ks = reinterpret_cast<float*>(shared_raw);  // [KT][DP]
  float* const ws = ks + KT * DP;                           // [KT][DP]
  float* const bs = ws + KT * DP;                           // [KT]

  float x[CAP];
  PATH_UNROLL
  for (int e = 0; e < CAP; ++e) x[e] = (active && lane + e * kLanes == i) ? 1.0f : 0.0f;

  for (i64 j0 = ((a.n - 1) / KT) * KT; j0 >= 0; j0 -= KT) {
    const int kt = static_cast<int>(min(static_cast<i64>(KT), a.n - j0));
    __syncthreads();
    for (int idx = threadIdx.x; idx < kt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      const i64 at = ((b * a.n + j0 + r) * a.H + h) * D + d;
      ks[idx] = d < D ? to_acc(k[at]) : 0.0f;
      ws[idx] = d < D ? a.w[at] : 0.0f;
    }
    for (int r = threadIdx.x; r < kt; r += blockDim.x) bs[r] = a.beta[(b * a.n + j0 + r) * a.H + h];
    __syncthreads();
    for (int r = kt - 1; r >= 0; --r) {
      // Entry i of k_j^(n-1) = x . k_j, then x <- H_j x: the query sweep's step with e_i as the query.
      const float dk = lowp_math::query_step<kLanes, CAP>(x, ks + r * DP, ws + r * DP, bs[r], lane, DP, active);
      if (active && lane == 0) cache[((b * a.capacity + j0 + r) * a.H + h) * D + i] = from_acc<KC>(dk);
    }
  }
}

// One tile of the online softmax for the query carried by this lane group: my_p holds the tile's
// first nvalid logits; vs the tile's values. p is rounded to the input type before P*V (as the
// forward kernel and path::emulate_forward). Every lane of the warp calls this together.
template <class In, int CAP>
__device__ __forceinline__ void softmax_tile(float* my_p, int nvalid, const float* vs, int VP, int lane, float& m,
                                             float& l, float (&acc)[CAP]) {
  float tile_max = -INFINITY;
  for (int r = lane; r < nvalid; r += kLanes) tile_max = fmax(tile_max, my_p[r]);
  tile_max = group_max(tile_max);
  const float m_new = nvalid > 0 ? fmax(m, tile_max) : m;
  float psum = 0.0f;
  for (int r = lane; r < nvalid; r += kLanes) {
    const float p = lowp_math::exp_rn(my_p[r] - m_new);
    psum += p;
    my_p[r] = round_to_input<In>(p);
  }
  psum = group_sum(psum);
  __syncwarp();
  if (nvalid > 0) {
    const float alpha = lowp_math::exp_rn(m - m_new);  // 0 on the first tile (m = -inf)
    l = l * alpha + psum;
    m = m_new;
    PATH_UNROLL
    for (int e = 0; e < CAP; ++e) acc[e] *= alpha;
    for (int r = 0; r < nvalid; ++r) {
      const float p = my_p[r];
      const float* vr = vs + r * VP;
      PATH_UNROLL
      for (int e = 0; e < CAP; ++e)
        if (e * kLanes < VP) acc[e] = fma(p, vr[lane + e * kLanes], acc[e]);
    }
  }
}

// Attention of the n new tokens: one block per (16 tokens of the chunk, query head, sequence).
// Token c (position t = n0 + c) first sweeps the chunk's keys jj = c .. 0 as the forward does
// (r = k_jj . x, then x <- H_jj x), so afterwards x = H_{n0} ... H_t q_t, and then scores the n0
// cached keys k_j^(n0-1) . x without further transforms (docs/decode.md (1)). The chunk's values and
// gates are already in the cache (append_* ran first); the cached keys are read before the update.
template <class In, class KC, int CAP>
__global__ void __launch_bounds__(kThreads) attend_kernel(DecodeKernelArgs a, int key_tile) {
  static_assert(kIsInputType<In>, "bf16, fp16 or fp32 inputs");
  const In* __restrict__ q = static_cast<const In*>(a.q);
  const In* __restrict__ k = static_cast<const In*>(a.k);
  const KC* __restrict__ cache_k = static_cast<const KC*>(a.cache_k);
  const KC* __restrict__ cache_v = static_cast<const KC*>(a.cache_v);
  In* __restrict__ o = static_cast<In*>(a.o);
  const i64 hq = blockIdx.y, b = blockIdx.z;
  const i64 c0 = static_cast<i64>(blockIdx.x) * kGroups;
  if (c0 >= a.n) return;
  const int group = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  const i64 c = c0 + group;
  const bool active = c < a.n;
  const i64 kv = hq / (a.HQ / a.H);
  const int D = static_cast<int>(a.D), Dv = static_cast<int>(a.Dv);
  const int DP = round_up(D, kLanes), VP = round_up(Dv, kLanes), KT = key_tile;

  PATH_DYNAMIC_SHARED(shared_raw);
  float* const ks = reinterpret_cast<float*>(shared_raw);  // [KT][DP]
  float* const ws = ks + KT * DP;                           // [KT][DP]
  float* const vs = ws + KT * DP;                           // [KT][VP]
  float* const bs = vs + KT * VP;                           // [KT]
  float* const gs = bs + KT;                                // [KT]
  float* const my_p = gs + KT + group * KT;                 // [kGroups][KT]

  const i64 qrow = b * a.n + (active ? c : 0);
  const i64 t = a.n0 + (active ? c : 0);
  float x[CAP], acc[CAP];
  PATH_UNROLL
  for (int e = 0; e < CAP; ++e) {
    const int d = lane + e * kLanes;
    x[e] = (active && d < D) ? to_acc(q[(qrow * a.HQ + hq) * D + d]) : 0.0f;
    acc[e] = 0.0f;
  }
  const float Gt = (a.cache_G && active) ? a.cache_G[(b * a.capacity + t) * a.HQ + hq] : 0.0f;
  const float scale = a.scale;
  float m = -INFINITY, l = 0.0f;

  // The chunk's keys, with their transforms.
  const i64 c_last = min(c0 + kGroups, a.n) - 1;
  for (i64 jj0 = (c_last / KT) * KT; jj0 >= 0; jj0 -= KT) {
    const int kt = static_cast<int>(min(static_cast<i64>(KT), a.n - jj0));
    __syncthreads();
    for (int idx = threadIdx.x; idx < kt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      const i64 at = ((b * a.n + jj0 + r) * a.H + kv) * D + d;
      ks[idx] = d < D ? to_acc(k[at]) : 0.0f;
      ws[idx] = d < D ? a.w[at] : 0.0f;
    }
    for (int idx = threadIdx.x; idx < kt * VP; idx += blockDim.x) {
      const int r = idx / VP, d = idx % VP;
      vs[idx] = d < Dv ? to_acc(cache_v[((b * a.capacity + a.n0 + jj0 + r) * a.H + kv) * Dv + d]) : 0.0f;
    }
    for (int r = threadIdx.x; r < kt; r += blockDim.x) {
      bs[r] = a.beta[(b * a.n + jj0 + r) * a.H + kv];
      gs[r] = a.cache_G ? a.cache_G[(b * a.capacity + a.n0 + jj0 + r) * a.HQ + hq] : 0.0f;
    }
    __syncthreads();
    for (int r = kt - 1; r >= 0; --r) {
      const bool valid = active && jj0 + r <= c;
      const float raw = lowp_math::query_step<kLanes, CAP>(x, ks + r * DP, ws + r * DP, bs[r], lane, DP, valid);
      if (valid && lane == 0) my_p[r] = gated_logit(raw, scale, Gt - gs[r], a.gate_fla);
    }
    __syncwarp();
    const int nvalid = active ? static_cast<int>(max(i64(0), min(static_cast<i64>(kt), c - jj0 + 1))) : 0;
    softmax_tile<In, CAP>(my_p, nvalid, vs, VP, lane, m, l, acc);
  }

  // The cached keys k_j^(n0-1), j = n0-1 .. 0.
  for (i64 j0 = a.n0 > 0 ? ((a.n0 - 1) / KT) * KT : -1; j0 >= 0; j0 -= KT) {
    const int kt = static_cast<int>(min(static_cast<i64>(KT), a.n0 - j0));
    __syncthreads();
    for (int idx = threadIdx.x; idx < kt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      ks[idx] = d < D ? to_acc(cache_k[((b * a.capacity + j0 + r) * a.H + kv) * D + d]) : 0.0f;
    }
    for (int idx = threadIdx.x; idx < kt * VP; idx += blockDim.x) {
      const int r = idx / VP, d = idx % VP;
      vs[idx] = d < Dv ? to_acc(cache_v[((b * a.capacity + j0 + r) * a.H + kv) * Dv + d]) : 0.0f;
    }
    for (int r = threadIdx.x; r < kt; r += blockDim.x)
      gs[r] = a.cache_G ? a.cache_G[(b * a.capacity + j0 + r) * a.HQ + hq] : 0.0f;
    __syncthreads();
    for (int r = kt - 1; r >= 0; --r) {
      const float raw = lowp_math::group_dot<kLanes>(x, ks + r * DP, lane, DP);
      if (active && lane == 0) my_p[r] = gated_logit(raw, scale, Gt - gs[r], a.gate_fla);
    }
    __syncwarp();
    softmax_tile<In, CAP>(my_p, active ? kt : 0, vs, VP, lane, m, l, acc);
  }

  if (active) {
    PATH_UNROLL
    for (int e = 0; e < CAP; ++e) {
      const int d = lane + e * kLanes;
      if (d < Dv) o[(qrow * a.HQ + hq) * Dv + d] = from_acc<In>(acc[e] / l);
    }
    if (lane == 0) a.lse[qrow * a.HQ + hq] = m + lowp_math::log_rn(l);
  }
}

// The cache update after a step: one block per (16 keys, kv head, sequence). Key j < n0 is the
// cached k_j^(n0-1), key j >= n0 the new raw k_j; each gets H_t for the chunk's t > j, in order,
// and is stored back in the input type (the cache lives in it).
template <class In, class KC, int CAP>
__global__ void __launch_bounds__(kThreads) update_keys_kernel(DecodeKernelArgs a, int tile) {
  const In* __restrict__ k = static_cast<const In*>(a.k);
  KC* __restrict__ cache = static_cast<KC*>(a.cache_k);
  const i64 h = blockIdx.y, b = blockIdx.z;
  const i64 total = a.n0 + a.n;
  const i64 j0 = static_cast<i64>(blockIdx.x) * kGroups;
  if (j0 >= total) return;
  const int group = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  const i64 j = j0 + group;
  const bool active = j < total;
  const int D = static_cast<int>(a.D), DP = round_up(D, kLanes), TT = tile;

  PATH_DYNAMIC_SHARED(shared_raw);
  float* const ws = reinterpret_cast<float*>(shared_raw);  // [TT][DP]
  float* const bs = ws + TT * DP;                           // [TT]

  const i64 slot = ((b * a.capacity + (active ? j : 0)) * a.H + h) * D;
  const i64 fresh = ((b * a.n + (active && j >= a.n0 ? j - a.n0 : 0)) * a.H + h) * D;
  float x[CAP];
  PATH_UNROLL
  for (int e = 0; e < CAP; ++e) {
    const int d = lane + e * kLanes;
    x[e] = 0.0f;
    if (active && d < D) x[e] = j < a.n0 ? to_acc(cache[slot + d]) : to_acc(k[fresh + d]);
  }
  for (i64 t0 = 0; t0 < a.n; t0 += TT) {
    const int tt = static_cast<int>(min(static_cast<i64>(TT), a.n - t0));
    __syncthreads();
    for (int idx = threadIdx.x; idx < tt * DP; idx += blockDim.x) {
      const int r = idx / DP, d = idx % DP;
      ws[idx] = d < D ? a.w[((b * a.n + t0 + r) * a.H + h) * D + d] : 0.0f;
    }
    for (int r = threadIdx.x; r < tt; r += blockDim.x) bs[r] = a.beta[(b * a.n + t0 + r) * a.H + h];
    __syncthreads();
    for (int r = 0; r < tt; ++r) {
      const i64 t = a.n0 + t0 + r;
      const float* wr = ws + r * DP;
      const float dw = lowp_math::group_dot<kLanes>(x, wr, lane, DP);
      if (active && t > j) {
        const float along = bs[r] * dw;
        PATH_UNROLL
        for (int e = 0; e < CAP; ++e)
          if (e * kLanes < DP) x[e] = fma(-along, wr[lane + e * kLanes], x[e]);
      }
    }
  }
  if (active) {
    PATH_UNROLL
    for (int e = 0; e < CAP; ++e)
      if (lane + e * kLanes < D) cache[slot + lane + e * kLanes] = from_acc<KC>(x[e]);
  }
}

inline int per_lane_elements(const DecodeKernelArgs& a) {
  const int widest = static_cast<int>(a.D > a.Dv ? a.D : a.Dv);
  const int need = (widest + kLanes - 1) / kLanes;
  int cap = 1;
  while (cap < need) cap *= 2;
  return cap;
}

inline int tile_for(std::size_t floats_per_key) {
  std::size_t t = kSharedBudget / (floats_per_key * sizeof(float));
  if (t > static_cast<std::size_t>(kMaxKeyTile)) t = kMaxKeyTile;
  return t < 1 ? 1 : static_cast<int>(t);
}

struct DecodeConfig {
  int per_lane_elements = 0;
  int prefill_tile = 0, attend_tile = 0, update_tile = 0;
  std::size_t prefill_shared = 0, attend_shared = 0, update_shared = 0;
};

inline DecodeConfig make_decode_config(const DecodeKernelArgs& a) {
  DecodeConfig c;
  c.per_lane_elements = per_lane_elements(a);
  const std::size_t DP = static_cast<std::size_t>(round_up(static_cast<int>(a.D), kLanes));
  const std::size_t VP = static_cast<std::size_t>(round_up(static_cast<int>(a.Dv), kLanes));
  const std::size_t prefill_per = 2 * DP + 1, attend_per = 2 * DP + VP + 2 + kGroups, update_per = DP + 1;
  c.prefill_tile = tile_for(prefill_per);
  c.attend_tile = tile_for(attend_per);
  c.update_tile = tile_for(update_per);
  c.prefill_shared = c.prefill_tile * prefill_per * sizeof(float);
  c.attend_shared = c.attend_tile * attend_per * sizeof(float);
  c.update_shared = c.update_tile * update_per * sizeof(float);
  return c;
}

struct Grid {
  unsigned x = 1, y = 1, z = 1;
};

inline unsigned blocks_for(i64 n, unsigned threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

// The appends shared by prefill and step: values, then gates (gated caches).
template <class In, class KC, class Launch>
void enqueue_appends(const DecodeKernelArgs& a, Launch& launch) {
  const unsigned threads = 128;
  launch("append_values_kernel", Grid{blocks_for(a.batch * a.n * a.H * a.Dv, threads)}, threads, std::size_t(0),
         append_values_kernel<In, KC>, a);
  if (a.g)
    launch("append_gates_kernel", Grid{blocks_for(a.batch * a.HQ, threads)}, threads, std::size_t(0),
           append_gates_kernel, a);
}

// Prefill, in stream order, through launch(name, grid, threads, shared_bytes, kernel, args...) (the
// device launcher in decode.cu, or the host shim's in tests/test_gpu_kernel_host.cpp).
template <class In, class KC, int CAP, class Launch>
void enqueue_prefill_typed(const DecodeKernelArgs& a, const DecodeConfig& c, Launch& launch) {
  enqueue_appends<In, KC>(a, launch);
  launch("prefill_keys_kernel", Grid{blocks_for(a.D, kGroups), static_cast<unsigned>(a.H), static_cast<unsigned>(a.batch)},
         static_cast<unsigned>(kThreads), c.prefill_shared, prefill_keys_kernel<In, KC, CAP>, a, c.prefill_tile);
}

template <class In, class KC, int CAP, class Launch>
void enqueue_step_typed(const DecodeKernelArgs& a, const DecodeConfig& c, Launch& launch) {
  enqueue_appends<In, KC>(a, launch);
  launch("attend_kernel", Grid{blocks_for(a.n, kGroups), static_cast<unsigned>(a.HQ), static_cast<unsigned>(a.batch)},
         static_cast<unsigned>(kThreads), c.attend_shared, attend_kernel<In, KC, CAP>, a, c.attend_tile);
  launch("update_keys_kernel",
         Grid{blocks_for(a.n0 + a.n, kGroups), static_cast<unsigned>(a.H), static_cast<unsigned>(a.batch)},
         static_cast<unsigned>(kThreads), c.update_shared, update_keys_kernel<In, KC, CAP>, a, c.update_tile);
}

// The cache's keys and values are in In, or in fp32 when a.cache_type is F32 (the fp32 cache option
// of bf16/fp16 inputs).
template <class In, class Launch>
void enqueue_decode(const DecodeKernelArgs& a, bool prefill, Launch& launch) {
  if (a.n < 1 || a.batch < 1) return;
  const DecodeConfig c = make_decode_config(a);
  auto typed = [&](auto cap, auto kc) {
    constexpr int CAP = decltype(cap)::value;
    using KC = typename decltype(kc)::type;
    if (prefill) enqueue_prefill_typed<In, KC, CAP>(a, c, launch);
    else enqueue_step_typed<In, KC, CAP>(a, c, launch);
  };
  auto run = [&](auto cap) {
    if constexpr (std::is_same_v<In, float>) {
      typed(cap, std::type_identity<float>{});
    } else {
      if (a.cache_type == DType::F32) typed(cap, std::type_identity<float>{});
      else typed(cap, std::type_identity<In>{});
    }
  };
  switch (c.per_lane_elements) {
    case 2: return run(std::integral_constant<int, 2>{});
    case 4: return run(std::integral_constant<int, 4>{});
    case 8: return run(std::integral_constant<int, 8>{});
    case 16: return run(std::integral_constant<int, 16>{});
    default: break;
  }
  throw std::logic_error("decode kernels: no instantiation for " + std::to_string(c.per_lane_elements) +
                         " elements per lane");
}

}  // namespace
}  // namespace path::gpu::decode_kernel
