#pragma once
// A PaTH attention problem: the inputs of docs/design.md section 1 in flash-linear-attention's layout.
//   q [B, T, HQ, D], k [B, T, H, D], w [B, T, H, D], v [B, T, H, Dv], beta [B, T, H],
//   g [B, T, HQ] (optional log forget gate), cu_seqlens (optional, varlen packing with B = 1).
// Query head h' reads key/value head h' / G with G = HQ / H (GQA).
// Standard library only: the light conformance interface includes this header.
#include <cstdint>
#include <vector>

#include "path/gate.hpp"

namespace path {

using index_t = std::int64_t;

struct Shape {
  index_t B = 1, T = 1, HQ = 1, H = 1, D = 1, Dv = 1;

  index_t group_size() const { return HQ / H; }
  index_t kv_head_of(index_t query_head) const { return query_head / group_size(); }
  std::size_t q_size() const { return static_cast<std::size_t>(B * T * HQ * D); }
  std::size_t k_size() const { return static_cast<std::size_t>(B * T * H * D); }
  std::size_t v_size() const { return static_cast<std::size_t>(B * T * H * Dv); }
  std::size_t beta_size() const { return static_cast<std::size_t>(B * T * H); }
  std::size_t g_size() const { return static_cast<std::size_t>(B * T * HQ); }
  std::size_t o_size() const { return static_cast<std::size_t>(B * T * HQ * Dv); }
  std::size_t lse_size() const { return g_size(); }
};

template <class S>
struct Problem {
  Shape shape;
  S scale = S(1);
  GateConvention gate_convention = GateConvention::paper;
  std::vector<S> q, k, v, w, beta;
  std::vector<S> g;                   // empty: no forget gate
  std::vector<index_t> cu_seqlens;    // empty: B independent sequences of length T

  bool has_gate() const { return !g.empty(); }
  bool is_varlen() const { return !cu_seqlens.empty(); }
};

// One sequence to attend within: batch row `batch`, positions [begin, begin + length).
struct SequenceRange {
  index_t batch = 0;
  index_t begin = 0;
  index_t length = 0;
};

// The independent sequences of a (validated) problem: one per batch row, or one per varlen segment.
inline std::vector<SequenceRange> sequences_of(const Shape& shape, const std::vector<index_t>& cu_seqlens) {
  std::vector<SequenceRange> out;
  if (cu_seqlens.empty()) {
    for (index_t b = 0; b < shape.B; ++b) out.push_back({b, 0, shape.T});
    return out;
  }
  for (std::size_t n = 0; n + 1 < cu_seqlens.size(); ++n)
    out.push_back({0, cu_seqlens[n], cu_seqlens[n + 1] - cu_seqlens[n]});
  return out;
}

// Flat offsets into [B, T, heads, dim] tensors.
inline std::size_t flat_index(index_t b, index_t t, index_t head, index_t d, index_t T, index_t heads, index_t dim) {
  return static_cast<std::size_t>(((b * T + t) * heads + head) * dim + d);
}

}  // namespace path
