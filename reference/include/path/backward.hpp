#pragma once
// The public backward API (docs/backward.md): the closed-form gradient of Loss = sum dO . o with
// respect to every input, in O(T^2 D) per (sequence, query head).
//   backward(problem, dO) -> dq [B,T,HQ,D], dk [B,T,H,D], dv [B,T,H,Dv], dw [B,T,H,D], dbeta [B,T,H],
//                            dg [B,T,HQ] (empty without a gate)
// GQA: dk, dv, dw and dbeta of a key/value head sum over the query heads of its group; dq and dg are
// per query head. Varlen: each cu_seqlens segment is its own sequence. dg is with respect to the
// per-step log gate g_t (not the cumulative G).
#include <string>
#include <vector>

#include "path/algorithms/backward_naive.hpp"
#include "path/validate.hpp"

namespace path {

template <class S>
struct BackwardResult {
  Shape shape;
  std::vector<S> dq, dk, dv, dw, dbeta, dg;
};

namespace detail {

template <class S>
Mat<S> head_rows(const std::vector<S>& x, const Shape& s, const SequenceRange& seq, index_t head, index_t heads,
                 index_t dim) {
  Mat<S> m(seq.length, dim);
  for (index_t t = 0; t < seq.length; ++t)
    for (index_t d = 0; d < dim; ++d) m(t, d) = x[flat_index(seq.batch, seq.begin + t, head, d, s.T, heads, dim)];
  return m;
}

// Adds the rows of m (one per token of seq) into the [B, T, heads, dim] tensor x at `head`.
template <class S, class Rows>
void add_head_rows(std::vector<S>& x, const Rows& m, const Shape& s, const SequenceRange& seq, index_t head,
                   index_t heads, index_t dim) {
  for (index_t t = 0; t < seq.length; ++t)
    for (index_t d = 0; d < dim; ++d) x[flat_index(seq.batch, seq.begin + t, head, d, s.T, heads, dim)] += m(t, d);
}

template <class S>
void accumulate_head(BackwardResult<S>& r, const HeadGradients<S>& g, const SequenceRange& seq, index_t hq) {
  const Shape& s = r.shape;
  const index_t kv = s.kv_head_of(hq);
  add_head_rows(r.dq, g.dq, s, seq, hq, s.HQ, s.D);
  add_head_rows(r.dk, g.dk, s, seq, kv, s.H, s.D);
  add_head_rows(r.dw, g.dw, s, seq, kv, s.H, s.D);
  add_head_rows(r.dv, g.dv, s, seq, kv, s.H, s.Dv);
  for (index_t t = 0; t < seq.length; ++t) {
    r.dbeta[flat_index(seq.batch, seq.begin + t, kv, 0, s.T, s.H, 1)] += g.dbeta(t);
    if (g.dg.size() != 0) r.dg[flat_index(seq.batch, seq.begin + t, hq, 0, s.T, s.HQ, 1)] += g.dg(t);
  }
}

}  // namespace detail

// Checks `do` against the problem: the shape of o, [B, T, HQ, Dv], and finite values.
template <class S>
void validate_output_gradient(const Problem<S>& p, const std::vector<S>& dO) {
  const Shape& s = p.shape;
  if (dO.size() != s.o_size())
    detail::reject("do", "has " + std::to_string(dO.size()) + " elements, the shape of o [B, T, HQ, Dv] = [" +
                             std::to_string(s.B) + ", " + std::to_string(s.T) + ", " + std::to_string(s.HQ) + ", " +
                             std::to_string(s.Dv) + "] requires " + std::to_string(s.o_size()));
  detail::check_tensor("do", dO, s.o_size(), {s.B, s.T, s.HQ, s.Dv});
}

template <class S>
BackwardResult<S> backward(const Problem<S>& p, const std::vector<S>& dO) {
  static_assert(!is_exact_v<S>, "the softmax backward needs exp: use a floating scalar (mp100 for ~100 digits)");
  validate(p);
  validate_output_gradient(p, dO);
  const Shape& s = p.shape;
  BackwardResult<S> r{s,
                      std::vector<S>(s.q_size(), S(0)),
                      std::vector<S>(s.k_size(), S(0)),
                      std::vector<S>(s.v_size(), S(0)),
                      std::vector<S>(s.k_size(), S(0)),
                      std::vector<S>(s.beta_size(), S(0)),
                      std::vector<S>(p.has_gate() ? s.g_size() : 0, S(0))};
  for (const SequenceRange& seq : sequences_of(s, p.cu_seqlens)) {
    if (seq.length == 0) continue;
    for (index_t hq = 0; hq < s.HQ; ++hq) {
      const HeadSlice<S> h = extract_slice(p, seq, hq);
      const Mat<S> dO_head = detail::head_rows(dO, s, seq, hq, s.HQ, s.Dv);
      detail::accumulate_head(r, head_backward(h, dO_head), seq, hq);
    }
  }
  return r;
}

}  // namespace path
