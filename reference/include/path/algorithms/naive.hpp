#pragma once
// Oracle 1: naive products, one Householder transformation at a time (docs/algorithms.md §2).
//
// r_ij = k_j^T H_{j+1} ... H_i q_i. Sweep j = L-1 .. 0 for all queries at once, keeping
// X_i = H_{j+1} ... H_i q_i for every i >= j: then r_ij = k_j . X_i, and X_i <- H_j X_i
// = X_i - beta_j w_j (w_j . X_i) prepares step j - 1. O(L^2 D) per head.
#include "path/head_slice.hpp"

namespace path {

// Raw logits r (L x L), entries with j > i (non-causal) left at 0.
template <class S>
Mat<S> naive_raw_logits(const HeadSlice<S>& h) {
  const index_t L = h.length();
  Mat<S> X = h.q;
  Mat<S> r = zeros<S>(L, L);
  for (index_t j = L - 1; j >= 0; --j) {
    auto active = X.bottomRows(L - j);  // queries i >= j
    r.col(j).tail(L - j).noalias() = active * h.k.row(j).transpose();
    Vec<S> along_w = active * h.w.row(j).transpose();
    along_w *= h.beta(j);
    active.noalias() -= along_w * h.w.row(j);
  }
  return r;
}

}  // namespace path
