#pragma once
// The closed-form backward of one (sequence, query head), O(L^2 D) time, O(L^2 + L D) memory
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
//    Three sweeps over t, each a few matrix-vector products with the rows j < t:
//      up:   a (the in-place key cache) -> aw(t, j) = a_{j,t}.w_t and dq;
//      down: c                          -> cw(t, j) = c_{j,t}.w_t, dk, G_t^T w_t, w_t^T G_t w_t;
//      up:   a again                    -> G_t w_t = sum_j a_{j,t} cw(t, j).
//
// 2. head_backward(h, dO): recomputes the logits (naive products) and the softmax, then the
//    FlashAttention backward of the softmax part (docs/backward.md §2):
//      P_ij = exp(s_ij - lse_i), dP_ij = dO_i.v_j, Delta_i = dO_i.o_i, dS_ij = P_ij (dP_ij - Delta_i),
//      dv_j = sum_i P_ij dO_i, dr_ij = scale dS_ij (both conventions),
//      dG_i = c (sum_j dS_ij - sum_k dS_ki) with c = 1 (paper) or scale (fla), dg_t = sum_{i>=t} dG_i.
#include "path/algorithms/naive.hpp"
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

namespace detail {

// Sweep 1 (t upward): the rows j < t of `a` hold a_{j,t}; record aw(t, j) = a_{j,t}.w_t, apply H_t
// in place, append a_{t,t+1} = k_t, then dq_t = sum_{j<=t} dr_tj a_{j,t+1}.
template <class S>
void backward_sweep_keys_up(const HeadSlice<S>& h, const Mat<S>& dr, Mat<S>& aw, RawLogitGradients<S>& g) {
  const index_t L = h.length();
  Mat<S> a = zeros<S>(L, h.k.cols());
  for (index_t t = 0; t < L; ++t) {
    auto earlier = a.topRows(t);
    const Vec<S> proj = earlier * h.w.row(t).transpose();
    aw.row(t).head(t) = proj.transpose();
    earlier.noalias() -= (h.beta(t) * proj) * h.w.row(t);
    a.row(t) = h.k.row(t);
    g.dq.row(t).noalias() = dr.row(t).head(t + 1) * a.topRows(t + 1);
  }
}

// Sweep 2 (t downward): at the start of step t the rows j <= t of `c` hold c_{j,t+1}. For t + 1 < L
// they are exactly the c_{j,t+1}, j < t + 1, that G_{t+1} needs: record cw(t+1, j) and accumulate
// G_{t+1}^T w_{t+1} and w_{t+1}^T G_{t+1} w_{t+1}; then apply H_{t+1} and add dr_tj q_t: now
// c_{j,t}, and row t is final, dk_t = c_{t,t}.
template <class S>
void backward_sweep_queries_down(const HeadSlice<S>& h, const Mat<S>& dr, const Mat<S>& aw, Mat<S>& cw,
                                 Mat<S>& gt_w, Vec<S>& w_g_w, RawLogitGradients<S>& g) {
  const index_t L = h.length();
  Mat<S> c = zeros<S>(L, h.q.cols());
  for (index_t t = L - 1; t >= 0; --t) {
    auto rows = c.topRows(t + 1);
    if (t + 1 < L) {
      const index_t u = t + 1;
      const Vec<S> proj = rows * h.w.row(u).transpose();
      cw.row(u).head(u) = proj.transpose();
      gt_w.row(u).noalias() = aw.row(u).head(u) * rows;
      w_g_w(u) = aw.row(u).head(u).dot(proj.transpose());
      rows.noalias() -= (h.beta(u) * proj) * h.w.row(u);
    }
    rows.noalias() += dr.row(t).head(t + 1).transpose() * h.q.row(t);
    g.dk.row(t) = c.row(t);
  }
}

// Sweep 3 (t upward again): G_t w_t = sum_{j<t} a_{j,t} cw(t, j), then advance the cache as in
// sweep 1 (reusing the recorded projections aw).
template <class S>
void backward_sweep_keys_up_again(const HeadSlice<S>& h, const Mat<S>& aw, const Mat<S>& cw, Mat<S>& g_w) {
  const index_t L = h.length();
  Mat<S> a = zeros<S>(L, h.k.cols());
  for (index_t t = 0; t < L; ++t) {
    auto earlier = a.topRows(t);
    g_w.row(t).noalias() = cw.row(t).head(t) * earlier;
    earlier.noalias() -= (h.beta(t) * aw.row(t).head(t).transpose()) * h.w.row(t);
    a.row(t) = h.k.row(t);
  }
}

}  // namespace detail

// dq, dk, dw, dbeta from the gradient of the raw logits; dr is L x L, read at j <= i only.
template <class S>
RawLogitGradients<S> raw_logit_backward(const HeadSlice<S>& h, const Mat<S>& dr) {
  const index_t L = h.length(), D = h.q.cols();
  RawLogitGradients<S> g{zeros<S>(L, D), zeros<S>(L, D), zeros<S>(L, D), Vec<S>::Constant(L, S(0))};
  Mat<S> aw = zeros<S>(L, L), cw = zeros<S>(L, L);  // [t, j]: a_{j,t}.w_t and c_{j,t}.w_t, j < t
  Mat<S> g_w = zeros<S>(L, D), gt_w = zeros<S>(L, D);
  Vec<S> w_g_w = Vec<S>::Constant(L, S(0));
  detail::backward_sweep_keys_up(h, dr, aw, g);
  detail::backward_sweep_queries_down(h, dr, aw, cw, gt_w, w_g_w, g);
  detail::backward_sweep_keys_up_again(h, aw, cw, g_w);
  for (index_t t = 0; t < L; ++t) {
    g.dbeta(t) = -w_g_w(t);
    g.dw.row(t) = -h.beta(t) * (g_w.row(t) + gt_w.row(t));
  }
  return g;
}

// dg_t = sum_{i>=t} dG_i: G_i = g_0 + ... + g_i, so g_t enters every G_i with i >= t.
template <class S>
Vec<S> gate_gradient(const HeadSlice<S>& h, const Mat<S>& dS) {
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

// In place, final logits s -> dS: P_ij = exp(s_ij - lse_i) (j <= i, 0 above the diagonal), then
// dv = P^T dO, then dS_ij = P_ij (dO_i.v_j - dO_i.o_i). One L x L matrix throughout.
template <class S>
void softmax_backward_in_place(const HeadSlice<S>& h, Mat<S>& work, const HeadOutput<S>& out, const Mat<S>& dO,
                               Mat<S>& dv) {
  const index_t L = h.length();
  for (index_t i = 0; i < L; ++i) {
    for (index_t j = 0; j <= i; ++j) work(i, j) = exp_of<S>(work(i, j) - out.lse(i));
    for (index_t j = i + 1; j < L; ++j) work(i, j) = S(0);
  }
  dv.noalias() = work.transpose() * dO;
  for (index_t i = 0; i < L; ++i) {
    const S delta = dO.row(i).dot(out.o.row(i));
    const Vec<S> dP = h.v.topRows(i + 1) * dO.row(i).transpose();  // dP_ij = dO_i . v_j, j <= i
    for (index_t j = 0; j <= i; ++j) work(i, j) *= dP(j) - delta;
  }
}

// All six gradients of Loss = sum_i dO_i . o_i for one (sequence, query head). Floating scalars.
template <class S>
HeadGradients<S> head_backward(const HeadSlice<S>& h, const Mat<S>& dO) {
  static_assert(!is_exact_v<S>, "the softmax backward needs exp: use a floating scalar");
  Mat<S> work = final_logits(h, naive_raw_logits(h));  // s, then P, then dS, then dr
  const HeadOutput<S> out = softmax_attention(work, h.v);
  HeadGradients<S> g;
  g.dv = zeros<S>(h.length(), h.v.cols());
  softmax_backward_in_place(h, work, out, dO, g.dv);
  if (h.has_gate()) g.dg = gate_gradient(h, work);
  work *= h.scale;  // dr_ij = scale dS_ij: ds_ij/dr_ij = scale in both conventions
  RawLogitGradients<S> raw = raw_logit_backward(h, work);
  g.dq = std::move(raw.dq);
  g.dk = std::move(raw.dk);
  g.dw = std::move(raw.dw);
  g.dbeta = std::move(raw.dbeta);
  return g;
}

}  // namespace path
