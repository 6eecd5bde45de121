#pragma once
// Conformance cases at fuzzing speed (docs/fuzzing.md, "Which oracle judged a case").
//
// A case's expected values come from the mp100 oracle (conformance::build_case_from_inputs, the
// same function `pathcheck gen` uses) whenever that is affordable, and from the same blockwise
// oracle evaluated in double otherwise. The double oracle's forward error is bounded by the error
// model (reference/include/path/error_model.hpp); a case whose bound is not far below its o or
// lse tolerance is built with mp100 instead. Tolerances come from the tolerance model either way
// (conformance/tolerance.hpp: make_tolerance of the same-precision baseline's error), and a
// reproducer that is saved is always rebuilt with mp100, so the file is an ordinary conformance
// case.
#include <cstdint>
#include <string>

#include "path/conformance/case.hpp"
#include "path/conformance/suite.hpp"

namespace path::properties {

enum class OraclePolicy { automatic, mp100, f64 };
std::string_view to_string(OraclePolicy p);

struct OracleChoice {
  OraclePolicy policy = OraclePolicy::automatic;
  // automatic: mp100 for cases whose conformance::estimated_cost is at most this (measured:
  // T of about 20 at D = 16; docs/fuzzing.md has the measured rates), the double oracle above it.
  double mp100_cost_limit = 3e4;
  // automatic and f64: the double oracle only when its error-model bound on o and lse is at most
  // this fraction of the tolerance (else mp100, whatever the cost).
  double f64_bound_fraction = 1.0 / 64;
};

// The case for these inputs, expected values from the oracle the choice picks; provenance
// "oracle_precision" says which ("mp100" or "f64").
conformance::Case build_case(conformance::CaseInput input, const OracleChoice& choice,
                             const conformance::BuildOptions& options, std::uint64_t seed);

// The same as conformance::build_case_from_inputs with the oracle evaluated in double: the
// expected values of the blockwise oracle (block options.oracle.block) in f64, the baseline and
// the tolerances exactly as build_case_from_inputs makes them. tests/test_fuzz_cases.cpp pins it
// to build_case_from_inputs (same outputs, same tolerance fields, same provenance keys), so that
// a change to how conformance builds cases cannot leave this copy behind unnoticed.
conformance::Case build_case_f64(conformance::CaseInput input, const conformance::BuildOptions& options,
                                 std::uint64_t seed);

// The oracle that made a case's expected values: "mp100", "f64" (provenance oracle_precision).
std::string oracle_of(const conformance::Case& c);

}  // namespace path::properties
