// The same-precision baselines (docs/tolerance.md): forward by path::emulate_forward, backward and
// decode emulated here in fp32 with the roundings a plain kernel of the input precision makes.
#include <cmath>

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
  std::string s = "same-precision emulation (" + std::string(dtype_label(spec.dtype)) +
                  " inputs, fp32 arithmetic, probabilities rounded to the input type): emulate_forward";
  if (spec.gradients) s += ", emulated_backward";
  if (spec.mode == Mode::decode) s += ", emulated_decode";
  return s;
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

OutputValues emulated_decode(const CaseInput& in) {
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
    DecodeCache<float> c = empty_cache<float>(layout_of(s), p.scale, p.gate_convention, p.has_gate());
    for (index_t t = 0; t < seq.length; ++t) {
      const index_t pos = seq.begin + t;
      const DecodeToken<float> x = token_of(p, seq.batch, pos);
      append_token(c, x);  // H_t on every cached key in fp32, then k_t appended
      if (t < n) {         // prefill: fp32 until the prefix is done, then the cache is stored
        for (index_t hq = 0; hq < s.HQ; ++hq) {
          for (index_t d = 0; d < s.Dv; ++d)
            o[flat_index(seq.batch, pos, hq, d, s.T, s.HQ, s.Dv)] = fwd.o[flat_index(seq.batch, pos, hq, d, s.T, s.HQ, s.Dv)];
          lse[flat_index(seq.batch, pos, hq, 0, s.T, s.HQ, 1)] = fwd.lse[flat_index(seq.batch, pos, hq, 0, s.T, s.HQ, 1)];
        }
        if (t + 1 == n)
          for (auto& K : c.keys) round_in_place(K, prec);
        continue;
      }
      for (auto& K : c.keys) round_in_place(K, prec);  // the cache lives in the input type
      const Mat<float> logits = newest_logits(c, x.q);
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
