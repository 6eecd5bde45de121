#pragma once
// Oracle 1: naive products, one Householder transformation at a time (docs/algorithms.md §2).
//
// r_ij = k_j^T H_{j+1} ... H_i q_i. For every query i keep x = H_{j+1} ... H_i q_i while j runs
// down from i: then r_ij = k_j . x, and x <- H_j x = x - beta_j w_j (w_j . x) prepares j - 1.
// O(L^2 D) per head.
//
// Loop order (speed only, the arithmetic per query is the same): keys are taken in blocks of
// key_block, and within a block each query row is carried through all of the block's
// transformations while it sits in L1, so the L x D matrix of transformed queries is streamed
// once per key block instead of once per key.
#include <algorithm>
#include <type_traits>

#include "path/head_slice.hpp"

namespace path {

// One step of the sweep for one query row x: read r_ij = k_j . x, then x <- H_j x.
// Dim is the head dimension at compile time where it is one of the common ones (Eigen then
// unrolls and vectorizes the fixed-length dot products), Eigen::Dynamic otherwise.
template <int Dim, class S>
S read_logit_then_apply(const HeadSlice<S>& h, index_t j, S* x_data) {
  using Row = Eigen::Matrix<S, 1, Dim>;
  const index_t D = h.q.cols();
  Eigen::Map<Row> x(x_data, D);
  const Eigen::Map<const Row> k(h.k.row(j).data(), D), w(h.w.row(j).data(), D);
  const S logit = k.dot(x);
  const S along_w = h.beta(j) * w.dot(x);
  x -= along_w * w;
  return logit;
}

template <int Dim, class S>
Mat<S> naive_sweep(const HeadSlice<S>& h, index_t key_block) {
  const index_t L = h.length();
  Mat<S> X = h.q;                      // row i: H_{j+1} ... H_i q_i for the current j
  Mat<S> r_by_key = zeros<S>(L, L);    // [j, i]: a key's logits are one contiguous row
  for (index_t j_high = L - 1; j_high >= 0; j_high -= key_block) {
    const index_t j_low = std::max<index_t>(0, j_high - key_block + 1);
    index_t i = j_low;
    for (; i < j_high; ++i)  // queries inside the key block: the causal triangle
      for (index_t j = i; j >= j_low; --j) r_by_key(j, i) = read_logit_then_apply<Dim>(h, j, X.row(i).data());
    // Two query rows at a time: two independent dependency chains for the processor to overlap.
    for (; i + 1 < L; i += 2)
      for (index_t j = j_high; j >= j_low; --j) {
        r_by_key(j, i) = read_logit_then_apply<Dim>(h, j, X.row(i).data());
        r_by_key(j, i + 1) = read_logit_then_apply<Dim>(h, j, X.row(i + 1).data());
      }
    for (; i < L; ++i)
      for (index_t j = j_high; j >= j_low; --j) r_by_key(j, i) = read_logit_then_apply<Dim>(h, j, X.row(i).data());
  }
  return r_by_key.transpose();
}

// Raw logits r (L x L), entries with j > i (non-causal) left at 0.
template <class S>
Mat<S> naive_raw_logits(const HeadSlice<S>& h, index_t key_block = 16) {
  if constexpr (std::is_arithmetic_v<S>) {
    switch (h.q.cols()) {
      case 16: return naive_sweep<16>(h, key_block);
      case 32: return naive_sweep<32>(h, key_block);
      case 64: return naive_sweep<64>(h, key_block);
      case 128: return naive_sweep<128>(h, key_block);
      default: break;
    }
  }
  return naive_sweep<Eigen::Dynamic>(h, key_block);
}

}  // namespace path
