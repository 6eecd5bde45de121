#pragma once
// Oracle 3: the blockwise, FlashAttention-style algorithm (paper §3.3; docs/algorithms.md §4).
//
// Split the sequence into blocks of size B (the last may be shorter). For block m with rows
// [s_m, e_m], local factor A_m = compact_factor(W_m, beta_m), block product P_m = H_{s_m}...H_{e_m}
// = I - W_m^T A_m W_m. For query i in block n and key j in block m < n:
//   r_ij = k~_j^T P_{m+1} ... P_{n-1} q~_i with
//   q~_i = H_{s_n} ... H_i q_i            (boundary-adjusted query:  Q~ = Q - WQm^T A^T W)
//   k~_j = H_{e_m} ... H_{j+1} k_j        (boundary-adjusted key:    K~ = K - KWm A W)
// where WQm, KWm are the block-local masked products of oracle 2 (the leading and trailing
// sub-blocks of a triangular inverse are the inverses of the sub-blocks). Within a block
// (m = n) the masked form gives r_ij = k_j.q_i - (KWm A WQm)_ji. Across blocks, a right-to-left
// scan keeps X = rows (P_{m+1} ... P_{n-1} q~_i)^T, reads the tile X K~_m^T, then applies P_m:
// X <- X - (X W_m^T) A_m^T W_m. O(L^2 D) per head plus O(L B^2) for the local factors.
//
// The scan hands each tile of raw logits to a visitor: one visitor stores them (exact logits),
// the other runs the online softmax (o and lse).
#include <algorithm>
#include <stdexcept>
#include <vector>

#include "path/algorithms/ut_masked.hpp"
#include "path/compact_form.hpp"
#include "path/gate.hpp"
#include "path/head_slice.hpp"

namespace path {

// Everything the scan needs about one block of tokens.
template <class S>
struct BlockFactors {
  index_t begin = 0, size = 0;
  Mat<S> w, A;            // the block's w rows and compact factor
  Mat<S> q_adjusted;      // q~: H_{begin} ... H_i q_i for each query i of the block
  Mat<S> k_adjusted;      // k~: H_{end} ... H_{j+1} k_j for each key j of the block
  Mat<S> intra;           // raw logits inside the block, [i_local, j_local], j <= i
};

template <class S>
BlockFactors<S> block_factors(const HeadSlice<S>& h, index_t begin, index_t size) {
  BlockFactors<S> f;
  f.begin = begin;
  f.size = size;
  const Mat<S> q = h.q.middleRows(begin, size), k = h.k.middleRows(begin, size);
  f.w = h.w.middleRows(begin, size);
  f.A = compact_factor<S>(f.w, h.beta.segment(begin, size));
  const Mat<S> wq = w_dot_earlier_queries<S>(f.w, q);  // [b, i]: b <= i
  const Mat<S> kw = keys_dot_later_w<S>(k, f.w);       // [j, a]: a > j
  f.q_adjusted = q - wq.transpose() * f.A.transpose() * f.w;
  f.k_adjusted = k - kw * f.A * f.w;
  const Mat<S> correction = kw * f.A * wq;  // [j, i]
  f.intra = zeros<S>(size, size);
  for (index_t i = 0; i < size; ++i)
    for (index_t j = 0; j <= i; ++j) f.intra(i, j) = k.row(j).dot(q.row(i)) - correction(j, i);
  return f;
}

// X <- X P_m for row vectors, i.e. each row x^T becomes (P_m x)^T.
template <class S>
void apply_block_product(Mat<S>& X, const BlockFactors<S>& f) {
  const Mat<S> xw = X * f.w.transpose();
  X.noalias() -= xw * f.A.transpose() * f.w;
}

// Calls visit(query_begin, key_begin, tile) with tile[i_local, j_local] = raw logit r_ij for every
// causal tile; for diagonal tiles only j <= i is meaningful (the rest is 0).
template <class S, class Visitor>
void blockwise_scan(const HeadSlice<S>& h, index_t block_size, Visitor&& visit) {
  const index_t L = h.length();
  if (block_size < 1) throw std::invalid_argument("blockwise: block size must be at least 1");
  std::vector<BlockFactors<S>> blocks;
  for (index_t s = 0; s < L; s += block_size) blocks.push_back(block_factors(h, s, std::min(block_size, L - s)));
  for (std::size_t n = 0; n < blocks.size(); ++n) {
    visit(blocks[n].begin, blocks[n].begin, blocks[n].intra);
    Mat<S> X = blocks[n].q_adjusted;
    for (std::size_t m = n; m-- > 0;) {
      const Mat<S> tile = X * blocks[m].k_adjusted.transpose();
      visit(blocks[n].begin, blocks[m].begin, tile);
      if (m > 0) apply_block_product(X, blocks[m]);
    }
  }
}

template <class S>
Mat<S> blockwise_raw_logits(const HeadSlice<S>& h, index_t block_size) {
  const index_t L = h.length();
  Mat<S> r = zeros<S>(L, L);
  blockwise_scan(h, block_size, [&](index_t qb, index_t kb, const Mat<S>& tile) {
    for (index_t i = 0; i < tile.rows(); ++i)
      for (index_t j = 0; j < tile.cols(); ++j)
        if (kb + j <= qb + i) r(qb + i, kb + j) = tile(i, j);
  });
  return r;
}

}  // namespace path

#include "path/softmax.hpp"

namespace path {

// o and lse by the blockwise scan with online softmax: no L x L matrix is formed.
template <class S>
HeadOutput<S> blockwise_forward(const HeadSlice<S>& h, index_t block_size) {
  const Vec<S> G = cumulative_gate(h);
  OnlineSoftmax<S> softmax(h.length(), h.v.cols());
  blockwise_scan(h, block_size, [&](index_t qb, index_t kb, const Mat<S>& raw) {
    Mat<S> s(raw.rows(), raw.cols());
    for (index_t i = 0; i < raw.rows(); ++i)
      for (index_t j = 0; j < raw.cols(); ++j)
        s(i, j) = gated_logit<S>(raw(i, j), h.scale, G(qb + i) - G(kb + j), h.gate_convention);
    softmax.add_tile(qb, kb, s, h.v.middleRows(kb, raw.cols()));
  });
  return softmax.finish();
}

}  // namespace path
