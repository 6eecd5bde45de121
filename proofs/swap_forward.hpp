// Incremental forward pass of the Theorem 2.1 transformer: push tokens one at a time and read
// the decision at the newest position (causal, so the output at position i decides the prefix
// c_0..c_i). Logits are exact (scalar S); the softmax, W_o and the sign are certified intervals.
#pragma once

#include <map>
#include <vector>

#include "attention_summary.hpp"
#include "certified_attention.hpp"
#include "swap_transformer.hpp"

namespace proofs::swaps {

// sign(y) of the FFN. certified = false when the enclosure of y straddles 0 without being 0.
struct Decision {
  int sign = 0;
  bool certified = false;
};

inline Decision certified_sign(const Interval& y) {
  if (y.positive()) return {+1, true};
  if (y.negative()) return {-1, true};
  if (y.exact()) return {0, true};  // y == 0 exactly: sign(0) = 0
  return {0, false};
}

template <class S>
class SwapForward {
 public:
  explicit SwapForward(SwapTransformer<S> model)
      : model_(std::move(model)), cache1_(model_.head1.scale), cache2_(model_.head2.scale) {
    for (int t = 0; t < kVocabulary; ++t) {  // the embedding is one-hot: project each token once
      inputs1_.push_back(head_inputs(model_.head1, embed<S>(t)));
      inputs2_.push_back(head_inputs(model_.head2, embed<S>(t)));
    }
  }

  void push(int token) {
    cache1_.push(inputs1_[static_cast<std::size_t>(token)]);
    cache2_.push(inputs2_[static_cast<std::size_t>(token)]);
  }
  void pop() {
    cache1_.pop();
    cache2_.pop();
  }

  // The newest position's decision; head1_logits, when given, receives head 1's exact logits
  // (s_{i,0}, the one towards '#', first).
  Decision decide(std::vector<S>* head1_logits = nullptr) {
    std::vector<S> s1 = cache1_.last_row();
    const AttentionSummary<S> a1 = summarize(s1, cache1_);
    const AttentionSummary<S> a2 = summarize(cache2_.last_row(), cache2_);
    if (head1_logits != nullptr) *head1_logits = std::move(s1);
    key_.clear();
    std::vector<S>& key = key_;
    append_key(a1, key);
    append_key(a2, key);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    const Decision d = post_logits(a1, a2);
    memo_.emplace(key, d);
    return d;
  }

 private:
  // Softmax (certified), concatenation, W_o, sign. Depends only on the exact summaries.
  Decision post_logits(const AttentionSummary<S>& a1, const AttentionSummary<S>& a2) const {
    Vec<Interval> o = certified_attention(a1);
    const Vec<Interval> o2 = certified_attention(a2);
    o.insert(o.end(), o2.begin(), o2.end());
    Interval y(BigQ(0));
    for (std::size_t d = 0; d < o.size(); ++d)
      if (!is_zero(model_.output_row[d])) y = y + to_bigq(model_.output_row[d]) * o[d];
    return certified_sign(y);
  }

  SwapTransformer<S> model_;
  std::vector<HeadInputs<S>> inputs1_, inputs2_;  // per token
  PathHeadCache<S> cache1_, cache2_;
  std::map<std::vector<S>, Decision> memo_;
  std::vector<S> key_;  // reused buffer
};

}  // namespace proofs::swaps
