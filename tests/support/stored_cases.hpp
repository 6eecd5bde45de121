#pragma once
// Conformance cases from hand-made inputs, as the GPU tests (and the host-shim tests) build them:
// q, k, v (and dO) rounded to the input dtype, w, beta, g and scale to F32 with the project's one
// codec (path::round_to), which is what a case file stores (docs/conformance.md); expected
// outputs, baselines and tolerances from conformance::build_case_from_inputs (the mp100 oracle
// and the same-precision baseline family). Rounded here, not by the code under test.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "path/conformance/judge.hpp"
#include "path/conformance/runner.hpp"
#include "path/conformance/suite.hpp"
#include "path/core/rounding.hpp"
#include "support/seed.hpp"

namespace path::testing {

// What a case is: the mode (prefill with or without gradients, or decode after `prefill` tokens).
struct StoredCaseKind {
  conformance::Mode mode = conformance::Mode::prefill;
  bool gradients = false;
  index_t prefill = 0;  // decode only
};

// The inputs of one case, rounded as a case stores them. dO is used (and rounded) only for
// gradient cases. `origin` names the test file, for the case's distribution field.
inline conformance::CaseInput stored_case_input(const std::string& name, Problem<double> p, DType dtype,
                                                StoredCaseKind kind, const std::string& origin,
                                                std::vector<double> dO = {}) {
  for (auto* t : {&p.q, &p.k, &p.v, &dO})
    for (double& x : *t) x = round_to(x, dtype);
  for (auto* t : {&p.w, &p.beta, &p.g})
    for (double& x : *t) x = round_to(x, DType::F32);
  p.scale = round_to(p.scale, DType::F32);
  conformance::CaseInput in;
  in.spec.name = name;
  in.spec.shape = p.shape;
  in.spec.dtype = dtype;
  in.spec.gated = p.has_gate();
  in.spec.gate_convention = p.gate_convention;
  in.spec.cu_seqlens = p.cu_seqlens;
  in.spec.mode = kind.mode;
  in.spec.prefill_length = kind.mode == conformance::Mode::decode ? kind.prefill : 0;
  in.spec.gradients = kind.gradients;
  in.spec.distribution = "gaussian (" + origin + ")";
  in.problem = std::move(p);
  if (kind.gradients) in.dO = std::move(dO);
  return in;
}

// Expected outputs and tolerances for every input, one case per thread at a time (the mp100
// oracle is the slow part). `suite` is the suite name the cases record.
inline std::vector<conformance::Case> build_stored_cases(std::vector<conformance::CaseInput> inputs,
                                                         const std::string& suite) {
  std::vector<conformance::Case> cases(inputs.size());
  conformance::BuildOptions options;
  options.suite = suite;
  options.suite_seed = session_seed();
  std::vector<std::thread> pool;
  const unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<std::size_t> next{0};
  for (unsigned t = 0; t < jobs; ++t)
    pool.emplace_back([&] {
      for (std::size_t i = next++; i < inputs.size(); i = next++)
        cases[i] = conformance::build_case_from_inputs(std::move(inputs[i]), options, session_seed());
    });
  for (std::thread& t : pool) t.join();
  return cases;
}

// A forward (prefill, no gradient) case in one call.
inline conformance::Case stored_forward_case(const std::string& name, Problem<double> p, DType dtype,
                                             const std::string& suite) {
  std::vector<conformance::CaseInput> one;
  one.push_back(stored_case_input(name, std::move(p), dtype, {}, "tests/" + suite + ".cpp"));
  return std::move(build_stored_cases(std::move(one), suite).front());
}

inline std::string report_text(const conformance::Report& r) {
  std::ostringstream os;
  conformance::print_report(os, r);
  return os.str();
}

// One line per case for the log: what the judge measured, each output's error, baseline and ratio.
inline void log_verdict(const conformance::CaseVerdict& v, const std::string& tag = "") {
  std::cerr << "  ";
  if (!tag.empty()) std::cerr << "[" << tag << "] ";
  std::cerr << v.name << ": " << conformance::to_string(v.verdict);
  for (const conformance::OutputVerdict& o : v.outputs)
    std::cerr << "; " << o.output << " error " << o.error << ", baseline " << o.tolerance.baseline_error << ", ratio "
              << o.ratio;
  if (!v.problem.empty()) std::cerr << "; " << v.problem;
  std::cerr << "\n";
}

}  // namespace path::testing
