// The same-precision baselines (docs/tolerance.md): forward by path::emulate_forward, backward and
// decode emulated here in fp32 with the roundings a plain kernel of the input precision makes.
#include <cmath>
#include <limits>

#include "path/backward.hpp"
#include "path/conformance/reference_outputs.hpp"
#include "path/decode.hpp"
#include "path/emulation.hpp"
#include "path/io/safetensors.hpp"

namespace path::conformance {

namespace {

std::vector<double> rounded(std::vector<double> xs, io::DType t) {
  for (double& x : xs) x = round_to(x, t);
  return xs;
}

template <class M>
void round_in_place(M& m, DType prec) {
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) m(i, j) = round_to(m(i, j), prec);
}

std::vector<double> widen(const std::vector<float>& xs) { return {xs.begin(), xs.end()}; }

// One row of emulate_forward's softmax: fp32 logits, max subtracted, probabilities rounded to the
// input type before the fp32 P*V accumulation, o rounded, lse in fp32.
void emulated_softmax_row(const Eigen::Ref<const Eigen::Matrix<float, 1, Eigen::Dynamic>>& s, const Mat<float>& v,
                          DType prec, Eigen::Ref<Eigen::Matrix<float, 1, Eigen::Dynamic>> o, float& lse) {
  float m = s(0);
  for (Eigen::Index j = 1; j < s.size(); ++j) m = std::max(m, s(j));
  float l = 0.0f;
  Eigen::Matrix<float, 1, Eigen::Dynamic> acc = Eigen::Matrix<float, 1, Eigen::Dynamic>::Zero(v.cols());
  for (Eigen::Index j = 0; j < s.size(); ++j) {
    const float p = std::exp(s(j) - m);
    l += p;
    acc += round_to(p, prec) * v.row(j);
  }
  for (Eigen::Index d = 0; d < v.cols(); ++d) o(d) = round_to(acc(d) / l, prec);
  lse = m + std::log(l);
}

// dg_t = sum_{i >= t} dG_i with dG_i = f (sum_j dS_ij - sum_k dS_ki), f = 1 (paper) or scale (fla),
// in fp32 from the unrounded dS (docs/backward.md section 2; written out here so the baseline uses
// only the public raw_logit_backward layer of the oracle).
Vec<float> emulated_gate_gradient(const HeadSlice<float>& h, const Mat<float>& dS) {
  const index_t L = h.length();
  const float factor = h.gate_convention == GateConvention::paper ? 1.0f : h.scale;
  Vec<float> dG = Vec<float>::Zero(L);
  for (index_t i = 0; i < L; ++i)
    for (index_t j = 0; j <= i; ++j) {
      dG(i) += factor * dS(i, j);
      dG(j) -= factor * dS(i, j);
    }
  Vec<float> dg = Vec<float>::Zero(L);
  float suffix = 0.0f;
  for (index_t t = L - 1; t >= 0; --t) {
    suffix += dG(t);
    dg(t) = suffix;
  }
  return dg;
}

}  // namespace

std::string baseline_description(const CaseSpec& spec) {
  std::string s = "same-precision emulation family (" + std::string(dtype_label(spec.dtype)) +
                  " inputs, fp32 arithmetic, probabilities rounded to the input type): emulate_forward";
  if (spec.gradients) s += ", emulated_backward";
  if (spec.mode == Mode::decode) s += ", emulated_decode";
  return s + "; and three more members in other summation orders, blockwise or naive forward logits, fp32 or "
             "rounded P and dS (baseline_family)";
}

OutputValues emulated_backward(const CaseInput& in) {
  const CaseSpec& spec = in.spec;
  const DType prec = spec.dtype;
  const Problem<double>& pd = in.problem;
  validate(pd);
  validate_output_gradient(pd, in.dO);
  Problem<float> p = convert_problem<float>(pd);
  for (auto* t : {&p.q, &p.k, &p.v})
    for (float& x : *t) x = round_to(x, prec);
  std::vector<float> dO(in.dO.begin(), in.dO.end());
  for (float& x : dO) x = round_to(x, prec);
  const Shape& s = p.shape;
  BackwardResult<float> r{s,
                          std::vector<float>(s.q_size(), 0.0f),
                          std::vector<float>(s.k_size(), 0.0f),
                          std::vector<float>(s.v_size(), 0.0f),
                          std::vector<float>(s.k_size(), 0.0f),
                          std::vector<float>(s.beta_size(), 0.0f),
                          std::vector<float>(p.has_gate() ? s.g_size() : 0, 0.0f)};
  for (const SequenceRange& seq : sequences_of(s, p.cu_seqlens)) {
    if (seq.length == 0) continue;
    const index_t L = seq.length;
    for (index_t hq = 0; hq < s.HQ; ++hq) {
      const HeadSlice<float> h = extract_slice(p, seq, hq);
      const Mat<float> dOh = detail::head_rows(dO, s, seq, hq, s.HQ, s.Dv);
      const Mat<float> logits = final_logits(h, naive_raw_logits(h));
      const HeadOutput<float> out = detail::emulated_softmax(logits, h.v, prec);  // o rounded, lse fp32
      Mat<float> P = zeros<float>(L, L), P_rounded = zeros<float>(L, L);
      for (index_t i = 0; i < L; ++i)
        for (index_t j = 0; j <= i; ++j) {
          P(i, j) = std::exp(logits(i, j) - out.lse(i));
          P_rounded(i, j) = round_to(P(i, j), prec);
        }
      HeadGradients<float> g;
      g.dv = P_rounded.transpose() * dOh;
      const Mat<float> dP = dOh * h.v.transpose();
      Mat<float> dS = zeros<float>(L, L), dr = zeros<float>(L, L);
      for (index_t i = 0; i < L; ++i) {
        const float delta = dOh.row(i).dot(out.o.row(i));
        for (index_t j = 0; j <= i; ++j) {
          dS(i, j) = P(i, j) * (dP(i, j) - delta);
          dr(i, j) = h.scale * round_to(dS(i, j), prec);
        }
      }
      RawLogitGradients<float> raw = raw_logit_backward(h, dr);
      g.dq = std::move(raw.dq);
      g.dk = std::move(raw.dk);
      g.dw = std::move(raw.dw);
      g.dbeta = std::move(raw.dbeta);
      if (h.has_gate()) g.dg = emulated_gate_gradient(h, dS);
      detail::accumulate_head(r, g, seq, hq);
    }
  }
  OutputValues o;
  o["dq"] = rounded(widen(r.dq), output_dtype(spec, "dq"));
  o["dk"] = rounded(widen(r.dk), output_dtype(spec, "dk"));
  o["dv"] = rounded(widen(r.dv), output_dtype(spec, "dv"));
  o["dw"] = rounded(widen(r.dw), output_dtype(spec, "dw"));
  o["dbeta"] = rounded(widen(r.dbeta), output_dtype(spec, "dbeta"));
  if (spec.gated) o["dg"] = rounded(widen(r.dg), output_dtype(spec, "dg"));
  return o;
}

namespace {

// emulated_decode, with the prefix's keys carried to the cache either one H at a time (the
// definition, emulated_decode: prefill_block 0) or by the blockwise prefill (prefill_keys with
// that block) in fp32. score_unrounded: token t's logits from the fp32 keys k_j^(t) before the cache
// is rounded to the input type (what both GPU step kernels do: the fused step scores the key in its
// fp32 registers and rounds it only when storing it, the plain step scores the rounded k_j^(t-1)
// against H_t q_t); otherwise from the rounded cache (the definition: the cache lives in the input
// type). The two differ by one input-type rounding of every key at every step. chunk: the cache is
// rounded after every `chunk` new tokens of a sequence (and after its last), as a chunk step rounds
// it once per chunk; the tokens inside a chunk are scored from the fp32 keys.
OutputValues emulated_decode_with(const CaseInput& in, index_t prefill_block, bool score_unrounded = false,
                                  index_t chunk = 1);

}  // namespace

OutputValues emulated_decode(const CaseInput& in) { return emulated_decode_with(in, 0); }

namespace {

OutputValues emulated_decode_with(const CaseInput& in, index_t prefill_block, bool score_unrounded, index_t chunk) {
  const CaseSpec& spec = in.spec;
  const DType prec = spec.dtype;
  const ForwardResult<double> fwd = emulate_forward(in.problem, prec);  // the prefilled rows
  Problem<float> p = convert_problem<float>(in.problem);
  for (auto* t : {&p.q, &p.k, &p.v})
    for (float& x : *t) x = round_to(x, prec);
  const Shape& s = p.shape;
  OutputValues out;
  std::vector<double> o(s.o_size(), 0.0), lse(s.lse_size(), 0.0), cache(s.k_size(), 0.0);
  const index_t group = s.group_size();
  for (const SequenceRange& seq : sequences_of(s, p.cu_seqlens)) {
    const index_t n = std::min(spec.prefill_length, seq.length);
    const bool blockwise = prefill_block > 0 && n > 0;
    DecodeCache<float> c = blockwise ? prefill_cache(p, seq, n, prefill_block)
                                     : empty_cache<float>(layout_of(s), p.scale, p.gate_convention, p.has_gate());
    if (blockwise)
      for (auto& K : c.keys) round_in_place(K, prec);
    for (index_t t = 0; t < seq.length; ++t) {
      const index_t pos = seq.begin + t;
      const DecodeToken<float> x = token_of(p, seq.batch, pos);
      if (!blockwise || t >= n) append_token(c, x);  // H_t on every cached key in fp32, then k_t appended
      if (t < n) {         // prefill: fp32 until the prefix is done, then the cache is stored
        for (index_t hq = 0; hq < s.HQ; ++hq) {
          for (index_t d = 0; d < s.Dv; ++d)
            o[flat_index(seq.batch, pos, hq, d, s.T, s.HQ, s.Dv)] = fwd.o[flat_index(seq.batch, pos, hq, d, s.T, s.HQ, s.Dv)];
          lse[flat_index(seq.batch, pos, hq, 0, s.T, s.HQ, 1)] = fwd.lse[flat_index(seq.batch, pos, hq, 0, s.T, s.HQ, 1)];
        }
        if (t + 1 == n && !blockwise)
          for (auto& K : c.keys) round_in_place(K, prec);
        continue;
      }
      // The cache lives in the input type: rounded at the end of every chunk (one token by default).
      const bool chunk_ends = (t - n + 1) % chunk == 0 || t + 1 == seq.length;
      Mat<float> logits;
      if (score_unrounded || !chunk_ends) logits = newest_logits(c, x.q);
      if (chunk_ends)
        for (auto& K : c.keys) round_in_place(K, prec);
      if (!score_unrounded && chunk_ends) logits = newest_logits(c, x.q);
      for (index_t hq = 0; hq < s.HQ; ++hq) {
        Eigen::Matrix<float, 1, Eigen::Dynamic> orow(s.Dv);
        float l = 0;
        emulated_softmax_row(logits.row(hq), c.values[static_cast<std::size_t>(hq / group)], prec, orow, l);
        for (index_t d = 0; d < s.Dv; ++d) o[flat_index(seq.batch, pos, hq, d, s.T, s.HQ, s.Dv)] = orow(d);
        lse[flat_index(seq.batch, pos, hq, 0, s.T, s.HQ, 1)] = l;
      }
    }
    for (index_t h = 0; h < s.H; ++h)
      for (index_t t = 0; t < seq.length; ++t)
        for (index_t d = 0; d < s.D; ++d)
          cache[flat_index(seq.batch, seq.begin + t, h, d, s.T, s.H, s.D)] = c.keys[static_cast<std::size_t>(h)](t, d);
  }
  out["o"] = std::move(o);
  out["lse"] = std::move(lse);
  out["k_cache"] = std::move(cache);
  return out;
}

}  // namespace

namespace {

// A summation order: which stored dimension the kernel visits at position d, as a permutation
// perm[d] of 0..n-1 applied to q, k, w (over D) and v, do (over Dv). Every logit is a sum of
// products over d, so the problem is the same one; only the order of every dot product's
// summation changes.
enum class Order { natural, reversed, interleaved, rotated_by_one };

std::vector<std::size_t> permutation(Order order, index_t dim) {
  const auto n = static_cast<std::size_t>(dim);
  std::vector<std::size_t> p(n);
  for (std::size_t d = 0; d < n; ++d) {
    switch (order) {
      case Order::natural: p[d] = d; break;
      case Order::reversed: p[d] = n - 1 - d; break;
      case Order::interleaved: p[d] = d < (n + 1) / 2 ? 2 * d : 2 * (d - (n + 1) / 2) + 1; break;  // evens, then odds
      case Order::rotated_by_one: p[d] = (d + 1) % n; break;
    }
  }
  return p;
}

// y[..., d] = x[..., perm[d]] (forward) or y[..., perm[d]] = x[..., d] (back).
std::vector<double> permuted(const std::vector<double>& x, Order order, index_t dim, bool back) {
  const std::vector<std::size_t> p = permutation(order, dim);
  const std::size_t n = p.size();
  std::vector<double> r(x.size());
  for (std::size_t row = 0; row < x.size() / n; ++row)
    for (std::size_t d = 0; d < n; ++d) {
      if (back) r[row * n + p[d]] = x[row * n + d];
      else r[row * n + d] = x[row * n + p[d]];
    }
  return r;
}

CaseInput permuted_features(const CaseInput& in, Order order) {
  CaseInput r = in;
  const Shape& s = in.spec.shape;
  r.problem.q = permuted(in.problem.q, order, s.D, false);
  r.problem.k = permuted(in.problem.k, order, s.D, false);
  r.problem.w = permuted(in.problem.w, order, s.D, false);
  r.problem.v = permuted(in.problem.v, order, s.Dv, false);
  if (!in.dO.empty()) r.dO = permuted(in.dO, order, s.Dv, false);
  return r;
}

void permute_back(const CaseSpec& spec, Order order, OutputValues& r) {
  for (auto& [name, x] : r) {
    if (name == "o" || name == "dv") x = permuted(x, order, spec.shape.Dv, true);
    if (name == "dq" || name == "dk" || name == "dw" || name == "k_cache") x = permuted(x, order, spec.shape.D, true);
  }
}

// Sum of x[i] * y[i] by halves (a tree, as a warp reduction sums): another order than a loop's.
float pairwise_dot(const float* x, const float* y, index_t n) {
  if (n == 1) return x[0] * y[0];
  const index_t h = n / 2;
  return pairwise_dot(x, y, h) + pairwise_dot(x + h, y + h, n - h);
}

// How a member of the family (past the first) computes a prefill case; see reference_outputs.hpp.
struct Design {
  Order order;                // how every dot product is summed
  Algorithm forward_logits;   // the forward's raw logits: blockwise (block `block`) or naive, in fp32
  index_t block;              // block of the blockwise logits and prefill, tile of the online softmax
  bool online_softmax;        // the forward's softmax by tiles of `block` keys with a running maximum
  bool right_to_left;         // the online softmax visits the tiles from the diagonal leftwards (as
                              // the blockwise algorithm's scan does), not from key 0
  bool round_forward_p;       // probabilities rounded to the input type before P*V
  bool round_intermediates;   // P (for dv) and dS (for dq, dk, dw, dbeta) rounded to the input type
  bool blockwise_prefill;     // decode: the prefix's keys by the blockwise prefill, not one H at a time
};

// FlashAttention's online softmax in fp32 over tiles of keys: running maximum m, sum l and
// accumulator rescaled by exp(m_old - m_new) at every tile; probabilities exp(s - m) rounded to
// the input type before P*V when round_p; o = acc / l rounded, lse = m + log(l) in fp32. Tiles
// are aligned to multiples of `tile` and visited from key 0 or from the diagonal leftwards.
HeadOutput<float> online_softmax(const Mat<float>& s, const Mat<float>& v, DType prec, bool round_p, index_t tile,
                                 bool right_to_left) {
  const index_t L = s.rows();
  HeadOutput<float> out{zeros<float>(L, v.cols()), Vec<float>::Zero(L)};
  for (index_t i = 0; i < L; ++i) {
    float m = -std::numeric_limits<float>::infinity(), l = 0.0f;
    const index_t tiles = i / tile + 1;
    for (index_t k = 0; k < tiles; ++k) {
      const index_t j0 = (right_to_left ? tiles - 1 - k : k) * tile;
      const index_t j1 = std::min(i + 1, j0 + tile);
      float m_new = m;
      for (index_t j = j0; j < j1; ++j) m_new = std::max(m_new, s(i, j));
      const float rescale = std::exp(m - m_new);  // 0 at the first tile
      l *= rescale;
      out.o.row(i) *= rescale;
      for (index_t j = j0; j < j1; ++j) {
        const float p = std::exp(s(i, j) - m_new);
        l += p;
        out.o.row(i) += (round_p ? static_cast<float>(round_to(p, prec)) : p) * v.row(j);
      }
      m = m_new;
    }
    for (index_t d = 0; d < v.cols(); ++d) out.o(i, d) = round_to(out.o(i, d) / l, prec);
    out.lse(i) = m + std::log(l);
  }
  return out;
}

// The plain kernel's softmax with the probabilities kept in fp32 for P*V (o rounded, lse fp32).
HeadOutput<float> fp32_softmax(const Mat<float>& s, const Mat<float>& v, DType prec) {
  const index_t L = s.rows();
  HeadOutput<float> out{zeros<float>(L, v.cols()), Vec<float>::Zero(L)};
  for (index_t i = 0; i < L; ++i) {
    float m = s(i, 0);
    for (index_t j = 1; j <= i; ++j) m = std::max(m, s(i, j));
    float l = 0.0f;
    for (index_t j = 0; j <= i; ++j) {
      const float p = std::exp(s(i, j) - m);
      l += p;
      out.o.row(i) += p * v.row(j);
    }
    for (index_t d = 0; d < v.cols(); ++d) out.o(i, d) = round_to(out.o(i, d) / l, prec);
    out.lse(i) = m + std::log(l);
  }
  return out;
}

// One member on (already permuted) inputs: forward with the plain kernel's softmax (probabilities
// rounded to the input type before P*V, o rounded, lse fp32); backward with the logits
// recomputed by the naive products, P = exp(s - lse) with the forward's lse, Delta =
// rowsum(dO * O) over the returned O by a tree reduction, dP = dO . v by a loop, dg from dS in
// fp32.
OutputValues member_prefill(const CaseInput& in, const Design& design) {
  const CaseSpec& spec = in.spec;
  const DType prec = spec.dtype;
  validate(in.problem);
  Problem<float> p = detail::rounded_inputs(in.problem, prec);
  const Shape& s = p.shape;
  std::vector<double> o(s.o_size(), 0.0), lse(s.lse_size(), 0.0);
  std::vector<float> dO;
  if (spec.gradients) {
    validate_output_gradient(in.problem, in.dO);
    dO.assign(in.dO.begin(), in.dO.end());
    for (float& x : dO) x = round_to(x, prec);
  }
  BackwardResult<float> r{s,
                          std::vector<float>(s.q_size(), 0.0f),
                          std::vector<float>(s.k_size(), 0.0f),
                          std::vector<float>(s.v_size(), 0.0f),
                          std::vector<float>(s.k_size(), 0.0f),
                          std::vector<float>(s.beta_size(), 0.0f),
                          std::vector<float>(p.has_gate() ? s.g_size() : 0, 0.0f)};
  const auto operand = [&](float x) { return design.round_intermediates ? static_cast<float>(round_to(x, prec)) : x; };
  for (const SequenceRange& seq : sequences_of(s, p.cu_seqlens)) {
    if (seq.length == 0) continue;
    const index_t L = seq.length;
    for (index_t hq = 0; hq < s.HQ; ++hq) {
      const HeadSlice<float> h = extract_slice(p, seq, hq);
      const Mat<float> raw =
          design.forward_logits == Algorithm::blockwise ? blockwise_raw_logits(h, design.block) : naive_raw_logits(h);
      const Mat<float> s_fwd = final_logits(h, raw);
      const HeadOutput<float> fwd = design.online_softmax
                                        ? online_softmax(s_fwd, h.v, prec, design.round_forward_p, design.block,
                                                         design.right_to_left)
                                    : design.round_forward_p ? detail::emulated_softmax(s_fwd, h.v, prec)
                                                             : fp32_softmax(s_fwd, h.v, prec);
      store_head_output(o, lse, s, seq, hq, fwd);
      if (!spec.gradients) continue;
      const Mat<float> dOh = detail::head_rows(dO, s, seq, hq, s.HQ, s.Dv);
      const Mat<float> logits = final_logits(h, naive_raw_logits(h));
      HeadGradients<float> g;
      g.dv = zeros<float>(L, s.Dv);
      CausalArray<float> dS(L);
      Mat<float> dr = zeros<float>(L, L);
      for (index_t i = 0; i < L; ++i) {
        const float delta = pairwise_dot(&dOh(i, 0), &fwd.o(i, 0), s.Dv);
        for (index_t j = 0; j <= i; ++j) {
          const float P = std::exp(logits(i, j) - fwd.lse(i));
          float dP = 0.0f;
          for (index_t d = 0; d < s.Dv; ++d) dP += dOh(i, d) * h.v(j, d);
          dS(i, j) = P * (dP - delta);
          dr(i, j) = h.scale * operand(dS(i, j));
          g.dv.row(j) += operand(P) * dOh.row(i);
        }
      }
      RawLogitGradients<float> raw_g = raw_logit_backward(h, dr);
      g.dq = std::move(raw_g.dq);
      g.dk = std::move(raw_g.dk);
      g.dw = std::move(raw_g.dw);
      g.dbeta = std::move(raw_g.dbeta);
      if (h.has_gate()) g.dg = gate_gradient(h, dS);
      detail::accumulate_head(r, g, seq, hq);
    }
  }
  OutputValues out;
  out["o"] = std::move(o);
  out["lse"] = std::move(lse);
  if (spec.gradients) {
    out["dq"] = rounded(widen(r.dq), output_dtype(spec, "dq"));
    out["dk"] = rounded(widen(r.dk), output_dtype(spec, "dk"));
    out["dv"] = rounded(widen(r.dv), output_dtype(spec, "dv"));
    out["dw"] = rounded(widen(r.dw), output_dtype(spec, "dw"));
    out["dbeta"] = rounded(widen(r.dbeta), output_dtype(spec, "dbeta"));
    if (spec.gated) out["dg"] = rounded(widen(r.dg), output_dtype(spec, "dg"));
  }
  return out;
}

OutputValues member(const CaseInput& in, const Design& design) {
  const CaseInput permuted_input = permuted_features(in, design.order);
  // Decode: the online_softmax column (unused by a decode step, whose softmax is one row) chooses
  // whether token t is scored before the cache is rounded (see emulated_decode_with).
  OutputValues r = in.spec.mode == Mode::decode
                       ? emulated_decode_with(permuted_input, design.blockwise_prefill ? design.block : 0,
                                              design.online_softmax)
                       : member_prefill(permuted_input, design);
  permute_back(in.spec, design.order, r);
  return r;
}

// Members 2 to 16 (reference_outputs.hpp): order, forward logits, block, online softmax, its
// tiles right to left, P rounded before P*V, P and dS rounded in the backward, blockwise prefill.
// Every order meets every choice of every other column at least once.
const Design kMembers[] = {
    {Order::reversed, Algorithm::blockwise, 16, false, false, true, false, true},
    {Order::interleaved, Algorithm::blockwise, 16, true, true, true, true, false},
    {Order::rotated_by_one, Algorithm::naive, 16, true, false, false, false, true},
    {Order::reversed, Algorithm::blockwise, 8, true, true, false, false, true},
    {Order::interleaved, Algorithm::blockwise, 64, true, false, true, true, true},
    {Order::natural, Algorithm::blockwise, 128, true, false, false, false, true},
    {Order::rotated_by_one, Algorithm::blockwise, 128, false, false, true, true, true},
    {Order::natural, Algorithm::blockwise, 8, false, false, true, true, false},
    {Order::natural, Algorithm::naive, 16, true, true, true, false, true},
    {Order::reversed, Algorithm::naive, 16, false, false, false, true, false},
    {Order::reversed, Algorithm::blockwise, 64, true, true, true, true, true},
    {Order::interleaved, Algorithm::naive, 16, false, false, false, false, true},
    {Order::interleaved, Algorithm::blockwise, 8, false, false, false, true, false},
    {Order::rotated_by_one, Algorithm::blockwise, 16, true, true, false, true, false},
    {Order::rotated_by_one, Algorithm::blockwise, 64, false, false, true, false, true},
};

// Decode members that round the cache once per chunk of new tokens, as a chunk step does
// (docs/tolerance.md, "A family of baselines"): a kernel that rounds elsewhere than every member
// makes errors independent of all of theirs, and where every member happened to err little it
// looked 2-3x worse (tests/data/decode-chunk-2026-12-02: the plain chunk step on an fp16 case, lse).
// Chunk lengths 2, 3, 4 and 8 put rounding points where chunk steps of any length put theirs.
struct ChunkedDecode {
  Order order;
  index_t chunk;
  bool score_unrounded;
};
const ChunkedDecode kChunkedDecodeMembers[] = {
    {Order::natural, 2, true}, {Order::reversed, 3, false}, {Order::interleaved, 4, true}, {Order::rotated_by_one, 8, false}};

OutputValues chunked_decode_member(const CaseInput& in, const ChunkedDecode& m) {
  OutputValues r = emulated_decode_with(permuted_features(in, m.order), 0, m.score_unrounded, m.chunk);
  permute_back(in.spec, m.order, r);
  return r;
}

}  // namespace

std::vector<OutputValues> baseline_family(const CaseInput& in) {
  std::vector<OutputValues> family{baseline_outputs(in)};
  for (const Design& d : kMembers) family.push_back(member(in, d));
  if (in.spec.mode == Mode::decode) {
    // Every decode row is the forward's row (docs/decode.md (1)), and a step that carries the
    // transformations on the query (the plain GPU step) computes its logits as the forward does:
    // the forward members' o and lse are a correct decode's too. Without them the decode family
    // differs only in summation order and can be lucky together: in fp32 every member put two
    // nearly equal logits on the same side of their fp32 rounding, and a correct kernel that did
    // not was 11x the family's error (tests/data/gpu-fuzz-2026-12-02-c/fp32). k_cache: member 1's.
    for (const ChunkedDecode& m : kChunkedDecodeMembers) family.push_back(chunked_decode_member(in, m));
    const std::vector<double> k_cache = family.front().at("k_cache");
    CaseInput forward_case = in;
    forward_case.spec.mode = Mode::prefill;
    const std::size_t decode_members = family.size();
    {
      const ForwardResult<double> f = emulate_forward(in.problem, in.spec.dtype);
      family.push_back(OutputValues{});
      family.back()["o"] = f.o;
      family.back()["lse"] = f.lse;
    }
    for (const Design& d : kMembers) {
      CaseInput p = permuted_features(forward_case, d.order);
      OutputValues r = member_prefill(p, d);
      permute_back(forward_case.spec, d.order, r);
      family.push_back(OutputValues{});
      family.back()["o"] = std::move(r.at("o"));
      family.back()["lse"] = std::move(r.at("lse"));
    }
    for (std::size_t i = decode_members; i < family.size(); ++i) family[i]["k_cache"] = k_cache;
  }
  return family;
}

OutputValues baseline_outputs(const CaseInput& in) {
  const CaseSpec& spec = in.spec;
  if (spec.mode == Mode::decode) return emulated_decode(in);
  const ForwardResult<double> f = emulate_forward(in.problem, spec.dtype);
  OutputValues out;
  out["o"] = f.o;
  out["lse"] = f.lse;
  if (spec.gradients) out.merge(emulated_backward(in));
  return out;
}

}  // namespace path::conformance

namespace path::conformance {

namespace {

double norm2(const double* x, index_t n) {
  double s = 0;
  for (index_t i = 0; i < n; ++i) s += x[i] * x[i];
  return std::sqrt(s);
}

double norm_inf(const double* x, index_t n) {
  double m = 0;
  for (index_t i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

}  // namespace

// Row scales (docs/tolerance.md, "Row scales"), in double on the stored inputs: the terms that
// make a row, added in quadrature (the size of a sum of rounding errors of random sign). Norms
// bound the transformed keys and queries: ||H_t||_2 = max(1, |1 - beta_t ||w_t||^2|), so a
// product of H's over a segment has norm at most nu = prod_t max(1, ||H_t||) (nu = 1 for unit
// or zero w and beta in [0, 2], as in every suite).
OutputValues row_scales(const CaseInput& in) {
  const CaseSpec& spec = in.spec;
  const Problem<double>& p = in.problem;
  validate(p);
  const Shape& s = p.shape;
  OutputValues sq;  // per output and row: the sum of the squares of its terms
  const auto per = [&](const char* name, index_t heads) { sq[name].assign(static_cast<std::size_t>(s.B * s.T * heads), 0.0); };
  per("o", s.HQ);
  per("lse", s.HQ);
  if (spec.mode == Mode::decode) per("k_cache", s.H);
  if (spec.gradients) {
    validate_output_gradient(p, in.dO);
    per("dq", s.HQ);
    for (const char* n : {"dk", "dv", "dw", "dbeta"}) per(n, s.H);
    if (spec.gated) per("dg", s.HQ);
  }
  const double scale = std::fabs(p.scale);
  // A probability a kernel rounds to the input type (before P*V, as a GEMM operand) keeps its
  // relative precision only down to the smallest normal number of that type (2^-14 in fp16):
  // below it the rounding error is absolute, so the term counts at that size.
  const double smallest_normal = std::ldexp(1.0, min_normal_exponent(spec.dtype));
  const auto rounded_p = [&](double P) { return std::max(P, smallest_normal); };
  for (const SequenceRange& seq : sequences_of(s, p.cu_seqlens)) {
    if (seq.length == 0) continue;
    const index_t L = seq.length;
    const auto row = [&](index_t t, index_t head, index_t heads) {
      return static_cast<std::size_t>(flat_index(seq.batch, seq.begin + t, head, 0, s.T, heads, 1));
    };
    // One term x of the row's sum.
    const auto add = [&](const char* name, std::size_t r, double x) { sq[name][r] += x * x; };
    for (index_t hq = 0; hq < s.HQ; ++hq) {
      const index_t kv = s.kv_head_of(hq);
      const HeadSlice<double> h = extract_slice(p, seq, hq);
      double nu = 1;
      for (index_t t = 0; t < L; ++t) nu *= std::max(1.0, std::fabs(1.0 - h.beta(t) * h.w.row(t).squaredNorm()));
      if (!std::isfinite(nu))
        throw std::runtime_error("case " + spec.name + ": the Householder factors' norms overflow (no tolerance scale)");
      std::vector<double> qn(L), kn(L), wn(L), vinf(L), doinf(L);
      for (index_t t = 0; t < L; ++t) {
        qn[t] = norm2(&h.q(t, 0), s.D);
        kn[t] = norm2(&h.k(t, 0), s.D);
        wn[t] = norm2(&h.w(t, 0), s.D);
        vinf[t] = norm_inf(&h.v(t, 0), s.Dv);
      }
      const Mat<double> logits = final_logits(h, naive_raw_logits(h));
      const Vec<double> G = cumulative_gate(h);
      const double gate_factor = h.gate_convention == GateConvention::paper ? 1.0 : scale;
      Mat<double> P = zeros<double>(L, L);
      for (index_t i = 0; i < L; ++i) {
        double m = logits(i, 0);
        for (index_t j = 1; j <= i; ++j) m = std::max(m, logits(i, j));
        double l = 0;
        for (index_t j = 0; j <= i; ++j) l += (P(i, j) = std::exp(logits(i, j) - m));
        for (index_t j = 0; j <= i; ++j) {
          P(i, j) /= l;
          add("o", row(i, hq, s.HQ), rounded_p(P(i, j)) * vinf[j]);
          // the logit's own magnitude (scaled dot product, gate) and 1 for the log of the sum
          add("lse", row(i, hq, s.HQ),
              P(i, j) * (scale * nu * kn[j] * qn[i] + gate_factor * std::fabs(G(i) - G(j)) + 1));
        }
      }
      if (spec.mode == Mode::decode && hq % s.group_size() == 0)
        for (index_t j = 0; j < L; ++j) add("k_cache", row(j, kv, s.H), nu * kn[j]);
      if (!spec.gradients) continue;
      // dS^abs_ij = P_ij (sum_d |dO_id v_jd| + sum_d |dO_id o_id|): the two sums whose difference is
      // dP_ij - Delta_i, each at the size of its terms (the cancellation behind exact zeros).
      const Mat<double> dO = detail::head_rows(in.dO, s, seq, hq, s.HQ, s.Dv);
      for (index_t t = 0; t < L; ++t) doinf[t] = norm_inf(&dO(t, 0), s.Dv);
      const Mat<double> o = P * h.v;
      Mat<double> dSabs = zeros<double>(L, L);
      for (index_t i = 0; i < L; ++i) {
        double delta_abs = 0;
        for (index_t d = 0; d < s.Dv; ++d) delta_abs += std::fabs(dO(i, d) * o(i, d));
        for (index_t j = 0; j <= i; ++j) {
          double dp_abs = 0;
          for (index_t d = 0; d < s.Dv; ++d) dp_abs += std::fabs(dO(i, d) * h.v(j, d));
          dSabs(i, j) = rounded_p(P(i, j)) * (dp_abs + delta_abs);
        }
      }
      // dq_i = scale sum_j dS_ij a_j, dk_j = scale sum_i dS_ij b_i, dv_j = sum_i P_ij dO_i.
      for (index_t i = 0; i < L; ++i)
        for (index_t j = 0; j <= i; ++j) {
          add("dq", row(i, hq, s.HQ), scale * nu * dSabs(i, j) * kn[j]);
          add("dk", row(j, kv, s.H), scale * nu * dSabs(i, j) * qn[i]);
          add("dv", row(j, kv, s.H), rounded_p(P(i, j)) * doinf[i]);
        }
      // dw_t and dbeta_t: the pairs j <= t <= i whose path passes position t (j = t included: the
      // pair a kernel masks out at a sequence start), each scale dS^abs_ij ||a|| ||b|| times
      // 2 |beta_t| ||w_t|| (dw) or ||w_t||^2 (dbeta).
      for (index_t t = 0; t < L; ++t)
        for (index_t i = t; i < L; ++i)
          for (index_t j = 0; j <= t; ++j) {
            const double pair = scale * nu * nu * dSabs(i, j) * kn[j] * qn[i];
            add("dw", row(t, kv, s.H), 2 * std::fabs(h.beta(t)) * wn[t] * pair);
            add("dbeta", row(t, kv, s.H), wn[t] * wn[t] * pair);
          }
      // dg_t = f sum_{i >= t} (sum_j dS_ij - sum_k dS_ki): one term per i (its row and column sums
      // share the Delta_i residue, so they add as magnitudes).
      if (spec.gated) {
        std::vector<double> rowcol(L, 0.0);
        for (index_t i = 0; i < L; ++i)
          for (index_t j = 0; j <= i; ++j) {
            rowcol[i] += dSabs(i, j);
            rowcol[j] += dSabs(i, j);
          }
        for (index_t t = 0; t < L; ++t)
          for (index_t i = t; i < L; ++i) add("dg", row(t, hq, s.HQ), gate_factor * rowcol[i]);
      }
    }
  }
  for (auto& [name, v] : sq)
    for (double& x : v) x = std::sqrt(x);
  return sq;
}

}  // namespace path::conformance

namespace path::conformance {

// gamma's n per output (docs/tolerance.md, "The arithmetic floor"): the number of fp32 roundings
// an element of a one-token problem goes through -- the computation a baseline can get exactly
// right by luck, or exactly zero by cancellation -- as a dot product of n terms rounds n times:
// o and dv one product and one division or none (2); lse the logit, a D-term dot product, scaled
// and gated (D + 2); k_cache one Householder step, a D-term dot product, a scaling and a
// subtraction (D + 3); dq, dk, dw, dbeta and dg the difference dP - Delta of two Dv-term dot
// products, then P times it and the scale (Dv + 2).
int gamma_terms(const CaseSpec& spec, std::string_view output) {
  const Shape& s = spec.shape;
  if (output == "o" || output == "dv") return 2;
  if (output == "lse") return static_cast<int>(s.D) + 2;
  if (output == "k_cache") return static_cast<int>(s.D) + 3;
  return static_cast<int>(s.Dv) + 2;
}

std::map<std::string, Tolerance> case_tolerances(const CaseInput& input, const OutputValues& expected,
                                                 const ToleranceModel& model) {
  ToleranceModel m = model;
  if (!m.c) m.c = default_c(input.spec.dtype);
  const std::vector<OutputValues> family = baseline_family(input);
  const OutputValues scales = row_scales(input);
  std::map<std::string, Tolerance> t;
  for (const std::string& name : output_names(input.spec)) {
    std::vector<std::vector<double>> baselines;
    for (const OutputValues& member : family) {
      baselines.push_back(member.at(name));
      for (double x : baselines.back())
        if (!std::isfinite(x))
          throw std::runtime_error("case " + input.spec.name + ": the " + std::string(dtype_label(input.spec.dtype)) +
                                   " baseline's " + name + " is not finite (inputs too extreme for the dtype)");
    }
    t[name] = make_tolerance(expected.at(name), baselines, scales.at(name),
                             row_length(output_shape(input.spec, name)), gamma_terms(input.spec, name),
                             output_dtype(input.spec, name), m);
  }
  return t;
}

}  // namespace path::conformance
