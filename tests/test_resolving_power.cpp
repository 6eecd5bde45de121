// The small check of the suite's resolving power (docs/tolerance.md, "Resolving power";
// tools/resolving_power measures the full table): on a fresh quick suite of each dtype,
//   - every correct implementation (cpu-blockwise, cpu-naive, float-blockwise, float-flash,
//     emulated-reordered: tests/support/correct_variants.hpp) passes every case, and
//   - every output's exact values off by the goal's uniform relative error (1% bf16, 0.1% fp16,
//     1e-5 fp32; twice that for k_cache in bf16 and fp16, see goal()), as E (1 + eps) and as
//     E + eps |E|, rounded to the output dtype, every other output exact, are rejected by the suite.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <map>
#include <sstream>

#include "path/conformance/judge.hpp"
#include "path/conformance/suite.hpp"
#include "path/core/rounding.hpp"
#include "support/correct_variants.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

using namespace conformance;

std::vector<Case> quick_suite(io::DType dtype) {
  const std::vector<CaseSpec> specs = suite_specs("quick", dtype);
  std::vector<Case> cases(specs.size());
  BuildOptions o;
  o.suite = "quick";
  o.suite_seed = testing::session_seed();
  build_cases(specs, o, 2, [&](std::size_t i, Case&& c) { cases[i] = std::move(c); });
  return cases;
}

// The goals of docs/design.md section 4 -- except k_cache in bf16 and fp16, which the quick
// suite resolves only to about the goal (docs/tolerance.md, "Resolving power": up to 0.88% in
// bf16 and 0.105% in fp16 over eight suite draws, from its four decode cases alone), because the
// decode baseline rounds every cached key to the input type at every step, as a kernel whose
// cache lives in that type must; it is held to twice the goal.
double goal(io::DType dtype, const std::string& output) {
  double g = 1e-5;
  if (dtype == io::DType::BF16) g = 1e-2;
  if (dtype == io::DType::F16) g = 1e-3;
  return output == "k_cache" && dtype != io::DType::F32 ? 2 * g : g;
}

void check(io::DType dtype) {
  const std::vector<Case> cases = quick_suite(dtype);
  // Both directions: every correct implementation passes every case...
  for (auto& impl : testing::correct_implementations()) {
    std::size_t passed = 0;
    std::ostringstream why;
    for (const Case& c : cases) {
      Outputs out = poisoned_outputs(c.spec());
      impl->run(c.input, out);
      const CaseVerdict v = judge(c, out);
      if (v.verdict == Verdict::pass) ++passed;
      for (const OutputVerdict& o : v.outputs)
        if (o.verdict != Verdict::pass) why << "\n  " << c.name() << " " << o.output << ": " << o.problem;
    }
    EXPECT_EQ(passed, cases.size()) << impl->name() << " " << dtype_label(dtype) << why.str() << "\n"
                                    << testing::seed_note();
  }
  // ...and a uniform relative error of the goal's size in any one output is rejected.
  for (const bool shift : {false, true}) {
    std::map<std::string, std::size_t> rejected, present;
    for (const Case& c : cases)
      for (const std::string& name : output_names(c.spec())) {
        const std::vector<double>& e = c.expected.at(name);
        if (max_abs(e) == 0) continue;
        const Tolerance& t = c.tolerances.at(name);
        const double eps = goal(dtype, name);
        std::vector<double> r(e.size());
        for (std::size_t i = 0; i < e.size(); ++i)
          r[i] = round_to(shift ? e[i] + eps * std::fabs(e[i]) : e[i] * (1 + eps), t.dtype);
        ++present[name];
        rejected[name] += !assess(r, e, t).pass;
      }
    for (const auto& [name, n] : present) {
      const double eps = goal(dtype, name);
      EXPECT_GT(rejected[name], 0u) << dtype_label(dtype) << " " << name << " off by " << eps
                                    << (shift ? " (E + eps |E|)" : " (E (1 + eps))") << " passed every case; "
                                    << testing::seed_note();
      std::cout << "  " << dtype_label(dtype) << " " << name << (shift ? " shifted" : " scaled") << " by " << eps
                << ": rejected by " << rejected[name] << " of " << n << " cases\n";
    }
  }
}

TEST(ResolvingPower, Bf16) { check(io::DType::BF16); }
TEST(ResolvingPower, Fp16) { check(io::DType::F16); }
TEST(ResolvingPower, Fp32) { check(io::DType::F32); }

}  // namespace
}  // namespace path
