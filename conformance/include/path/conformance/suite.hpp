#pragma once
// Conformance suites (docs/conformance.md): which cases, how their values are drawn, and how a
// case is built (inputs -> oracle -> baseline -> tolerances).
//
// Suites: quick (23 small cases: every edge case of docs/design.md section 4 once, a minute on
// two cores for generation and validation), standard (larger shapes, every distribution with
// both gate conventions and every head dim), full (the campaign: long sequences, many heads).
//
// Distributions (CaseSpec::distribution):
//   standard              q, k, v, do ~ N(0, 1); w a random unit vector; beta ~ U(0, 2);
//                         g = log sigmoid(N(0, 1) + 2) (a log forget gate < 0)
//   beta_near_zero        beta ~ U(0, 1e-3), every 4th exactly 0
//   beta_near_two         beta ~ 2 - U(0, 1e-3), every 4th exactly 2
//   colinear_w            w_t = unit(w + 1e-3 N(0, I)) around one direction per head
//   zero_w                every other w_t = 0 (the rest as standard)
//   large_logits          q and k ~ N(0, 16): |scale q.k| in the tens, near one-hot softmax
//   gate_near_zero        g ~ -U(0, 1e-3), every 4th exactly 0
//   gate_strong_negative  g ~ -U(5, 20)
// Values are drawn in double, then q, k, v and do rounded to the input dtype and w, beta, g to
// F32 (FlashAttention-style kernels take w, beta, g in fp32); scale = fp32(D^-1/2).
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "path/conformance/case.hpp"
#include "path/conformance/reference_outputs.hpp"
#include "path/conformance/tolerance.hpp"

namespace path::conformance {

std::vector<std::string> suite_names();               // quick, standard, full
std::vector<std::string> distribution_names();
bool is_suite_name(std::string_view s);

// The cases of a suite in the given input dtype (throws std::invalid_argument for an unknown suite).
std::vector<CaseSpec> suite_specs(std::string_view suite, io::DType dtype);

// The specs whose name contains any of the comma-separated parts of `filter` ("q000,q017").
std::vector<CaseSpec> filter_specs(std::vector<CaseSpec> specs, std::string_view filter);

// A deterministic per-case seed from the suite seed and the case name (so one case can be
// regenerated alone).
std::uint64_t case_seed(std::uint64_t suite_seed, std::string_view case_name);

// The inputs of a case, drawn from the spec's distribution with the given seed, rounded as stored.
CaseInput draw_inputs(const CaseSpec& spec, std::uint64_t seed);

struct BuildOptions {
  std::string suite = "custom";
  std::uint64_t suite_seed = 0;
  ToleranceModel tolerance{};
  OracleSettings oracle{};
};

// Inputs, expected outputs (oracle), baseline errors and tolerances, provenance.
Case build_case(const CaseSpec& spec, const BuildOptions& options);
// The same from given inputs (tests use this to build cases by hand).
Case build_case_from_inputs(CaseInput input, const BuildOptions& options, std::uint64_t seed);
// c's tolerances from its inputs and expected outputs under `model` (case_tolerances: the baseline
// family, row scales, floors), with the provenance that says how they were made (baseline,
// tolerance_model): what gen stores, and what pathcheck refresh recomputes for a kept case.
void derive_tolerances(Case& c, const ToleranceModel& model);

// Builds the cases on `jobs` threads (at least 1); on_done(index, case) is called for each case as
// it is finished, one call at a time. The first exception thrown by a build or by on_done is
// rethrown once every thread has stopped (no further cases are started after it).
void build_cases(const std::vector<CaseSpec>& specs, const BuildOptions& options, unsigned jobs,
                 const std::function<void(std::size_t, Case&&)>& on_done);

// Relative cost of building a case (for progress estimates): ~ sum over heads of L^2 (D + Dv).
double estimated_cost(const CaseSpec& spec);

// A random 64-bit seed (std::random_device).
std::uint64_t random_seed();

}  // namespace path::conformance
