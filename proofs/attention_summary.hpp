// Exact regrouping of one softmax-attention row by distinct logit value.
//
//   o_i = sum_j exp(s_ij) v_j / sum_j exp(s_ij)
//       = sum_g exp(s_g) V_g / sum_g n_g exp(s_g),   V_g = sum_{j: s_ij = s_g} v_j,  n_g = #{j: s_ij = s_g}
// The regrouping is exact (finite sums of exact rationals). The constructions produce only two
// or three distinct logits per row, so the certified (interval) part that follows is short, and
// the summary is a canonical key under which that part can be memoized.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "dense.hpp"
#include "path_head.hpp"

namespace proofs {

template <class S>
struct LogitGroup {
  S logit;
  long long count = 0;
  Vec<S> value_sum;
};

template <class S>
using AttentionSummary = std::vector<LogitGroup<S>>;  // sorted by increasing logit

template <class S>
AttentionSummary<S> summarize(const std::vector<S>& logits, const PathHeadCache<S>& cache) {
  AttentionSummary<S> groups;
  for (std::size_t j = 0; j < logits.size(); ++j) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const LogitGroup<S>& g) { return g.logit == logits[j]; });
    if (it == groups.end()) {
      groups.push_back(LogitGroup<S>{logits[j], 0, Vec<S>(cache.value(j).size(), S(0))});
      it = groups.end() - 1;
    }
    it->count += 1;
    const Vec<S>& v = cache.value(j);
    for (std::size_t d = 0; d < v.size(); ++d)
      if (!is_zero(v[d])) it->value_sum[d] += v[d];
  }
  std::sort(groups.begin(), groups.end(), [](const LogitGroup<S>& a, const LogitGroup<S>& b) { return a.logit < b.logit; });
  return groups;
}

// Flattened summary, usable as a memo key: [#groups, (logit, count, V_g...)...].
template <class S>
void append_key(const AttentionSummary<S>& summary, std::vector<S>& key) {
  key.push_back(S(static_cast<long long>(summary.size())));
  for (const LogitGroup<S>& g : summary) {
    key.push_back(g.logit);
    key.push_back(S(g.count));
    key.insert(key.end(), g.value_sum.begin(), g.value_sum.end());
  }
}

}  // namespace proofs
