// Softmax of exact logits, enclosed in rational intervals (see interval.hpp, certified_exp.hpp).
//
// This is the only place where the proofs leave exact rational arithmetic: exp(s) of a rational
// s is irrational, so the attention weights and everything computed from them are carried as
// intervals that provably contain the real value. A decision (a sign, a threshold) counts only
// when the whole enclosure lies on one side; an undecidable enclosure is reported as a failure.
#pragma once

#include <vector>

#include "attention_summary.hpp"
#include "certified_exp.hpp"

namespace proofs {

// Shifting all logits by the largest one is exact and keeps every exp in (0, 1].
template <class S>
Vec<Interval> certified_attention(const AttentionSummary<S>& summary) {
  const BigQ top = to_bigq(summary.back().logit);
  const std::size_t dv = summary.front().value_sum.size();
  Interval z(BigQ(0));
  std::vector<Interval> num(dv, Interval(BigQ(0)));
  for (const LogitGroup<S>& g : summary) {
    const Interval e = certified_exp(to_bigq(g.logit) - top);
    z = z + BigQ(g.count) * e;
    for (std::size_t d = 0; d < dv; ++d)
      if (!is_zero(g.value_sum[d])) num[d] = num[d] + to_bigq(g.value_sum[d]) * e;
  }
  Vec<Interval> out(dv);
  for (std::size_t d = 0; d < dv; ++d) out[d] = divide_by_positive(num[d], z);
  return out;
}

// Softmax over a vocabulary of exact logits (the language-model head).
template <class S>
Vec<Interval> certified_softmax(const std::vector<S>& logits) {
  BigQ top = to_bigq(logits.front());
  for (const S& s : logits) top = std::max(top, to_bigq(s));
  std::vector<Interval> e;
  Interval z(BigQ(0));
  for (const S& s : logits) {
    e.push_back(certified_exp(to_bigq(s) - top));
    z = z + e.back();
  }
  Vec<Interval> p;
  for (const Interval& x : e) p.push_back(divide_by_positive(x, z));
  return p;
}

}  // namespace proofs
