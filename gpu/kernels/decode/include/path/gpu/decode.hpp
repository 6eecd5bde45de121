#pragma once
// The plain low-precision CUDA decode (docs/design.md sections 1 and 3, docs/decode.md; issue 14,
// correctness first): a key cache on the device, prefill-to-cache in time linear in the prefix, and
// decode steps of one or several new tokens against an existing cache.
//
// The cache of `batch` sequences (decoded together, all of the same length) holds, per kv head,
// the transformed keys k_j^(n-1) = H_{n-1} ... H_{j+1} k_j and the values v_j in the input dtype
// (bf16, fp16 or fp32: a cache lives in the model's type), and per query head the cumulative gates
// G_j in fp32; layout [batch, capacity, heads, dim].
//
//  - prefill_to_cache: tokens 0..n-1 into an empty cache. k_j^(n-1) = S_j k_j with the suffix
//    product S_j = H_{n-1} ... H_{j+1} (docs/decode.md (3)-(4) with blocks of one token): row i of
//    S_j is (H_{j+1} ... H_{n-1} e_i)^T, carried from j = n-1 down to 0 one Householder step at a
//    time, so entry i of k_j^(n-1) is that row's dot product with k_j. O(n D^2) work: linear in n.
//  - decode_step: n new tokens t = n0 .. n0+n-1 (n0 = the cache's length). Each token attends
//    causally: to the chunk's keys j <= t through the chunk's own transforms, and to every cached key
//    through k_j^(t) . q_t = k_j^(n0-1) . (H_{n0} ... H_t q_t) (every H is symmetric, docs/decode.md
//    (1)), so the query carries the chunk's transforms and the old cache is read unchanged. Then the
//    cache is updated in place: H_{n0}, ..., H_{n0+n-1} applied to every cached key, the chunk's keys
//    appended (each with the chunk's later transforms), values and gates appended. n = 1 is the
//    one-token step.
// Arithmetic in fp32; probabilities rounded to the input type before P*V (as the forward); o in the
// input dtype, lse in fp32. D, Dv in {16, 32, 64, 128}; GQA; both gate conventions.
//
// Two step implementations (docs/decode.md section 6): the plain one above (attend, then update the
// cache), and the fused step (issue 17): one pass over the cache per (sequence, kv head, split) that
// applies the chunk's transforms to each key in registers (k_j^(t) = H_t k_j^(t-1): the key seen by
// query t), scores it, writes it back once, and keeps a partial softmax per split; a small kernel
// merges the splits. decode_step picks the fused step when it can run the step (small enough chunk
// and GQA group, see fused_step_plan in decode_launch.hpp); PATH_GPU_DECODE_KERNEL=plain|fused|auto
// (default auto) forces one (fused on a step it cannot run: InvalidProblem).
// The cache's keys and values are in the input dtype, or in fp32 (DecodeCacheLayout::cache_dtype);
// keys are rounded to the cache dtype once per step, on write-back.
// Judged through the conformance judge (decode cases) via adapters/cuda.
#include <cstddef>
#include <optional>
#include <vector>

#include "path/forward.hpp"
#include "path/gpu/device_buffer.hpp"
#include "path/gpu/kernel_args.hpp"
#include "path/problem.hpp"

namespace path::gpu {

// What a cache is built for. A token batch of another layout is rejected before any launch.
struct DecodeCacheLayout {
  index_t batch = 1, capacity = 1;
  index_t HQ = 1, H = 1, D = 1, Dv = 1;
  DType dtype = DType::BF16;  // the input dtype of q, k, v (and of o)
  // The cache's keys and values: unset = dtype; or F32 (the fp32 cache option of bf16/fp16 inputs).
  std::optional<DType> cache_dtype;
  bool gated = false;
  double scale = 1.0;  // used as fp32
  GateConvention gate_convention = GateConvention::paper;
};

// n new tokens of each of the cache's sequences, FLA's layout with T = n: q [batch, n, HQ, D] (not
// needed by prefill_to_cache), k and w [batch, n, H, D], v [batch, n, H, Dv], beta [batch, n, H],
// g [batch, n, HQ] (exactly when the cache is gated). q, k, v in the cache's dtype; w, beta, g F32.
struct DecodeTokens {
  index_t batch = 1, n = 1, HQ = 1, H = 1, D = 1, Dv = 1;
  DeviceTensor q, k, v, w, beta, g;
  CUstream_st* stream = nullptr;
};

// A step's outputs: o [batch, n, HQ, Dv] in the cache's dtype, lse [batch, n, HQ] F32.
struct DecodeOutputs {
  DeviceOutput o, lse;
};

// The device buffers of a cache (owned), with its length (tokens cached, host bookkeeping).
class DeviceDecodeCache {
 public:
  // Checks the layout (validate_cache_layout: head dims, dtype, HQ a multiple of H, batch and
  // capacity >= 1, scale finite in fp32; InvalidProblem) and allocates. Every slot starts poisoned
  // (NaN).
  explicit DeviceDecodeCache(const DecodeCacheLayout& layout);
  const DecodeCacheLayout& layout() const { return layout_; }
  index_t length() const { return length_; }
  DType cache_dtype() const { return layout_.cache_dtype.value_or(layout_.dtype); }
  void* keys() const { return keys_.get(); }
  void* values() const { return values_.get(); }
  float* gates() const { return gates_.as<float>(); }
  // Keys [batch, length, H, D], widened to double (a synchronizing copy).
  std::vector<double> download_keys() const;

 private:
  friend void prefill_to_cache(DeviceDecodeCache&, const DecodeTokens&);
  friend void decode_step(DeviceDecodeCache&, const DecodeTokens&, const DecodeOutputs&);
  DecodeCacheLayout layout_;
  index_t length_ = 0;
  detail::DeviceBuffer keys_, values_, gates_;
  detail::DeviceBuffer partials_;  // the fused step's workspace, grown on demand
  std::size_t partials_floats_ = 0;
};

// Which step implementation decode_step uses (PATH_GPU_DECODE_KERNEL): auto (default), plain, fused.
enum class DecodeKernel { automatic, plain, fused };
DecodeKernel decode_kernel_choice();

// Every check made before a launch: the tokens' layout against the cache's ("a cache from a
// different head layout"), dtypes, element counts, null or misaligned pointers, the gate present
// exactly when the cache is gated, room in the cache, and for prefill an empty cache. Throws
// path::InvalidProblem naming the tensor. No CUDA call.
// They take the cache's layout and length (what DeviceDecodeCache holds), so they run without a GPU.
void validate_cache_layout(const DecodeCacheLayout& layout);
void validate_prefill(const DecodeCacheLayout& cache, index_t cache_length, const DecodeTokens& t);
void validate_step(const DecodeCacheLayout& cache, index_t cache_length, const DecodeTokens& t, const DecodeOutputs& out);

// Enqueue on t.stream (errors of running kernels surface at the next synchronization); the cache's
// length grows by t.n.
void prefill_to_cache(DeviceDecodeCache& cache, const DecodeTokens& t);
void decode_step(DeviceDecodeCache& cache, const DecodeTokens& t, const DecodeOutputs& out);

// Host convenience (tests, the cuda adapter): a whole problem the way a conformance decode case
// runs it (docs/conformance.md; the cache in the input dtype, or in fp32 with
// PATH_GPU_DECODE_CACHE_DTYPE=f32): per sequence, the first min(prefill, length) tokens by prefill (their
// o and lse from the forward kernel on that prefix), then decode steps of `chunk` tokens (the last
// one shorter). Batch rows are decoded together; varlen segments one at a time. Inputs packed as
// lowp_forward packs them. Returns o, lse [B, T, HQ, *] and k_cache [B, T, H, D] (each sequence's
// cache after its last token), widened to double.
struct DecodeRunResult {
  std::vector<double> o, lse, k_cache;
};
DecodeRunResult lowp_decode(const Problem<double>& p, index_t prefill, DType precision, index_t chunk = 1);

}  // namespace path::gpu
