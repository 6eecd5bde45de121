#pragma once
// Precision emulation (docs/design.md section 2): the straightforward PaTH forward evaluated the way a
// plain low-precision kernel evaluates it, the baseline that tolerances are made from
// (docs/tolerance.md). For input precision P in {bf16, fp16, fp32}:
//   - q, k, v rounded to P; w, beta, g and scale rounded to fp32 (flash-linear-attention's inputs);
//   - raw logits by the naive products in fp32 arithmetic, scale and gate applied in fp32;
//   - softmax in fp32 with the row max subtracted; probabilities p = exp(s - m) summed in fp32, and
//     rounded to P before the P*V product, which accumulates in fp32 (FlashAttention's practice);
//   - o = acc / l rounded to P; lse = m + log(l) in fp32.
#include "path/core/dtype.hpp"
#include "path/core/rounding.hpp"
#include "path/forward.hpp"

namespace path {

namespace detail {

inline Problem<float> rounded_inputs(const Problem<double>& p, DType prec) {
  Problem<float> f = convert_problem<float>(p);
  for (auto* t : {&f.q, &f.k, &f.v})
    for (float& x : *t) x = round_to(x, prec);
  return f;
}

// Softmax and P*V as a flash kernel does them, on fp32 logits.
inline HeadOutput<float> emulated_softmax(const Mat<float>& s, const Mat<float>& v, DType prec) {
  const index_t L = s.rows();
  HeadOutput<float> out{zeros<float>(L, v.cols()), Vec<float>::Zero(L)};
  for (index_t i = 0; i < L; ++i) {
    float m = s(i, 0);
    for (index_t j = 1; j <= i; ++j) m = std::max(m, s(i, j));
    float l = 0.0f;
    for (index_t j = 0; j <= i; ++j) {
      const float p = std::exp(s(i, j) - m);
      l += p;
      out.o.row(i) += round_to(p, prec) * v.row(j);
    }
    for (index_t d = 0; d < v.cols(); ++d) out.o(i, d) = round_to(out.o(i, d) / l, prec);
    out.lse(i) = m + std::log(l);
  }
  return out;
}

}  // namespace detail

inline ForwardResult<double> emulate_forward(const Problem<double>& p, DType prec) {
  validate(p);
  const Problem<float> f = detail::rounded_inputs(p, prec);
  const Shape& s = p.shape;
  ForwardResult<double> r{s, std::vector<double>(s.o_size(), 0.0), std::vector<double>(s.lse_size(), 0.0)};
  for (const SequenceRange& seq : sequences_of(s, p.cu_seqlens)) {
    if (seq.length == 0) continue;
    for (index_t hq = 0; hq < s.HQ; ++hq) {
      const HeadSlice<float> h = extract_slice(f, seq, hq);
      store_head_output(r.o, r.lse, s, seq, hq, detail::emulated_softmax(final_logits(h, naive_raw_logits(h)), h.v, prec));
    }
  }
  return r;
}

}  // namespace path
