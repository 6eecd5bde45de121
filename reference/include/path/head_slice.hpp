#pragma once
// One (sequence, query head) slice of a problem: the unit every algorithm works on.
// Rows are tokens of the sequence, in order; GQA is resolved here (the query head's kv head).
#include "path/linalg.hpp"
#include "path/problem.hpp"

namespace path {

template <class S>
struct HeadSlice {
  Mat<S> q, k, w, v;   // [L, D], [L, D], [L, D], [L, Dv]
  Vec<S> beta;         // [L]
  Vec<S> g;            // [L] log forget gate of this query head; size 0 without a gate
  S scale = S(1);
  GateConvention gate_convention = GateConvention::paper;

  index_t length() const { return q.rows(); }
  bool has_gate() const { return g.size() != 0; }
};

template <class S>
HeadSlice<S> extract_slice(const Problem<S>& p, const SequenceRange& seq, index_t query_head) {
  const Shape& s = p.shape;
  const index_t L = seq.length, kv = s.kv_head_of(query_head);
  HeadSlice<S> h;
  h.q.resize(L, s.D);
  h.k.resize(L, s.D);
  h.w.resize(L, s.D);
  h.v.resize(L, s.Dv);
  h.beta.resize(L);
  if (p.has_gate()) h.g.resize(L);
  h.scale = p.scale;
  h.gate_convention = p.gate_convention;
  for (index_t t = 0; t < L; ++t) {
    const index_t pos = seq.begin + t;
    for (index_t d = 0; d < s.D; ++d) {
      h.q(t, d) = p.q[flat_index(seq.batch, pos, query_head, d, s.T, s.HQ, s.D)];
      h.k(t, d) = p.k[flat_index(seq.batch, pos, kv, d, s.T, s.H, s.D)];
      h.w(t, d) = p.w[flat_index(seq.batch, pos, kv, d, s.T, s.H, s.D)];
    }
    for (index_t d = 0; d < s.Dv; ++d) h.v(t, d) = p.v[flat_index(seq.batch, pos, kv, d, s.T, s.H, s.Dv)];
    h.beta(t) = p.beta[flat_index(seq.batch, pos, kv, 0, s.T, s.H, 1)];
    if (p.has_gate()) h.g(t) = p.g[flat_index(seq.batch, pos, query_head, 0, s.T, s.HQ, 1)];
  }
  return h;
}

// Cumulative gate G_i = g_0 + ... + g_i (zeros without a gate), so that G_i - G_j = g_{j+1} + ... + g_i.
template <class S>
Vec<S> cumulative_gate(const HeadSlice<S>& h) {
  Vec<S> G = Vec<S>::Constant(h.length(), S(0));
  if (!h.has_gate()) return G;
  S acc = S(0);
  for (index_t t = 0; t < h.length(); ++t) {
    acc += h.g(t);
    G(t) = acc;
  }
  return G;
}

}  // namespace path
