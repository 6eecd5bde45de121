#pragma once
// The closed-form backward of one (sequence, query head), O(L^2 D) time, O(L^2 / 2 + L D) memory
// (docs/backward.md). Two layers:
//
// 1. raw_logit_backward(h, dr): given dr_ij = dLoss/dr_ij for the raw logits
//    r_ij = k_j^T H_{j+1} ... H_i q_i (j <= i), returns dq, dk, dw, dbeta. Only +, -, * are used,
//    so it runs on every scalar, exact rationals included (docs/backward.md §3-§5). With
//      a_{j,t} = H_{t-1} ... H_{j+1} k_j   (the decode cache: key j after the transforms up to t-1)
//      b_{t,i} = H_{t+1} ... H_i q_i       (query i after the transforms from i down to t+1)
//      c_{j,t} = sum_{i>=t} dr_ij b_{t,i}  (c_{j,t} = dr_tj q_t + H_{t+1} c_{j,t+1}, c_{j,L} = 0)
//    the gradients are
//      dq_i = sum_{j<=i} dr_ij a_{j,i+1}               dk_j = c_{j,j}
//      G_t  = dLoss/dH_t = sum_{j<t} a_{j,t} c_{j,t}^T  (D x D, never formed)
//      dbeta_t = -w_t^T G_t w_t                          dw_t = -beta_t (G_t + G_t^T) w_t.
//    Three sweeps over t, each one pass over the rows j < t per step:
//      up:   a (the in-place key cache) -> aw(t, j) = a_{j,t}.w_t (and the raw logits r_tj = a_{j,t+1}.q_t);
//      down: c                          -> cw(t, j) = c_{j,t}.w_t, dk, G_t^T w_t, w_t^T G_t w_t;
//      up:   a again (projections aw reused) -> dq and G_t w_t = sum_j a_{j,t} cw(t, j).
//
// 2. head_backward(h, dO): the first sweep also yields the raw logits (the decode form of the
//    forward, docs/decode.md §1), then the FlashAttention backward of the softmax part
//    (docs/backward.md §2) turns them, in place, into dr:
//      P_ij = exp(s_ij - lse_i), dP_ij = dO_i.v_j, Delta_i = dO_i.o_i, dS_ij = P_ij (dP_ij - Delta_i),
//      dv_j = sum_i P_ij dO_i, dr_ij = scale dS_ij (both conventions),
//      dG_i = c (sum_j dS_ij - sum_k dS_ki) with c = 1 (paper) or scale (fla), dg_t = sum_{i>=t} dG_i.
//
// Every L x L quantity is causal and read by rows, so it is stored packed (row t holds j = 0..t):
// half the memory of a square matrix, and one allocation per quantity.
#include <vector>

#include "path/head_slice.hpp"
#include "path/softmax.hpp"

namespace path {

template <class S>
struct RawLogitGradients {
  Mat<S> dq, dk, dw;  // [L, D]
  Vec<S> dbeta;       // [L]
};

template <class S>
struct HeadGradients {
  Mat<S> dq, dk, dw, dv;  // [L, D] x 3, [L, Dv]
  Vec<S> dbeta, dg;       // [L]; dg has size 0 without a gate
};

// A causal (lower-triangular, diagonal included) L x L array stored by rows: row t holds j = 0..t.
template <class S>
class CausalArray {
 public:
  explicit CausalArray(index_t L) : data_(static_cast<std::size_t>(L * (L + 1) / 2), S(0)) {}
  S& operator()(index_t t, index_t j) { return data_[offset(t) + static_cast<std::size_t>(j)]; }
  const S& operator()(index_t t, index_t j) const { return data_[offset(t) + static_cast<std::size_t>(j)]; }
  // Row t, entries j = 0..t, as an Eigen row vector.
  Eigen::Map<Eigen::Matrix<S, 1, Eigen::Dynamic>> row(index_t t) { return {&data_[offset(t)], t + 1}; }

 private:
  static std::size_t offset(index_t t) { return static_cast<std::size_t>(t * (t + 1) / 2); }
  std::vector<S> data_;
};

namespace detail {

template <class S>
using RowVec = Eigen::Matrix<S, 1, Eigen::Dynamic>;

// Sweep 1 (t upward): the rows j < t of `a` hold a_{j,t}; record aw(t, j) = a_{j,t}.w_t, apply H_t
// in place, append a_{t,t+1} = k_t; with `logits`, also r_tj = a_{j,t+1}.q_t for j <= t.
template <class S>
void backward_sweep_cache_up(const HeadSlice<S>& h, CausalArray<S>& aw, CausalArray<S>* logits) {
  const index_t L = h.length();
  Mat<S> a = zeros<S>(L, h.k.cols());
  for (index_t t = 0; t < L; ++t) {
    const auto w = h.w.row(t), q = h.q.row(t);
    for (index_t j = 0; j < t; ++j) {
      auto row = a.row(j);
      const S proj = row.dot(w);
      aw(t, j) = proj;
      row.noalias() -= (h.beta(t) * proj) * w;
      if (logits) (*logits)(t, j) = row.dot(q);
    }
    a.row(t) = h.k.row(t);
    if (logits) (*logits)(t, t) = h.k.row(t).dot(q);
  }
}

// Sweep 2 (t downward): at the start of step t the rows j <= t of `c` hold c_{j,t+1}. For u = t + 1
// < L they are exactly the c_{j,u}, j < u, that G_u needs: record cw(u, j) and accumulate G_u^T w_u
// and w_u^T G_u w_u; then apply H_u and add dr_tj q_t: now c_{j,t}, and row t is final, dk_t = c_{t,t}.
template <class S>
void backward_sweep_queries_down(const HeadSlice<S>& h, const CausalArray<S>& dr, const CausalArray<S>& aw,
                                 CausalArray<S>& cw, Mat<S>& gt_w, Vec<S>& w_g_w, Mat<S>& dk) {
  const index_t L = h.length(), D = h.q.cols();
  Mat<S> c = zeros<S>(L, D);
  for (index_t t = L - 1; t >= 0; --t) {
    const index_t u = t + 1;
    const auto q = h.q.row(t);
    if (u < L) {
      const auto w = h.w.row(u);
      RowVec<S> gtw = RowVec<S>::Constant(D, S(0));
      S wgw = S(0);
      for (index_t j = 0; j <= t; ++j) {
        auto row = c.row(j);
        const S proj = row.dot(w);
        cw(u, j) = proj;
        gtw.noalias() += aw(u, j) * row;
        wgw += aw(u, j) * proj;
        row.noalias() -= (h.beta(u) * proj) * w;
        row.noalias() += dr(t, j) * q;
      }
      gt_w.row(u) = gtw;
      w_g_w(u) = wgw;
    } else {
      for (index_t j = 0; j <= t; ++j) c.row(j).noalias() += dr(t, j) * q;
    }
    dk.row(t) = c.row(t);
  }
}

// Sweep 3 (t upward again): G_t w_t = sum_{j<t} a_{j,t} cw(t, j); advance the cache with the
// recorded projections aw; dq_t = sum_{j<=t} dr_tj a_{j,t+1}.
template <class S>
void backward_sweep_cache_up_again(const HeadSlice<S>& h, const CausalArray<S>& dr, const CausalArray<S>& aw,
                                   const CausalArray<S>& cw, Mat<S>& g_w, Mat<S>& dq) {
  const index_t L = h.length(), D = h.k.cols();
  Mat<S> a = zeros<S>(L, D);
  for (index_t t = 0; t < L; ++t) {
    const auto w = h.w.row(t);
    RowVec<S> gw = RowVec<S>::Constant(D, S(0));
    RowVec<S> dq_t = dr(t, t) * h.k.row(t);
    for (index_t j = 0; j < t; ++j) {
      auto row = a.row(j);
      gw.noalias() += cw(t, j) * row;
      row.noalias() -= (h.beta(t) * aw(t, j)) * w;
      dq_t.noalias() += dr(t, j) * row;
    }
    a.row(t) = h.k.row(t);
    g_w.row(t) = gw;
    dq.row(t) = dq_t;
  }
}

// Sweeps 2 and 3 and the assembly (12) of docs/backward.md, given dr and sweep 1's projections.
template <class S>
RawLogitGradients<S> raw_logit_backward_from(const HeadSlice<S>& h, const CausalArray<S>& dr, const CausalArray<S>& aw) {
  const index_t L = h.length(), D = h.q.cols();
  RawLogitGradients<S> g{zeros<S>(L, D), zeros<S>(L, D), zeros<S>(L, D), Vec<S>::Constant(L, S(0))};
  CausalArray<S> cw(L);
  Mat<S> g_w = zeros<S>(L, D), gt_w = zeros<S>(L, D);
  Vec<S> w_g_w = Vec<S>::Constant(L, S(0));
  backward_sweep_queries_down(h, dr, aw, cw, gt_w, w_g_w, g.dk);
  backward_sweep_cache_up_again(h, dr, aw, cw, g_w, g.dq);
  for (index_t t = 0; t < L; ++t) {
    g.dbeta(t) = -w_g_w(t);
    g.dw.row(t) = -h.beta(t) * (g_w.row(t) + gt_w.row(t));
  }
  return g;
}

// In place, raw logits r -> dS, row by row (docs/backward.md §2): s_tj, P_tj = exp(s_tj - lse_t),
// o_t, Delta_t = dO_t.o_t, dv_j += P_tj dO_t, dS_tj = P_tj (dO_t.v_j - Delta_t). The row's own
// dO_t.o_t is the FlashAttention Delta (o_t recomputed here, not read from a forward pass).
template <class S>
void softmax_backward_in_place(const HeadSlice<S>& h, CausalArray<S>& work, const Mat<S>& dO, Mat<S>& dv) {
  const index_t L = h.length();
  const Vec<S> G = cumulative_gate(h);
  Vec<S> dP(L);  // dP_tj = dO_t . v_j for the current row
  for (index_t t = 0; t < L; ++t) {
    auto row = work.row(t);
    for (index_t j = 0; j <= t; ++j) row(j) = gated_logit<S>(row(j), h.scale, G(t) - G(j), h.gate_convention);
    S m = row(0);
    for (index_t j = 1; j <= t; ++j) m = std::max(m, row(j));
    S l = S(0);
    for (index_t j = 0; j <= t; ++j) l += (row(j) = exp_of<S>(row(j) - m));
    row /= l;  // P_tj
    const auto dO_t = dO.row(t);
    RowVec<S> o = RowVec<S>::Constant(h.v.cols(), S(0));
    for (index_t j = 0; j <= t; ++j) {  // one pass over v_j and dv_j
      const auto v = h.v.row(j);
      o.noalias() += row(j) * v;
      dv.row(j).noalias() += row(j) * dO_t;
      dP(j) = v.dot(dO_t);
    }
    const S delta = o.dot(dO_t);
    for (index_t j = 0; j <= t; ++j) row(j) *= dP(j) - delta;
  }
}

}  // namespace detail

// dq, dk, dw, dbeta from the gradient of the raw logits; dr is L x L, read at j <= i only.
template <class S>
RawLogitGradients<S> raw_logit_backward(const HeadSlice<S>& h, const Mat<S>& dr) {
  const index_t L = h.length();
  CausalArray<S> packed(L), aw(L);
  for (index_t t = 0; t < L; ++t)
    for (index_t j = 0; j <= t; ++j) packed(t, j) = dr(t, j);
  detail::backward_sweep_cache_up(h, aw, static_cast<CausalArray<S>*>(nullptr));
  return detail::raw_logit_backward_from(h, packed, aw);
}

// dg_t = sum_{i>=t} dG_i: G_i = g_0 + ... + g_i, so g_t enters every G_i with i >= t.
template <class S>
Vec<S> gate_gradient(const HeadSlice<S>& h, const CausalArray<S>& dS) {
  const index_t L = h.length();
  const S factor = h.gate_convention == GateConvention::paper ? S(1) : h.scale;
  Vec<S> dG = Vec<S>::Constant(L, S(0));
  for (index_t i = 0; i < L; ++i)
    for (index_t j = 0; j <= i; ++j) {
      dG(i) += factor * dS(i, j);
      dG(j) -= factor * dS(i, j);
    }
  Vec<S> dg = Vec<S>::Constant(L, S(0));
  S suffix = S(0);
  for (index_t t = L - 1; t >= 0; --t) {
    suffix += dG(t);
    dg(t) = suffix;
  }
  return dg;
}

// All six gradients of Loss = sum_i dO_i . o_i for one (sequence, query head). Floating scalars.
template <class S>
HeadGradients<S> head_backward(const HeadSlice<S>& h, const Mat<S>& dO) {
  static_assert(!is_exact_v<S>, "the softmax backward needs exp: use a floating scalar");
  const index_t L = h.length();
  CausalArray<S> work(L), aw(L);  // work: raw logits r, then dS, then dr
  detail::backward_sweep_cache_up(h, aw, &work);
  HeadGradients<S> g;
  g.dv = zeros<S>(L, h.v.cols());
  detail::softmax_backward_in_place(h, work, dO, g.dv);
  if (h.has_gate()) g.dg = gate_gradient(h, work);
  for (index_t t = 0; t < L; ++t) work.row(t) *= h.scale;  // dr_tj = scale dS_tj in both conventions
  RawLogitGradients<S> raw = detail::raw_logit_backward_from(h, work, aw);
  g.dq = std::move(raw.dq);
  g.dk = std::move(raw.dk);
  g.dw = std::move(raw.dw);
  g.dbeta = std::move(raw.dbeta);
  return g;
}

}  // namespace path
