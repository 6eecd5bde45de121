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

std::string oracle_description(const OracleSettings& settings);
std::string baseline_description(const CaseSpec& spec);

}  // namespace path::conformance
