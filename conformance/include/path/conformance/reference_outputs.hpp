#pragma once
// The two computations a case is made from (docs/tolerance.md):
//   expected: the blockwise oracle in mp100 (about 100 decimal digits) on the case's inputs as
//             stored, rounded once to f64 -- forward (o, lse), backward (dq ... dg) and, for
//             decode cases, path::decode (o, lse and the final key cache);
//   baseline: the same quantities as a plain kernel of the case's input precision computes them
//             (path::emulate_forward; emulated_backward and emulated_decode below), whose error
//             against `expected` the tolerances are made of.
#include <map>
#include <string>
#include <vector>

#include "path/conformance/case.hpp"

namespace path::conformance {

using OutputValues = std::map<std::string, std::vector<double>>;

struct OracleSettings {
  index_t block = 16;  // block size of the blockwise oracle (and of decode's prefill)
};

// Every output of output_names(spec), from the mp100 oracle.
OutputValues oracle_outputs(const CaseInput& input, const OracleSettings& settings = {});

// Every output of output_names(spec), from the same-precision emulation.
OutputValues baseline_outputs(const CaseInput& input);

// The same-precision backward: path's closed-form backward evaluated in fp32 on the (rounded)
// inputs and do, with FlashAttention's roundings: probabilities P rounded to the input type before
// dv = P^T do, dS = P (dP - Delta) rounded to the input type before it enters dq, dk, dw and dbeta
// (the gate gradient dg uses dS in fp32), o and lse those of emulate_forward; outputs rounded to
// their dtypes. Returns dq, dk, dv, dw, dbeta, dg (dg only when gated).
OutputValues emulated_backward(const CaseInput& input);

// The same-precision decode: the prefix's keys carried to the cache in fp32 and rounded to the
// input type once (prefill), then per step: H_t applied to every cached key in fp32 and the
// cache rounded to the input type (it lives in that type), k_t appended, fp32 logits against the
// cache, softmax as emulate_forward (probabilities rounded to the input type, o rounded). The
// prefilled rows' o and lse are emulate_forward's. Returns o, lse, k_cache.
OutputValues emulated_decode(const CaseInput& input);

// The same-precision baseline family (docs/tolerance.md, "The baselines"): plain kernels of the
// case's input precision that a correct kernel may equally be. Member 1 is baseline_outputs;
// members 2 to 16 sum every dot product in one of four orders (the head dimensions as stored,
// reversed, evens then odds, rotated by one) and each makes its own choice where a correct kernel
// may choose either way: the forward's logits by the blockwise algorithm (blocks 8 to 128) or the
// naive products in fp32 (the backward recomputes them by the naive products, so P =
// exp(s - lse) mixes two computations of s, as a FlashAttention-style kernel's forward and
// backward do); the softmax over the whole row or online over tiles with a running maximum, the
// tiles from key 0 or from the diagonal leftwards as the blockwise scan visits them; the
// probabilities rounded to the input type before P*V or kept in fp32; P and dS rounded to the
// input type as GEMM operands or kept in fp32 (rounding dS can hide an error below half an ulp
// of dS that an fp32 dS keeps); decode: the prefix's keys one H at a time or by the blockwise
// prefill, and token t scored from the fp32 keys before the cache is rounded or from the rounded
// cache; a decode case adds four members that round the cache once per chunk of 2, 3, 4 or 8
// new tokens (a chunk step's rounding points) and the 16 forward members' o and lse (k_cache:
// member 1's). Delta = rowsum(dO * O) over the returned O by a tree reduction, dP = dO . v by a loop.
// The table of members is kMembers in baseline.cpp. Tolerances are made from the largest error
// among the members, so that they rest neither on one summation order's rounding luck nor on
// one design's.
std::vector<OutputValues> baseline_family(const CaseInput& input);

// Per output and row, the size of the terms that make the row (docs/tolerance.md, "Row scales"):
// rows are the [B, T, heads] vectors of o, dq, dk, dv, dw, k_cache (over the last dimension) and
// the single elements of lse, dbeta, dg; the terms are added in quadrature, as rounding errors
// of random sign add up. One non-negative value per row.
OutputValues row_scales(const CaseInput& input);

// gamma's n for an output of the case (docs/tolerance.md, "The arithmetic floor").
int gamma_terms(const CaseSpec& spec, std::string_view output);

// The tolerances of every output of the case (the tolerance model, tolerance.hpp) from the
// expected values, the baseline family and the row scales.
std::map<std::string, Tolerance> case_tolerances(const CaseInput& input, const OutputValues& expected,
                                                 const ToleranceModel& model);

std::string oracle_description(const OracleSettings& settings);
std::string baseline_description(const CaseSpec& spec);

}  // namespace path::conformance
