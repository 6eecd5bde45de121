// The one-layer, two-head PaTH transformer of Theorem 2.1 (appendix A), every weight explicit.
//
// Reconstructed from the appendix prose (its displayed formulas are not recoverable from the
// text we could obtain; docs/proofs-theorems.md says what is the paper's and what is ours):
//   embedding : '#' and the 20 swap tokens -> distinct one-hot vectors u in R^21
//   head 1    : W_q, W_k, W_v, W_w in R^{6x21}, beta = 1 (input independent, = 2 sigmoid(0))
//               q_t = n (1,2,3,4,5,1)                  for every token  (input independent)
//               k_t = (1,2,3,4,5,-109/2) if t = '#',   0 otherwise
//               v_t = e_1                 if t = '#',   0 otherwise
//               w_t = e_x - e_y           if t = [x<->y], 0 for '#'
//               so H_t = I - (e_x-e_y)(e_x-e_y)^T swaps coordinates x and y (a true reflection;
//               the same matrix as beta = 2 with the unit vector (e_x-e_y)/sqrt 2, Lemma 1 of [56]).
//   head 2    : W_k = W_q = W_w = 0, same W_v: uniform attention, output e_1/(n+1).
//   W_o       : first row [1,0,0,0,0,0,-1,0,0,0,0,0] on the concatenated 12-dim head outputs.
//   FFN       : sign(.) on that coordinate: +1 = identity, -1 = not.
// Logit of the last position i towards '#':  s_{i,0} = k_#^T H_1 ... H_i q
//   = n (sum_a a * pi(a) - 54.5),   pi the list after the swaps (read in reverse order);
// by the rearrangement inequality it is +n/2 for the identity and <= -n/2 otherwise, and all
// other logits are 0; hence a_0 = e^{s_0}/(e^{s_0}+i) > 1/(i+1) iff identity.
#pragma once

#include "path_head.hpp"
#include "swap_word_problem.hpp"

namespace proofs::swaps {

inline constexpr int kHeadDim = 6;

template <class S>
struct SwapTransformer {
  PathHeadWeights<S> head1, head2;
  Vec<S> output_row;  // first row of W_o over the concatenation [o^(1); o^(2)]
};

template <class S>
Mat<S> every_column(const Vec<S>& column) {
  Mat<S> m(column.size(), kVocabulary);
  for (int t = 0; t < kVocabulary; ++t)
    for (std::size_t r = 0; r < column.size(); ++r) m(r, t) = column[r];
  return m;
}

// n: the length bound the weights are built for (the query carries the factor n, which makes
// the logit margins +-n/2 as in the appendix). plant_bug: k_#[5] = 4 instead of 5.
template <class S>
SwapTransformer<S> build_swap_transformer(long long n, bool plant_bug) {
  SwapTransformer<S> m;
  PathHeadWeights<S>& h = m.head1;
  h.wq = every_column<S>({S(n), S(2 * n), S(3 * n), S(4 * n), S(5 * n), S(n)});
  h.wk = Mat<S>(kHeadDim, kVocabulary);
  const Vec<S> key_hash = {S(1), S(2), S(3), S(4), S(plant_bug ? 4 : 5), from_bigq<S>(BigQ(-109) / 2)};
  for (int r = 0; r < kHeadDim; ++r) h.wk(r, kStartToken) = key_hash[r];
  h.wv = Mat<S>(kHeadDim, kVocabulary);
  h.wv(0, kStartToken) = S(1);
  h.ww = Mat<S>(kHeadDim, kVocabulary);
  for (int t = 1; t < kVocabulary; ++t) {
    const auto [a, b] = swap_of(t);
    h.ww(a, t) = S(1);
    h.ww(b, t) = S(-1);
  }
  h.beta_row = Vec<S>(kVocabulary, S(0));
  h.beta_bias = S(1);

  PathHeadWeights<S>& g = m.head2;
  g.wq = g.wk = g.ww = Mat<S>(kHeadDim, kVocabulary);
  g.wv = h.wv;
  g.beta_row = h.beta_row;
  g.beta_bias = S(1);

  m.output_row = Vec<S>(2 * kHeadDim, S(0));
  m.output_row[0] = S(1);
  m.output_row[kHeadDim] = S(-1);
  return m;
}

template <class S>
Vec<S> embed(int token) {
  return unit<S>(kVocabulary, static_cast<std::size_t>(token));
}

}  // namespace proofs::swaps
