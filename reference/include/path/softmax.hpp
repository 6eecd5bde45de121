#pragma once
// Causal softmax attention on final logits, o_i = sum_{j<=i} softmax_j(s_i.) v_j and
// lse_i = log sum_{j<=i} exp(s_ij) (natural log), for floating scalar types; plus the online
// (streaming) form the blockwise algorithm uses. docs/algorithms.md §5.
#include <algorithm>
#include <cmath>
#include <vector>

#include "path/head_slice.hpp"

namespace path {

template <class S>
struct HeadOutput {
  Mat<S> o;    // [L, Dv]
  Vec<S> lse;  // [L]
};

template <class S>
S exp_of(const S& x) {
  using std::exp;
  return exp(x);
}

template <class S>
S log_of(const S& x) {
  using std::log;
  return log(x);
}

// Final logits from raw ones: s_ij = gated_logit(r_ij, scale, G_i - G_j) for j <= i.
template <class S>
Mat<S> final_logits(const HeadSlice<S>& h, const Mat<S>& raw) {
  const index_t L = h.length();
  const Vec<S> G = cumulative_gate(h);
  Mat<S> s = zeros<S>(L, L);
  for (index_t i = 0; i < L; ++i)
    for (index_t j = 0; j <= i; ++j) s(i, j) = gated_logit<S>(raw(i, j), h.scale, G(i) - G(j), h.gate_convention);
  return s;
}

// One softmax row over keys 0..n-1 with the exact row maximum subtracted (no overflow for any
// finite logit): o_row = sum_j softmax(s)_j V_j, lse = log sum_j exp(s_j). `logit(j)` gives s_j.
// The forward's rows (softmax_attention) and a decode step's rows (decode.hpp) both use it.
template <class S, class Logit>
void softmax_row(const Logit& logit, index_t n, const Mat<S>& V, Mat<S>& o, index_t row, S& lse) {
  S m = logit(0);
  for (index_t j = 1; j < n; ++j) m = std::max(m, logit(j));
  S l = S(0);
  for (index_t j = 0; j < n; ++j) {
    const S p = exp_of<S>(logit(j) - m);
    l += p;
    o.row(row) += p * V.row(j);
  }
  o.row(row) /= l;
  lse = m + log_of<S>(l);
}

// Row-wise causal softmax: row i attends to keys 0..i.
template <class S>
HeadOutput<S> softmax_attention(const Mat<S>& logits, const Mat<S>& v) {
  const index_t L = logits.rows();
  HeadOutput<S> out{zeros<S>(L, v.cols()), Vec<S>::Constant(L, S(0))};
  for (index_t i = 0; i < L; ++i)
    softmax_row<S>([&](index_t j) { return logits(i, j); }, i + 1, v, out.o, i, out.lse(i));
  return out;
}

// Writes one (sequence, query head)'s rows into [B, T, HQ, Dv] o and [B, T, HQ] lse (any scalar
// type convertible to the output's).
template <class Out, class S>
void store_head_output(std::vector<Out>& o, std::vector<Out>& lse, const Shape& s, const SequenceRange& seq,
                       index_t hq, const HeadOutput<S>& out) {
  for (index_t t = 0; t < seq.length; ++t) {
    const index_t pos = seq.begin + t;
    for (index_t d = 0; d < s.Dv; ++d) o[flat_index(seq.batch, pos, hq, d, s.T, s.HQ, s.Dv)] = Out(out.o(t, d));
    lse[flat_index(seq.batch, pos, hq, 0, s.T, s.HQ, 1)] = Out(out.lse(t));
  }
}

// Online softmax over the query rows of a head (FlashAttention's running max and sum), fed one
// tile of final logits at a time, in any order of key blocks.
template <class S>
struct OnlineSoftmax {
  Vec<S> running_max, running_sum;
  Mat<S> accumulator;
  std::vector<bool> seen;

  OnlineSoftmax(index_t rows, index_t dv)
      : running_max(Vec<S>::Constant(rows, S(0))),
        running_sum(Vec<S>::Constant(rows, S(0))),
        accumulator(zeros<S>(rows, dv)),
        seen(static_cast<std::size_t>(rows), false) {}

  // s(i_local, j_local) is the logit of query row_begin + i_local against key key_begin + j_local,
  // whose value is v_rows(j_local); only causal pairs (key <= query) count.
  void add_tile(index_t row_begin, index_t key_begin, const Mat<S>& s, const Mat<S>& v_rows) {
    for (index_t i = 0; i < s.rows(); ++i) {
      const index_t row = row_begin + i;
      const index_t valid = std::min<index_t>(s.cols(), row - key_begin + 1);
      if (valid <= 0) continue;
      S tile_max = s(i, 0);
      for (index_t j = 1; j < valid; ++j) tile_max = std::max(tile_max, s(i, j));
      const bool first = !seen[static_cast<std::size_t>(row)];
      const S new_max = first ? tile_max : std::max(running_max(row), tile_max);
      const S rescale = first ? S(0) : exp_of<S>(running_max(row) - new_max);
      running_sum(row) *= rescale;
      accumulator.row(row) *= rescale;
      for (index_t j = 0; j < valid; ++j) {
        const S p = exp_of<S>(s(i, j) - new_max);
        running_sum(row) += p;
        accumulator.row(row) += p * v_rows.row(j);
      }
      running_max(row) = new_max;
      seen[static_cast<std::size_t>(row)] = true;
    }
  }

  HeadOutput<S> finish() const {
    const index_t L = accumulator.rows();
    HeadOutput<S> out{zeros<S>(L, accumulator.cols()), Vec<S>::Constant(L, S(0))};
    for (index_t i = 0; i < L; ++i) {
      out.o.row(i) = accumulator.row(i) / running_sum(i);
      out.lse(i) = running_max(i) + log_of<S>(running_sum(i));
    }
    return out;
  }
};

}  // namespace path
