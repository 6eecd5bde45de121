// The formulas under proof (docs/proofs.md), written out here independently of the library:
// each is evaluated with its own code (Eigen's generic triangular solve, explicit masks), so a
// statement is checked against the explicit product of D x D matrices (common.hpp) and, separately,
// the library's function that relies on it is checked against the same explicit matrices.
// Each formula has one term that --plant NAME breaks (the planted-bug tests).
#pragma once

#include "common.hpp"

namespace ids {

// A = (I + Dg strictUpper(W W^T))^{-1} Dg: H_0 H_1 ... H_{L-1} = I - W^T A W.
inline MatR factor_forward(const MatR& W, const VecR& beta) {
  const index_t L = W.rows();
  MatR T = MatR::Identity(L, L) + diag(beta) * strict_upper(W * W.transpose());
  if (planted("forward-triangle")) T = MatR::Identity(L, L) + diag(beta) * strict_lower(W * W.transpose());
  if (planted("forward-no-beta")) return T.triangularView<Eigen::UnitUpper>().solve(MatR::Identity(L, L));
  if (planted("forward-triangle")) return T.triangularView<Eigen::UnitLower>().solve(diag(beta));
  return T.triangularView<Eigen::UnitUpper>().solve(diag(beta));
}

// A' = (I + Dg strictLower(W W^T))^{-1} Dg: H_{L-1} ... H_1 H_0 = I - W^T A' W.
inline MatR factor_reverse(const MatR& W, const VecR& beta) {
  const index_t L = W.rows();
  MatR T = MatR::Identity(L, L) + diag(beta) * strict_lower(W * W.transpose());
  MatR rhs = diag(beta);
  if (planted("reverse-beta-left")) {  // Dg on the wrong side of the gram matrix
    T = MatR::Identity(L, L) + strict_lower(W * W.transpose()) * diag(beta);
  }
  return T.triangularView<Eigen::UnitLower>().solve(rhs);
}

// I - W^T A W.
inline MatR compact(const MatR& W, const MatR& A) {
  const index_t D = W.cols();
  return MatR::Identity(D, D) - W.transpose() * A * W;
}

// Sub-interval [a, b] (inclusive) from the GLOBAL factor: I - W_[a,b]^T A[a..b, a..b] W_[a,b].
inline MatR compact_interval(const MatR& W, const MatR& A, index_t a, index_t b) {
  const index_t n = b - a + 1;
  index_t off = a;
  if (planted("interval-shift") && n >= 2 && a > 0) off = a - 1;  // read the block one row/column too early
  return compact(W.middleRows(a, n), A.block(off, off, n, n));
}

// (k_j . w_a) for a > j (KWm, "key j meets the transforms after it") and (w_b . q_i) for b <= i
// (WQm, "query i was passed by the transforms up to itself"), by explicit loops.
inline MatR mask_keys_later_w(const MatR& K, const MatR& W) {
  MatR m = path::zeros<R>(K.rows(), W.rows());
  for (index_t j = 0; j < K.rows(); ++j)
    for (index_t a = j + 1; a < W.rows(); ++a) m(j, a) = K.row(j).dot(W.row(a));
  return m;
}
inline MatR mask_w_earlier_queries(const MatR& W, const MatR& Q) {
  MatR m = path::zeros<R>(W.rows(), Q.rows());
  for (index_t b = 0; b < W.rows(); ++b)
    for (index_t i = b; i < Q.rows(); ++i) {
      if (planted("mask-diagonal") && i == b) continue;  // b < i instead of b <= i
      m(b, i) = W.row(b).dot(Q.row(i));
    }
  return m;
}

// §3.2: r_ij = k_j.q_i - sum_{a,b} [a > j] (k_j.w_a) A_ab (w_b.q_i) [b <= i]   (j <= i; 0 above).
inline MatR masked_raw_logits(const MatR& Q, const MatR& K, const MatR& W, const MatR& A) {
  const index_t L = Q.rows();
  const MatR corr = mask_keys_later_w(K, W) * A * mask_w_earlier_queries(W, Q);  // [j, i]
  MatR r = path::zeros<R>(L, L);
  for (index_t i = 0; i < L; ++i)
    for (index_t j = 0; j <= i; ++j) r(i, j) = K.row(j).dot(Q.row(i)) - corr(j, i);
  return r;
}

// ---- §3.3 blockwise: one block [s, s + n) with its LOCAL factor A (= the global A's block).

// Boundary-adjusted queries q~_i = H_s ... H_i q_i: Q~ = Q - WQm^T A^T W.
inline MatR adjusted_queries(const MatR& Q, const MatR& W, const MatR& A) {
  if (planted("qtilde-transpose")) return Q - mask_w_earlier_queries(W, Q).transpose() * A * W;
  return Q - mask_w_earlier_queries(W, Q).transpose() * A.transpose() * W;
}

// Boundary-adjusted keys k~_j = H_e ... H_{j+1} k_j: K~ = K - KWm A W.
inline MatR adjusted_keys(const MatR& K, const MatR& W, const MatR& A) {
  if (planted("ktilde-mask")) {  // a >= j instead of a > j
    MatR m = mask_keys_later_w(K, W);
    for (index_t j = 0; j < K.rows() && j < W.rows(); ++j) m(j, j) = K.row(j).dot(W.row(j));
    return K - m * A * W;
  }
  return K - mask_keys_later_w(K, W) * A * W;
}

// One step of the right-to-left scan for row vectors: X <- X - (X W^T) A^T W, i.e. x <- P x.
inline void scan_apply(MatR& X, const MatR& W, const MatR& A) {
  if (planted("scan-transpose")) {
    X = X - (X * W.transpose()) * A * W;
    return;
  }
  X = X - (X * W.transpose()) * A.transpose() * W;
}

}  // namespace ids
