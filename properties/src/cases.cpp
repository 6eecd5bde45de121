// Cases with expected values from the mp100 oracle or, at fuzzing speed, the double oracle.
#include "path/properties/cases.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "path/backward.hpp"
#include "path/conformance/reference_outputs.hpp"
#include "path/conformance/tolerance.hpp"
#include "path/decode.hpp"
#include "path/error_model.hpp"
#include "path/forward.hpp"

namespace path::properties {

namespace pc = conformance;

std::string_view to_string(OraclePolicy p) {
  switch (p) {
    case OraclePolicy::automatic: return "auto";
    case OraclePolicy::mp100: return "mp100";
    case OraclePolicy::f64: return "f64";
  }
  return "?";
}

namespace {

// The blockwise oracle of conformance/src/oracle.cpp, in double.
pc::OutputValues f64_oracle_outputs(const pc::CaseInput& in, const pc::OracleSettings& settings) {
  const pc::CaseSpec& spec = in.spec;
  const Problem<double>& p = in.problem;
  const ForwardOptions fo{Algorithm::blockwise, settings.block};
  pc::OutputValues out;
  if (spec.mode == pc::Mode::decode) {
    DecodeOptions opt;
    opt.prefill = spec.prefill_length;
    opt.forward = fo;
    opt.prefill_block = settings.block;
    DecodeResult<double> r = decode(p, opt);
    out["o"] = std::move(r.o);
    out["lse"] = std::move(r.lse);
    out["k_cache"] = std::move(r.k_cache);
    return out;
  }
  ForwardResult<double> r = forward(p, fo);
  out["o"] = std::move(r.o);
  out["lse"] = std::move(r.lse);
  if (spec.gradients) {
    BackwardResult<double> b = backward(p, in.dO);
    out["dq"] = std::move(b.dq);
    out["dk"] = std::move(b.dk);
    out["dv"] = std::move(b.dv);
    out["dw"] = std::move(b.dw);
    out["dbeta"] = std::move(b.dbeta);
    if (spec.gated) out["dg"] = std::move(b.dg);
  }
  return out;
}

// Whether the double oracle's forward error (error model, unit roundoff 2^-53) is at most
// `fraction` of the o and lse tolerances of a case built with it.
bool f64_is_enough(const pc::Case& c, double fraction) {
  const error_model::ForwardBound b = error_model::forward_error_bound(c.input.problem, std::ldexp(1.0, -53));
  return b.o <= fraction * c.tolerances.at("o").tolerance && b.lse <= fraction * c.tolerances.at("lse").tolerance;
}

}  // namespace

pc::Case build_case_f64(pc::CaseInput input, const pc::BuildOptions& options, std::uint64_t seed) {
  // Mirrors conformance::build_case_from_inputs (conformance/src/suite.cpp) line for line, with
  // oracle_outputs in double; see the header for the test that keeps the two together.
  pc::Case c;
  c.input = std::move(input);
  const pc::CaseSpec& spec = c.input.spec;
  const pc::OutputValues expected = f64_oracle_outputs(c.input, options.oracle);
  for (const std::string& name : pc::output_names(spec)) {
    const std::vector<double>& e = expected.at(name);
    for (double x : e)
      if (!std::isfinite(x)) throw std::runtime_error("case " + spec.name + ": the f64 oracle's " + name + " is not finite");
    c.expected[name] = e;
  }
  c.tolerances = pc::case_tolerances(c.input, expected, options.tolerance);  // docs/tolerance.md
  c.provenance["suite"] = options.suite;
  c.provenance["seed"] = std::to_string(options.suite_seed);
  c.provenance["case_seed"] = std::to_string(seed);
  c.provenance["oracle"] = "blockwise";
  c.provenance["oracle_block"] = std::to_string(options.oracle.block);
  c.provenance["oracle_precision"] = "f64";
  c.provenance["oracle_description"] =
      "blockwise (block " + std::to_string(options.oracle.block) + ") in double, within the error model";
  c.provenance["baseline"] = pc::baseline_description(spec);
  c.provenance["tolerance_model"] = pc::tolerance_model_description();
  c.provenance["generator"] = "pathcheck fuzz (format " + std::to_string(pc::kCaseFormatVersion) + ")";
  return c;
}

pc::Case build_case(pc::CaseInput input, const OracleChoice& choice, const pc::BuildOptions& options, std::uint64_t seed) {
  const bool cheap = pc::estimated_cost(input.spec) <= choice.mp100_cost_limit;
  if (choice.policy == OraclePolicy::mp100 || (choice.policy == OraclePolicy::automatic && cheap))
    return pc::build_case_from_inputs(std::move(input), options, seed);
  pc::CaseInput copy = input;
  pc::Case c = build_case_f64(std::move(input), options, seed);
  if (f64_is_enough(c, choice.f64_bound_fraction)) return c;
  return pc::build_case_from_inputs(std::move(copy), options, seed);
}

std::string oracle_of(const pc::Case& c) {
  const auto it = c.provenance.find("oracle_precision");
  return it == c.provenance.end() ? "unknown" : it->second;
}

}  // namespace path::properties
