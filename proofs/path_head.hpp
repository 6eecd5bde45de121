// One causal PaTH attention head, evaluated incrementally (a "KV cache") in exact arithmetic.
//
// Semantics pinned by the project (paper section 2.2, eqs. for A_ij and H_t):
//   s_ij = scale * k_j^T (H_{j+1} H_{j+2} ... H_i) q_i      for j <= i  (H_j itself not included)
//   H_t  = I - beta_t w_t w_t^T
// The softmax over j and the value mixing are done by certified_attention.hpp, because exp of
// an exact rational is not rational.
#pragma once

#include <cstddef>
#include <vector>

#include "dense.hpp"

namespace proofs {

// Linear maps from the (exact) residual vector x_t to the head's q, k, v, w and beta.
// beta_t = beta_row . x_t + beta_bias. The paper parameterizes beta = 2 sigmoid(u^T x + b)
// (section 2.2); both constructions only need beta = 1 = 2 sigmoid(0) (Theorem 2.1, layer 1 of
// Theorem A.1) or the step function the paper explicitly assumes for layer 2 of Theorem A.1.
template <class S>
struct PathHeadWeights {
  Mat<S> wq, wk, wv, ww;
  Vec<S> beta_row;
  S beta_bias = S(0);
  S scale = S(1);
};

template <class S>
struct HeadInputs {
  Vec<S> q, k, v, w;
  S beta;
  bool key_is_zero = false;          // k = 0: every logit towards this position is 0
  bool transition_is_identity = false;  // beta = 0 or w = 0: H_t = I
};

template <class S>
HeadInputs<S> head_inputs(const PathHeadWeights<S>& p, const Vec<S>& x) {
  HeadInputs<S> in{matvec(p.wq, x), matvec(p.wk, x), matvec(p.wv, x), matvec(p.ww, x),
                   dot(p.beta_row, x) + p.beta_bias};
  in.key_is_zero = all_zero(in.k);
  in.transition_is_identity = is_zero(in.beta) || all_zero(in.w);
  return in;
}

// u <- H_t u = u - beta_t w_t (w_t^T u)
template <class S>
void apply_transition(const HeadInputs<S>& t, Vec<S>& u) {
  if (t.transition_is_identity) return;
  const S c = t.beta * dot(t.w, u);
  if (is_zero(c)) return;
  for (std::size_t a = 0; a < u.size(); ++a)
    if (!is_zero(t.w[a])) u[a] -= c * t.w[a];
}

template <class S>
class PathHeadCache {
 public:
  explicit PathHeadCache(S scale) : scale_(scale) {}

  // pop() keeps the slot, so a later push() reuses its storage (the sweeps push and pop
  // billions of times).
  void push(const HeadInputs<S>& in) {
    if (size_ == steps_.size())
      steps_.push_back(in);
    else
      steps_[size_] = in;
    ++size_;
  }
  void pop() { --size_; }
  std::size_t size() const { return size_; }
  const Vec<S>& value(std::size_t j) const { return steps_[j].v; }

  // Logits s_ij, j = 0..i, of the newest position i: walk j from i down to 0, carrying
  // u = H_{j+1} ... H_i q_i (starts as q_i since the product for j = i is empty).
  std::vector<S> last_row() const {
    const std::size_t n = size_;
    std::vector<S> s(n, S(0));
    Vec<S> u = steps_[n - 1].q;
    for (std::size_t jj = n; jj-- > 0;) {
      if (!steps_[jj].key_is_zero) s[jj] = scale_ * dot(steps_[jj].k, u);
      if (jj > 0) apply_transition(steps_[jj], u);
    }
    return s;
  }

 private:
  S scale_;
  std::vector<HeadInputs<S>> steps_;
  std::size_t size_ = 0;
};

}  // namespace proofs
