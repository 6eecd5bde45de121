// The two-layer PaTH transformer of Theorem A.1 (flip-flop language modeling), every weight
// explicit. Residual dimensions follow the appendix prose (1-based there, 0-based here):
//   paper 1..5  tokens w, r, i, 0, 1 (one-hot embedding)   paper 6, 12  unused here
//   paper 7..9  layer-1 attention: instruction before this bit (w, r, i)
//   paper 10,11 FFN 1: 1{0 following w}, 1{1 following w}
//   paper 13,14 layer-2 attention: the last written bit (0, 1)
//   paper 15,16 FFN 2: 1{r and state 0}, 1{r and state 1}
// Layer 1 (head dim 2, beta = 1): q = c e1 for every token; k = e1 for instructions, 0 for bits;
//   w = e1 for instructions, e2 for bits, so H = I - e1 e1^T (instruction) or I - e2 e2^T (bit);
//   s_{i,j} = c iff j = i-1 for a bit at i, else 0.  v = one-hot instruction type.
// Layer 2 (head dim 1): q = c, w = 1 for every token, k = beta = x10 + x11 = 1{bit following w}
//   (beta is the step function the paper assumes), v = (x10, x11); so H = 0 at write-bits, 1 else;
//   s_{i,j} = c iff j is the last write-bit at or before i, else 0.
// LM head: T (e4 + e5) from w and i, T (e1 + e2 + e3) from 0 and 1, T e4 / T e5 from dims 15/16.
// c = n (the paper's "equals n") and T = 101 bitlen(n) + 2 (see docs: the printed T ~ log n is
// too small for the claimed 1/n^101 error).
#pragma once

#include "path_head.hpp"
#include "ramp_ffn.hpp"
#include "flip_flop_language.hpp"

namespace proofs::flipflop {

inline constexpr std::size_t kWidth = 16;
// 0-based residual coordinates (paper numbering minus one).
inline constexpr std::size_t kPrevW = 6, kWrite0 = 9, kWrite1 = 10, kLast0 = 12, kLast1 = 13, kRead0 = 14, kRead1 = 15;

enum class Bug { none, layer2_no_transition };

template <class S>
struct FlipFlopTransformer {
  PathHeadWeights<S> layer1, layer2;
  std::size_t out1 = 6, out2 = 12;  // W_o: head values are written to these residual coordinates
  std::vector<RampUnit> ffn1, ffn2;
  Mat<S> lm_head;  // kVocabulary x kWidth
};

inline long long bit_length(long long n) {
  long long b = 0;
  while (n > 0) {
    ++b;
    n >>= 1;
  }
  return b;
}

inline long long default_lm_temperature(long long n) { return 101 * bit_length(n) + 2; }

template <class S>
PathHeadWeights<S> flip_flop_layer1(long long c) {
  PathHeadWeights<S> h;
  h.wq = Mat<S>(2, kWidth);
  h.wk = Mat<S>(2, kWidth);
  h.ww = Mat<S>(2, kWidth);
  h.wv = Mat<S>(3, kWidth);
  for (int t = 0; t < kVocabulary; ++t) {
    h.wq(0, t) = S(c);
    if (is_instruction(t)) {
      h.wk(0, t) = S(1);
      h.ww(0, t) = S(1);
      h.wv(t, t) = S(1);  // W, R, I are 0, 1, 2
    } else {
      h.ww(1, t) = S(1);
    }
  }
  h.beta_row = Vec<S>(kWidth, S(0));
  h.beta_bias = S(1);
  return h;
}

template <class S>
PathHeadWeights<S> flip_flop_layer2(long long c, Bug bug) {
  PathHeadWeights<S> h;
  h.wq = Mat<S>(1, kWidth);
  h.wk = Mat<S>(1, kWidth);
  h.ww = Mat<S>(1, kWidth);
  h.wv = Mat<S>(2, kWidth);
  for (int t = 0; t < kVocabulary; ++t) {
    h.wq(0, t) = S(c);
    h.ww(0, t) = S(1);
  }
  h.wk(0, kWrite0) = h.wk(0, kWrite1) = S(1);
  h.wv(0, kWrite0) = h.wv(1, kWrite1) = S(1);
  h.beta_row = Vec<S>(kWidth, S(0));
  if (bug != Bug::layer2_no_transition) h.beta_row[kWrite0] = h.beta_row[kWrite1] = S(1);
  return h;
}

// out += clamp01(3 x_a + 3 x_b - 4): 1 iff x_a = 1 and x_b >= 2/3; 0 iff x_a = 0 or x_b <= 1/3.
inline RampUnit both(std::size_t out, std::size_t a, std::size_t b) {
  return RampUnit{out, {{a, BigQ(3)}, {b, BigQ(3)}}, BigQ(-4)};
}

template <class S>
Mat<S> flip_flop_lm_head(long long temperature) {
  Mat<S> m(kVocabulary, kWidth);
  const S t(temperature);
  for (int b : {ZERO, ONE}) m(b, W) = m(b, I) = t;              // after w or i: uniform bit
  for (int ins : {W, R, I}) m(ins, ZERO) = m(ins, ONE) = t;     // after a bit: uniform instruction
  m(ZERO, kRead0) = t;                                          // after r: the state bit
  m(ONE, kRead1) = t;
  return m;
}

template <class S>
FlipFlopTransformer<S> build_flip_flop_transformer(long long n, long long temperature, Bug bug) {
  FlipFlopTransformer<S> m;
  m.layer1 = flip_flop_layer1<S>(n);
  m.layer2 = flip_flop_layer2<S>(n, bug);
  m.ffn1 = {both(kWrite0, ZERO, kPrevW), both(kWrite1, ONE, kPrevW)};
  m.ffn2 = {both(kRead0, R, kLast0), both(kRead1, R, kLast1)};
  m.lm_head = flip_flop_lm_head<S>(temperature);
  return m;
}

}  // namespace proofs::flipflop
