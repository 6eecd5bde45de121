#pragma once
// Oracle 2: the full masked UT form (paper §3.2; docs/algorithms.md §3).
//
// With A = compact_factor(W, beta) over the whole sequence, the product over (j, i] is
// H_{j+1} ... H_i = I - sum_{j < a <= b <= i} w_a A_ab w_b^T, hence
//   r_ij = k_j.q_i - sum_{a, b} [a > j] (k_j.w_a) A_ab (w_b.q_i) [b <= i].
// The two masks factor: KWm = strictUpper(K W^T) keeps a > j, WQm = upper(W Q^T) keeps b <= i, and
// r^T = K Q^T - KWm A WQm, read at j <= i. One global triangular inverse, O(L^3) per head.
#include "path/compact_form.hpp"
#include "path/head_slice.hpp"

namespace path {

// (k_j . w_a) for a > j, zero elsewhere: "key j meets the transforms strictly after it".
template <class S>
Mat<S> keys_dot_later_w(const Mat<S>& k, const Mat<S>& w) {
  Mat<S> kw = k * w.transpose();
  return kw.template triangularView<Eigen::StrictlyUpper>();
}

// (w_b . q_i) for b <= i, zero elsewhere: "query i has been passed by transforms up to itself".
template <class S>
Mat<S> w_dot_earlier_queries(const Mat<S>& w, const Mat<S>& q) {
  Mat<S> wq = w * q.transpose();
  return wq.template triangularView<Eigen::Upper>();
}

template <class S>
Mat<S> ut_masked_raw_logits(const HeadSlice<S>& h) {
  const index_t L = h.length();
  const Mat<S> A = compact_factor(h.w, h.beta);
  const Mat<S> correction = keys_dot_later_w(h.k, h.w) * A * w_dot_earlier_queries(h.w, h.q);  // [j, i]
  Mat<S> r = zeros<S>(L, L);
  for (index_t i = 0; i < L; ++i)
    for (index_t j = 0; j <= i; ++j) r(i, j) = h.k.row(j).dot(h.q.row(i)) - correction(j, i);
  return r;
}

}  // namespace path
