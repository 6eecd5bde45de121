#pragma once
// The compact (UT) form of a product of generalized Householder matrices (docs/algorithms.md §1).
//
// For H_t = I - beta_t w_t w_t^T, t = 0..L-1, and W the L x D matrix of rows w_t:
//   P = H_0 H_1 ... H_{L-1} = I - W^T A W,
//   A = (I + Dg * strictUpper(W W^T))^{-1} * Dg,  Dg = diag(beta).
// (The paper's §3.1 prints "W D W^T" and "P = W^T T^-1 W"; this is the corrected form.
// Check, L = 2: A_01 = -beta_0 beta_1 w_0.w_1.)
//
// Because the triangular factor is (block) triangular, the inverse of any contiguous diagonal
// block of it is the same block of the inverse. So the product over any sub-interval
// H_a ... H_b is I - W_[a..b]^T A_[a..b] W_[a..b] with A_[a..b] the [a..b] x [a..b] block of A:
// this is what lets one global inverse serve every (query, key) pair after masking (§3.2).
#include "path/linalg.hpp"

namespace path {

// T^{-1} for the unit upper-triangular T = I + Dg * strictUpper(W W^T), by back substitution:
// X_ab = -sum_{c=a+1..b} T_ac X_cb for a < b, X_aa = 1.
template <class S>
Mat<S> unit_triangular_inverse(const Mat<S>& W, const Vec<S>& beta) {
  const index_t L = W.rows();
  Mat<S> gram = W * W.transpose();
  Mat<S> X = zeros<S>(L, L);
  for (index_t a = L - 1; a >= 0; --a) {
    X(a, a) = S(1);
    for (index_t b = a + 1; b < L; ++b) {
      S acc = S(0);
      for (index_t c = a + 1; c <= b; ++c) acc += gram(a, c) * X(c, b);
      X(a, b) = -beta(a) * acc;
    }
  }
  return X;
}

// A = T^{-1} Dg, the compact-form factor: H_0 ... H_{L-1} = I - W^T A W. Upper triangular.
template <class S>
Mat<S> compact_factor(const Mat<S>& W, const Vec<S>& beta) {
  Mat<S> A = unit_triangular_inverse(W, beta);
  for (index_t b = 0; b < A.cols(); ++b) A.col(b) *= beta(b);
  return A;
}

}  // namespace path
