#pragma once
// Precision emulation (DESIGN.md section 2): the straightforward PaTH forward evaluated the way a
// plain low-precision kernel evaluates it, the baseline that tolerances are made from
// (docs/tolerance.md). For input precision P in {bf16, fp16, fp32}:
//   - q, k, v rounded to P; w, beta, g and scale rounded to fp32 (flash-linear-attention's inputs);
//   - raw logits by the naive products in fp32 arithmetic, scale and gate applied in fp32;
//   - softmax in fp32 with the row max subtracted; probabilities p = exp(s - m) summed in fp32, and
//     rounded to P before the P*V product, which accumulates in fp32 (FlashAttention's practice);
//   - o = acc / l rounded to P; lse = m + log(l) in fp32.
#include <Eigen/Core>
#include <optional>
#include <string_view>

#include "path/forward.hpp"

namespace path {

enum class InputPrecision { bf16, fp16, fp32 };

inline std::string_view to_string(InputPrecision p) {
  switch (p) {
    case InputPrecision::bf16: return "bf16";
    case InputPrecision::fp16: return "fp16";
    case InputPrecision::fp32: return "fp32";
  }
  return "?";
}

inline std::optional<InputPrecision> parse_input_precision(std::string_view s) {
  for (InputPrecision p : {InputPrecision::bf16, InputPrecision::fp16, InputPrecision::fp32})
    if (s == to_string(p)) return p;
  return std::nullopt;
}

// Rounds an fp32 value to P (round to nearest even), returned widened back to fp32.
inline float round_to_precision(float x, InputPrecision p) {
  switch (p) {
    case InputPrecision::bf16: return static_cast<float>(Eigen::bfloat16(x));
    case InputPrecision::fp16: return static_cast<float>(Eigen::half(x));
    case InputPrecision::fp32: return x;
  }
  return x;
}

namespace detail {

inline Problem<float> rounded_inputs(const Problem<double>& p, InputPrecision prec) {
  Problem<float> f = convert_problem<float>(p);
  for (auto* t : {&f.q, &f.k, &f.v})
    for (float& x : *t) x = round_to_precision(x, prec);
  return f;
}

// Softmax and P*V as a flash kernel does them, on fp32 logits.
inline HeadOutput<float> emulated_softmax(const Mat<float>& s, const Mat<float>& v, InputPrecision prec) {
  const index_t L = s.rows();
  HeadOutput<float> out{zeros<float>(L, v.cols()), Vec<float>::Zero(L)};
  for (index_t i = 0; i < L; ++i) {
    float m = s(i, 0);
    for (index_t j = 1; j <= i; ++j) m = std::max(m, s(i, j));
    float l = 0.0f;
    for (index_t j = 0; j <= i; ++j) {
      const float p = std::exp(s(i, j) - m);
      l += p;
      out.o.row(i) += round_to_precision(p, prec) * v.row(j);
    }
    for (index_t d = 0; d < v.cols(); ++d) out.o(i, d) = round_to_precision(out.o(i, d) / l, prec);
    out.lse(i) = m + std::log(l);
  }
  return out;
}

}  // namespace detail

inline ForwardResult<double> emulate_forward(const Problem<double>& p, InputPrecision prec) {
  validate(p);
  const Problem<float> f = detail::rounded_inputs(p, prec);
  const Shape& s = p.shape;
  ForwardResult<double> r{s, std::vector<double>(s.o_size(), 0.0), std::vector<double>(s.lse_size(), 0.0)};
  for (const SequenceRange& seq : sequences_of(s, p.cu_seqlens)) {
    if (seq.length == 0) continue;
    for (index_t hq = 0; hq < s.HQ; ++hq) {
      const HeadSlice<float> h = extract_slice(f, seq, hq);
      const HeadOutput<float> out = detail::emulated_softmax(final_logits(h, naive_raw_logits(h)), h.v, prec);
      for (index_t t = 0; t < seq.length; ++t) {
        const index_t pos = seq.begin + t;
        for (index_t d = 0; d < s.Dv; ++d) r.o[flat_index(seq.batch, pos, hq, d, s.T, s.HQ, s.Dv)] = out.o(t, d);
        r.lse[flat_index(seq.batch, pos, hq, 0, s.T, s.HQ, 1)] = out.lse(t);
      }
    }
  }
  return r;
}

}  // namespace path
