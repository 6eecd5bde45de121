#pragma once
// Decode oracle: a key cache updated in place by each new token's Householder transformation, then
// ordinary (gated) softmax attention; and prefill-to-cache in time linear in the prefix length
// (docs/decode.md; docs/design.md section 1).
//
// After tokens 0..n-1 the cache holds, per key/value head, k_j^(n-1) = H_{n-1} ... H_{j+1} k_j for
// every j < n (so k_{n-1}^(n-1) = k_{n-1}), the values v_j and, per query head, the cumulative gates
// G_j. A step with token t: apply H_t in place to every cached key (k_j^(t) = H_t k_j^(t-1)), append
// k_t, then s_tj = gated_logit(k_j^(t) . q_t, scale, G_t - G_j) -- the forward's logit, since
// k_j^(t) . q_t = k_j^T H_{j+1} ... H_t q_t (every H is symmetric).
//
// Prefill (paper Eq. 2): for the block m containing j, k_j^(n-1) = (P_{m+1} ... P_last)^T k~_j with
// k~_j = H_{e_m} ... H_{j+1} k_j (the blockwise algorithm's adjusted key) and P_m = I - W_m^T A_m W_m.
// As rows: K_cache[block m] = K~_m M_m with M_m = P_{m+1} ... P_last, kept as an explicit D x D
// matrix, updated right to left by M_{m-1} = P_m M_m = M_m - W_m^T (A_m (W_m M_m)): O(b D^2) per
// block of size b, O(n D (D + b)) in all -- linear in n.
#include <algorithm>
#include <string>
#include <vector>

#include "path/algorithms/ut_masked.hpp"
#include "path/compact_form.hpp"
#include "path/forward.hpp"
#include "path/validate.hpp"

namespace path {

// The head layout a cache is built for; a token (or a problem) with another layout is rejected.
struct HeadLayout {
  index_t HQ = 1, H = 1, D = 1, Dv = 1;
  bool operator==(const HeadLayout&) const = default;
};

inline HeadLayout layout_of(const Shape& s) { return {s.HQ, s.H, s.D, s.Dv}; }

inline std::string to_string(const HeadLayout& l) {
  return "HQ=" + std::to_string(l.HQ) + " H=" + std::to_string(l.H) + " D=" + std::to_string(l.D) +
         " Dv=" + std::to_string(l.Dv);
}

template <class S>
struct DecodeCache {
  HeadLayout layout;
  S scale = S(1);
  GateConvention gate_convention = GateConvention::paper;
  bool gated = false;
  std::vector<Mat<S>> keys;    // [H] of [n, D]: row j = k_j^(n-1)
  std::vector<Mat<S>> values;  // [H] of [n, Dv]
  Mat<S> gates;                // [n, HQ]: cumulative gate G_j per query head (zeros without a gate)

  index_t length() const { return gates.rows(); }
};

// One token's inputs, all heads: q [HQ, D], k and w [H, D], v [H, Dv], beta [H], g [HQ] (size 0: none).
template <class S>
struct DecodeToken {
  Mat<S> q, k, w, v;
  Vec<S> beta, g;
};

template <class S>
struct DecodeOutput {
  Mat<S> o;    // [HQ, Dv]
  Vec<S> lse;  // [HQ]
};

template <class S>
DecodeCache<S> empty_cache(const HeadLayout& layout, const S& scale, GateConvention convention, bool gated) {
  DecodeCache<S> c;
  c.layout = layout;
  c.scale = scale;
  c.gate_convention = convention;
  c.gated = gated;
  c.keys.assign(static_cast<std::size_t>(layout.H), Mat<S>(0, layout.D));
  c.values.assign(static_cast<std::size_t>(layout.H), Mat<S>(0, layout.Dv));
  c.gates = Mat<S>(0, layout.HQ);
  return c;
}

namespace detail {

inline void check_dims(const char* tensor, index_t rows, index_t cols, index_t want_rows, index_t want_cols,
                       const HeadLayout& cache) {
  if (rows != want_rows || cols != want_cols)
    reject(tensor, "token has shape [" + std::to_string(rows) + ", " + std::to_string(cols) + "], the key cache (" +
                       to_string(cache) + ") needs [" + std::to_string(want_rows) + ", " + std::to_string(want_cols) +
                       "]: a cache from a different head layout");
}

template <class S>
void check_token(const DecodeCache<S>& c, const DecodeToken<S>& x) {
  const HeadLayout& l = c.layout;
  check_dims("q", x.q.rows(), x.q.cols(), l.HQ, l.D, l);
  check_dims("k", x.k.rows(), x.k.cols(), l.H, l.D, l);
  check_dims("w", x.w.rows(), x.w.cols(), l.H, l.D, l);
  check_dims("v", x.v.rows(), x.v.cols(), l.H, l.Dv, l);
  check_dims("beta", x.beta.size(), 1, l.H, 1, l);
  if (c.gated != (x.g.size() != 0))
    reject("g", c.gated ? "the key cache is gated but the token has no g" : "the token has g but the key cache is not gated");
  if (c.gated) check_dims("g", x.g.size(), 1, l.HQ, 1, l);
  if (static_cast<index_t>(c.keys.size()) != l.H || c.gates.cols() != l.HQ)
    reject("k_cache", "holds " + std::to_string(c.keys.size()) + " key heads and " + std::to_string(c.gates.cols()) +
                          " gate columns, its layout says " + to_string(l));
}

template <class S>
void append_row(Mat<S>& m, const Eigen::Ref<const Mat<S>>& row) {
  m.conservativeResize(m.rows() + 1, Eigen::NoChange);
  m.row(m.rows() - 1) = row;
}

}  // namespace detail

// Token t enters the cache: H_t = I - beta_t w_t w_t^T applied in place to every cached key of each
// key/value head, then k_t, v_t and G_t appended. Any scalar (exact rationals too).
template <class S>
void append_token(DecodeCache<S>& c, const DecodeToken<S>& x) {
  detail::check_token(c, x);
  for (index_t h = 0; h < c.layout.H; ++h) {
    Mat<S>& K = c.keys[static_cast<std::size_t>(h)];
    const Vec<S> proj = K * x.w.row(h).transpose();
    K.noalias() -= (x.beta(h) * proj) * x.w.row(h);
    detail::append_row<S>(K, x.k.row(h));
    detail::append_row<S>(c.values[static_cast<std::size_t>(h)], x.v.row(h));
  }
  Mat<S> G = Mat<S>::Constant(1, c.layout.HQ, S(0));
  if (c.gated)
    for (index_t hq = 0; hq < c.layout.HQ; ++hq)
      G(0, hq) = (c.length() > 0 ? c.gates(c.length() - 1, hq) : S(0)) + x.g(hq);
  detail::append_row<S>(c.gates, G);
}

// Final logits of the newest token (the last one appended) against every cached key: [HQ, n].
// Query head hq reads key/value head hq / (HQ / H), as in the forward.
template <class S>
Mat<S> newest_logits(const DecodeCache<S>& c, const Mat<S>& q) {
  const index_t n = c.length(), group = c.layout.HQ / c.layout.H;
  Mat<S> s(c.layout.HQ, n);
  for (index_t hq = 0; hq < c.layout.HQ; ++hq) {
    const Vec<S> raw = c.keys[static_cast<std::size_t>(hq / group)] * q.row(hq).transpose();
    for (index_t j = 0; j < n; ++j)
      s(hq, j) = gated_logit<S>(raw(j), c.scale, c.gates(n - 1, hq) - c.gates(j, hq), c.gate_convention);
  }
  return s;
}

// One decode step: append the token, then softmax attention of its queries over the cache.
template <class S>
DecodeOutput<S> decode_step(DecodeCache<S>& c, const DecodeToken<S>& x) {
  static_assert(!is_exact_v<S>, "softmax needs exp and log: use a floating scalar");
  append_token(c, x);
  const Mat<S> s = newest_logits(c, x.q);
  const index_t group = c.layout.HQ / c.layout.H;
  DecodeOutput<S> out{zeros<S>(c.layout.HQ, c.layout.Dv), Vec<S>::Constant(c.layout.HQ, S(0))};
  for (index_t hq = 0; hq < c.layout.HQ; ++hq)
    softmax_row<S>([&](index_t j) { return s(hq, j); }, s.cols(), c.values[static_cast<std::size_t>(hq / group)], out.o, hq,
                   out.lse(hq));
  return out;
}

// ---- prefill ----

// One at a time (the definition): k_j^(n-1) = H_{n-1} ... H_{j+1} k_j for rows j of k, w, beta.
template <class S>
Mat<S> prefill_keys_sequential(const Mat<S>& k, const Mat<S>& w, const Vec<S>& beta) {
  Mat<S> K(0, k.cols());
  for (index_t t = 0; t < k.rows(); ++t) {
    const Vec<S> proj = K * w.row(t).transpose();
    K.noalias() -= (beta(t) * proj) * w.row(t);
    detail::append_row<S>(K, k.row(t));
  }
  return K;
}

// Linear in n: block-adjusted keys times the suffix products M_m, kept as a D x D matrix.
template <class S>
Mat<S> prefill_keys(const Mat<S>& k, const Mat<S>& w, const Vec<S>& beta, index_t block_size) {
  if (block_size < 1) throw InvalidProblem("option 'block': block size must be at least 1, got " + std::to_string(block_size));
  const index_t n = k.rows(), D = k.cols();
  Mat<S> out(n, D);
  Mat<S> M = Mat<S>::Identity(D, D);  // M_m = P_{m+1} ... P_last, I for the last block
  const index_t blocks = (n + block_size - 1) / block_size;
  for (index_t m = blocks - 1; m >= 0; --m) {
    const index_t begin = m * block_size, size = std::min(block_size, n - begin);
    const Mat<S> km = k.middleRows(begin, size), wm = w.middleRows(begin, size);
    const Mat<S> A = compact_factor<S>(wm, beta.segment(begin, size));
    const Mat<S> k_adjusted = km - keys_dot_later_w<S>(km, wm) * A * wm;  // H_{e_m} ... H_{j+1} k_j
    out.middleRows(begin, size).noalias() = k_adjusted * M;
    const Mat<S> wM = wm * M;
    M.noalias() -= wm.transpose() * (A * wM);  // M_{m-1} = P_m M_m
  }
  return out;
}

// The cache after the first n tokens of a sequence of the problem (keys by prefill_keys).
template <class S>
DecodeCache<S> prefill_cache(const Problem<S>& p, const SequenceRange& seq, index_t n, index_t block_size) {
  const Shape& s = p.shape;
  DecodeCache<S> c = empty_cache<S>(layout_of(s), p.scale, p.gate_convention, p.has_gate());
  const SequenceRange prefix{seq.batch, seq.begin, n};
  c.gates = zeros<S>(n, s.HQ);
  for (index_t hq = 0; hq < s.HQ; ++hq) {
    const HeadSlice<S> h = extract_slice(p, prefix, hq);
    if (p.has_gate()) c.gates.col(hq) = cumulative_gate(h);
    if (hq % s.group_size() != 0) continue;  // the first query head of a group reads its kv head
    const std::size_t kv = static_cast<std::size_t>(s.kv_head_of(hq));
    c.keys[kv] = prefill_keys(h.k, h.w, h.beta, block_size);
    c.values[kv] = h.v;
  }
  return c;
}

// Token `pos` (absolute position in its batch row) of the problem, all heads.
template <class S>
DecodeToken<S> token_of(const Problem<S>& p, index_t batch, index_t pos) {
  const Shape& s = p.shape;
  DecodeToken<S> x{Mat<S>(s.HQ, s.D), Mat<S>(s.H, s.D), Mat<S>(s.H, s.D), Mat<S>(s.H, s.Dv), Vec<S>(s.H), Vec<S>()};
  if (p.has_gate()) x.g.resize(s.HQ);
  for (index_t hq = 0; hq < s.HQ; ++hq) {
    for (index_t d = 0; d < s.D; ++d) x.q(hq, d) = p.q[flat_index(batch, pos, hq, d, s.T, s.HQ, s.D)];
    if (p.has_gate()) x.g(hq) = p.g[flat_index(batch, pos, hq, 0, s.T, s.HQ, 1)];
  }
  for (index_t h = 0; h < s.H; ++h) {
    for (index_t d = 0; d < s.D; ++d) {
      x.k(h, d) = p.k[flat_index(batch, pos, h, d, s.T, s.H, s.D)];
      x.w(h, d) = p.w[flat_index(batch, pos, h, d, s.T, s.H, s.D)];
    }
    for (index_t d = 0; d < s.Dv; ++d) x.v(h, d) = p.v[flat_index(batch, pos, h, d, s.T, s.H, s.Dv)];
    x.beta(h) = p.beta[flat_index(batch, pos, h, 0, s.T, s.H, 1)];
  }
  return x;
}

// ---- a whole problem, token by token ----

struct DecodeOptions {
  index_t prefill = 0;           // tokens of each sequence taken by prefill (clamped to its length)
  ForwardOptions forward{};      // the oracle for the prefilled rows' outputs
  index_t prefill_block = 64;    // block size of prefill_keys
};

template <class S>
struct DecodeResult {
  Shape shape;
  std::vector<S> o;        // [B, T, HQ, Dv]: every step's output (prefilled rows: the forward's)
  std::vector<S> lse;      // [B, T, HQ]
  std::vector<S> k_cache;  // [B, T, H, D]: each sequence's cache after its last token
};

namespace detail {

template <class S>
void write_step(DecodeResult<S>& r, const DecodeOutput<S>& out, index_t batch, index_t pos) {
  const Shape& s = r.shape;
  for (index_t hq = 0; hq < s.HQ; ++hq) {
    for (index_t d = 0; d < s.Dv; ++d) r.o[flat_index(batch, pos, hq, d, s.T, s.HQ, s.Dv)] = out.o(hq, d);
    r.lse[flat_index(batch, pos, hq, 0, s.T, s.HQ, 1)] = out.lse(hq);
  }
}

// Outputs of the prefilled rows: the forward oracle on the prefix (causal, so these are the full
// pass's rows).
template <class S>
void write_prefix_outputs(DecodeResult<S>& r, const Problem<S>& p, const SequenceRange& prefix, const ForwardOptions& opt) {
  const Shape& s = r.shape;
  for (index_t hq = 0; hq < s.HQ; ++hq) store_head_output(r.o, r.lse, s, prefix, hq, head_forward(extract_slice(p, prefix, hq), opt));
}

template <class S>
void write_cache(DecodeResult<S>& r, const DecodeCache<S>& c, const SequenceRange& seq) {
  const Shape& s = r.shape;
  for (index_t h = 0; h < s.H; ++h)
    for (index_t t = 0; t < seq.length; ++t)
      for (index_t d = 0; d < s.D; ++d)
        r.k_cache[flat_index(seq.batch, seq.begin + t, h, d, s.T, s.H, s.D)] = c.keys[static_cast<std::size_t>(h)](t, d);
}

}  // namespace detail

// Runs every sequence of the problem through the cache: prefill of min(prefill, length) tokens,
// then one decode step per remaining token.
template <class S>
DecodeResult<S> decode(const Problem<S>& p, const DecodeOptions& opt = {}) {
  validate(p);
  check_options(opt.forward);
  const Shape& s = p.shape;
  if (opt.prefill < 0 || opt.prefill > s.T)
    throw InvalidProblem("option 'prefill': must be in [0, T = " + std::to_string(s.T) + "], got " +
                         std::to_string(opt.prefill));
  if (opt.prefill_block < 1)
    throw InvalidProblem("option 'block': prefill block size must be at least 1, got " + std::to_string(opt.prefill_block));
  DecodeResult<S> r{s, std::vector<S>(s.o_size(), S(0)), std::vector<S>(s.lse_size(), S(0)),
                    std::vector<S>(s.k_size(), S(0))};
  for (const SequenceRange& seq : sequences_of(s, p.cu_seqlens)) {
    const index_t n = std::min(opt.prefill, seq.length);
    DecodeCache<S> c = prefill_cache(p, seq, n, opt.prefill_block);
    if (n > 0) detail::write_prefix_outputs(r, p, {seq.batch, seq.begin, n}, opt.forward);
    for (index_t t = n; t < seq.length; ++t)
      detail::write_step(r, decode_step(c, token_of(p, seq.batch, seq.begin + t)), seq.batch, seq.begin + t);
    detail::write_cache(r, c, seq);
  }
  return r;
}

}  // namespace path
