// Incremental forward pass of the Theorem A.1 transformer: push tokens one at a time and read
// the next-token distribution at the newest position.
//
// Exact (scalar S): embeddings, both layers' q/k/v/w/beta and logits, the LM-head logits.
// Certified intervals (interval.hpp): softmax outputs and the FFNs that read them. Every input
// of layer 2 and of the LM head must come out of the FFNs as an exact number (a degenerate
// interval); otherwise the position is reported as not certified, which counts as a failure.
// The post-logit stage of each layer is a function of (exact) keys only and is memoized.
#pragma once

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "attention_summary.hpp"
#include "certified_attention.hpp"
#include "flip_flop_transformer.hpp"

namespace proofs::flipflop {

template <class S>
struct Output {
  bool certified = false;
  std::string why_not;       // when not certified
  Vec<Interval> probs;       // next-token probabilities (w, r, i, 0, 1)
  std::vector<S> lm_logits;  // exact
};

template <class S>
std::set<std::size_t> columns_read(std::initializer_list<const Mat<S>*> mats, const Vec<S>& extra = {}) {
  std::set<std::size_t> cols;
  for (const Mat<S>* m : mats)
    for (std::size_t r = 0; r < m->rows; ++r)
      for (std::size_t c = 0; c < m->cols; ++c)
        if (!is_zero((*m)(r, c))) cols.insert(c);
  for (std::size_t c = 0; c < extra.size(); ++c)
    if (!is_zero(extra[c])) cols.insert(c);
  return cols;
}

// The exact vector a later layer reads; false if one of the read coordinates is not exact.
template <class S>
bool exact_reads(const Vec<Interval>& x, const std::set<std::size_t>& read, Vec<S>& out, std::string& why) {
  out.assign(x.size(), S(0));
  for (std::size_t c : read) {
    if (!x[c].exact()) {
      why = "coordinate " + std::to_string(c + 1) + " (paper numbering) is not exact";
      return false;
    }
    out[c] = from_bigq<S>(x[c].lo);
  }
  return true;
}

template <class S>
class FlipFlopForward {
 public:
  explicit FlipFlopForward(FlipFlopTransformer<S> m)
      : m_(std::move(m)), cache1_(m_.layer1.scale), cache2_(m_.layer2.scale) {
    const PathHeadWeights<S>& h = m_.layer2;
    reads2_ = columns_read<S>({&h.wq, &h.wk, &h.wv, &h.ww}, h.beta_row);
    reads_lm_ = columns_read<S>({&m_.lm_head});
    post2_reads_ = reads_lm_;
    for (const RampUnit& u : m_.ffn2)
      for (const auto& [c, a] : u.in) post2_reads_.insert(c);
    for (int t = 0; t < kVocabulary; ++t)  // the embedding is one-hot: project each token once
      inputs1_.push_back(head_inputs(m_.layer1, unit<S>(kWidth, static_cast<std::size_t>(t))));
  }

  // Next-token law at the newest position. Not certified if any layer-2 input so far was not
  // exact (then the exact layer-2 logits could not be formed).
  const Output<S>& push(int token) {
    cache1_.push(inputs1_[static_cast<std::size_t>(token)]);
    logits1_ = cache1_.last_row();
    const Layer1Result& r1 = layer1_post(token, summarize(logits1_, cache1_));
    poisoned_.push_back(!r1.exact);
    poisoned_count_ += r1.exact ? 0 : 1;
    cache2_.push(r1.layer2_inputs);  // inexact reads entered as 0; flagged below
    logits2_ = cache2_.last_row();
    const Output<S>& out = layer2_post(r1, summarize(logits2_, cache2_));
    if (poisoned_count_ == 0) {
      outputs_.push_back(&out);
    } else {
      Output<S> flagged = out;
      flagged.certified = false;
      flagged.why_not = r1.exact ? "an earlier position's layer-2 input is not exact" : r1.why_not;
      flagged_.push_back(std::move(flagged));
      outputs_.push_back(&flagged_.back());
    }
    return *outputs_.back();
  }

  void pop() {
    cache1_.pop();
    cache2_.pop();
    if (poisoned_count_ > 0) flagged_.pop_back();
    poisoned_count_ -= poisoned_.back() ? 1 : 0;
    poisoned_.pop_back();
    outputs_.pop_back();
  }

  // Exact logit rows of the newest position (for the Q64 / GMP cross-check).
  const std::vector<S>& layer1_logits() const { return logits1_; }
  const std::vector<S>& layer2_logits() const { return logits2_; }

 private:
  struct Layer1Result {
    Vec<Interval> stream;           // residual after layer 1
    bool exact = false;             // every coordinate layer 2 reads is exact
    std::string why_not;
    HeadInputs<S> layer2_inputs;    // q, k, v, w, beta of layer 2 at this position
    std::vector<S> post2_key;       // what layer 2's post-logit stage reads of `stream`
  };

  // Layer 1 after its logits: attention (certified) -> W_o -> residual -> FFN 1.
  const Layer1Result& layer1_post(int token, const AttentionSummary<S>& a) {
    key_ = {S(token)};
    append_key(a, key_);
    if (auto it = memo1_.find(key_); it != memo1_.end()) return it->second;
    Layer1Result r;
    r.stream = Vec<Interval>(kWidth, Interval(BigQ(0)));
    r.stream[static_cast<std::size_t>(token)] = Interval(BigQ(1));
    const Vec<Interval> o = certified_attention(a);
    for (std::size_t d = 0; d < o.size(); ++d) r.stream[m_.out1 + d] = r.stream[m_.out1 + d] + o[d];
    apply_ramp_ffn(m_.ffn1, r.stream);
    Vec<S> x1;
    r.exact = exact_reads(r.stream, reads2_, x1, r.why_not);
    if (!r.exact) r.why_not = "layer-2 input not exact: " + r.why_not;
    r.layer2_inputs = head_inputs(m_.layer2, x1);
    // Layer 2's post stage depends on the stream only through the coordinates FFN 2 and the
    // LM head read; when they are exact they (not the stream's identity) form its memo key.
    bool post_exact = true;
    for (std::size_t c : post2_reads_) post_exact = post_exact && r.stream[c].exact();
    r.post2_key = {S(post_exact ? 0 : 1)};
    if (post_exact)
      for (std::size_t c : post2_reads_) r.post2_key.push_back(from_bigq<S>(r.stream[c].lo));
    else
      r.post2_key.push_back(S(static_cast<long long>(memo1_.size())));  // unique: this entry
    return memo1_.emplace(key_, std::move(r)).first->second;
  }

  // Layer 2 after its logits: attention -> W_o -> residual -> FFN 2 -> LM head -> softmax.
  const Output<S>& layer2_post(const Layer1Result& r1, const AttentionSummary<S>& a) {
    key_ = r1.post2_key;
    append_key(a, key_);
    if (auto it = memo2_.find(key_); it != memo2_.end()) return it->second;
    Vec<Interval> x = r1.stream;
    const Vec<Interval> o = certified_attention(a);
    for (std::size_t d = 0; d < o.size(); ++d) x[m_.out2 + d] = x[m_.out2 + d] + o[d];
    apply_ramp_ffn(m_.ffn2, x);
    Output<S> out;
    Vec<S> x2;
    if (exact_reads(x, reads_lm_, x2, out.why_not)) {
      out.lm_logits = matvec(m_.lm_head, x2);
      out.probs = certified_softmax(out.lm_logits);
      out.certified = true;
    } else {
      out.why_not = "LM-head input not exact: " + out.why_not;
    }
    return memo2_.emplace(key_, std::move(out)).first->second;
  }

  FlipFlopTransformer<S> m_;
  std::vector<HeadInputs<S>> inputs1_;  // layer-1 inputs per token
  PathHeadCache<S> cache1_, cache2_;
  std::set<std::size_t> reads2_, reads_lm_, post2_reads_;
  std::vector<S> logits1_, logits2_, key_;
  std::vector<bool> poisoned_;  // per position: a layer-2 input was not exact
  long long poisoned_count_ = 0;
  std::vector<const Output<S>*> outputs_;  // point into memo2_ (std::map nodes are stable) or flagged_
  std::deque<Output<S>> flagged_;          // outputs made uncertified by a poisoned position
  std::map<std::vector<S>, Layer1Result> memo1_;
  std::map<std::vector<S>, Output<S>> memo2_;
};

}  // namespace proofs::flipflop
