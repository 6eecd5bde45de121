#pragma once
// Oracle 1b, for tiny sizes: the explicit D x D products (docs/algorithms.md §2).
// For each query i, P = H_{j+1} ... H_i is built as a matrix, from the right: starting at P = I
// (j = i), r_ij = k_j^T P q_i, then P <- H_j P. O(L^2 D^2) per head.
#include "path/head_slice.hpp"

namespace path {

template <class S>
Mat<S> householder_matrix(const Mat<S>& w, const Vec<S>& beta, index_t t) {
  const index_t D = w.cols();
  Mat<S> H = Mat<S>::Identity(D, D);
  H.noalias() -= beta(t) * w.row(t).transpose() * w.row(t);
  return H;
}

template <class S>
Mat<S> naive_matrix_raw_logits(const HeadSlice<S>& h) {
  const index_t L = h.length(), D = h.q.cols();
  Mat<S> r = zeros<S>(L, L);
  for (index_t i = 0; i < L; ++i) {
    Mat<S> P = Mat<S>::Identity(D, D);
    for (index_t j = i; j >= 0; --j) {
      r(i, j) = (h.k.row(j) * P * h.q.row(i).transpose()).value();
      P = householder_matrix(h.w, h.beta, j) * P;
    }
  }
  return r;
}

}  // namespace path
