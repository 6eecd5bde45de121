// The expected outputs of a case: the blockwise oracle in mp100 (one translation unit, because the
// mp100 instantiations are slow to compile).
#include <stdexcept>

#include "path/backward.hpp"
#include "path/conformance/reference_outputs.hpp"
#include "path/decode.hpp"
#include "path/forward.hpp"

namespace path::conformance {

namespace {


}  // namespace

std::string oracle_description(const OracleSettings& s) {
  return "blockwise (block " + std::to_string(s.block) + ") in mp100, rounded to f64";
}

OutputValues oracle_outputs(const CaseInput& in, const OracleSettings& settings) {
  using S = mp100;
  const CaseSpec& spec = in.spec;
  const Problem<S> p = convert_problem<S>(in.problem);
  const ForwardOptions fo{Algorithm::blockwise, settings.block};
  OutputValues out;
  if (spec.mode == Mode::decode) {
    DecodeOptions opt;
    opt.prefill = spec.prefill_length;
    opt.forward = fo;
    opt.prefill_block = settings.block;
    const DecodeResult<S> r = decode(p, opt);
    out["o"] = to_doubles(r.o);
    out["lse"] = to_doubles(r.lse);
    out["k_cache"] = to_doubles(r.k_cache);
    return out;
  }
  const ForwardResult<S> r = forward(p, fo);
  out["o"] = to_doubles(r.o);
  out["lse"] = to_doubles(r.lse);
  if (spec.gradients) {
    const BackwardResult<S> b = backward(p, from_doubles<S>(in.dO));
    out["dq"] = to_doubles(b.dq);
    out["dk"] = to_doubles(b.dk);
    out["dv"] = to_doubles(b.dv);
    out["dw"] = to_doubles(b.dw);
    out["dbeta"] = to_doubles(b.dbeta);
    if (spec.gated) out["dg"] = to_doubles(b.dg);
  }
  return out;
}

}  // namespace path::conformance
