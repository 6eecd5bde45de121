// The tolerance model of docs/tolerance.md (issue 12, items 2 and 3): the rounding floor is half
// an ulp of the output dtype per element, not more; an exact-zero expected output is judged at
// the fp32 residue a correct kernel leaves there, not at a denormal; the rows criterion sees
// errors confined to rows of small magnitude; every derived number of a stored tolerance is
// recomputed when a case is read. Cases are small and drawn fresh from the session seed.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>

#include "path/conformance/case.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/reference_outputs.hpp"
#include "path/conformance/suite.hpp"
#include "path/core/random.hpp"
#include "path/core/rounding.hpp"
#include "support/correct_variants.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

using namespace conformance;
using json = nlohmann::json;

CaseSpec spec_of(std::string name, Shape shape, io::DType dtype, std::vector<index_t> cu = {}) {
  CaseSpec s;
  s.name = std::move(name);
  s.shape = shape;
  s.dtype = dtype;
  s.gated = true;
  s.gate_convention = GateConvention::paper;
  s.cu_seqlens = std::move(cu);
  s.gradients = true;
  return s;
}

Case make_case(const CaseSpec& spec) {
  BuildOptions o;
  o.suite_seed = testing::session_seed();
  return build_case(spec, o);
}

Outputs exact(const Case& c) {
  Outputs o = poisoned_outputs(c.spec());
  for (auto& [name, t] : o) t.values = c.expected.at(name);
  return o;
}

const OutputVerdict& verdict_of(const CaseVerdict& v, const std::string& name) {
  for (const OutputVerdict& o : v.outputs)
    if (o.output == name) return o;
  throw std::runtime_error("no verdict for " + name);
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// ---- the rounding floor: half an ulp per element ----------------------------------------------

// With a baseline that is exactly the rounded result (the floor alone decides), the correctly
// rounded result passes every criterion and a result one ulp off at its largest element fails:
// the floor is the rounding of the exact result to the output type, not the 2 ulps of model 1
// (which passed it).
TEST(RoundingFloor, IsHalfAnUlpPerElementNotMore) {
  random::Rng rng(testing::session_seed() ^ 0x51u);
  for (io::DType t : {io::DType::BF16, io::DType::F16, io::DType::F32}) {
    std::vector<double> e(64);
    for (double& x : e) x = random::normal(rng);
    std::vector<double> rounded = e;
    for (double& x : rounded) x = round_to(x, t);
    // An exact baseline (and gamma = 0): the rounding floor alone decides.
    const Tolerance tol = make_tolerance(e, {e}, std::vector<double>(4, 1.0), 16, 0, t);
    EXPECT_EQ(tol.floor, 0.5 * ulp_at(max_abs(e), t)) << dtype_label(t);
    EXPECT_TRUE(assess(rounded, e, tol).pass) << dtype_label(t) << ": the correctly rounded result fails; "
                                               << testing::seed_note();
    std::size_t top = 0;
    for (std::size_t i = 0; i < e.size(); ++i)
      if (std::fabs(e[i]) > std::fabs(e[top])) top = i;
    std::vector<double> off = rounded;  // one ulp further from the exact value at the largest element
    off[top] += std::copysign(ulp_at(e[top], t), rounded[top] == e[top] ? 1.0 : rounded[top] - e[top]);
    EXPECT_FALSE(assess(off, e, tol).pass) << dtype_label(t) << ": one ulp off at the largest element passed; "
                                           << testing::seed_note();
    // Model 1's floor of two ulps at the largest magnitude accepted it (issue 12 item 3).
    EXPECT_TRUE(assess(off, e, make_tolerance(0.0, max_abs(e), t, {2.0, 2.0})).pass) << dtype_label(t);
  }
}

// ---- exact zeros (issue 12 item 2) ---------------------------------------------------------------

// dq and dk of a one-token sequence are exactly zero (dS = P (dP - Delta) with P = 1 and Delta =
// dP), as are dw, dbeta (H_0 never enters a logit) and dg (the gate terms cancel). A correct fp32
// kernel that sums dP and Delta in different orders leaves a residue of the size of one rounding
// of the terms (about 1e-7 here); it must pass, and a value of 1e-2 must not.
TEST(ExactZeros, OneTokenResidueOfACorrectKernelPasses) {
  const Case c = make_case(spec_of("t1", Shape{1, 1, 1, 1, 16, 16}, io::DType::F32));
  for (const char* name : {"dq", "dk", "dw", "dbeta", "dg"}) {
    ASSERT_EQ(max_abs(c.expected.at(name)), 0.0) << name;
    const Tolerance& t = c.tolerances.at(name);
    ASSERT_TRUE(zero_row(t, c.expected.at(name), 0)) << name;
    Outputs r = exact(c);
    for (double& x : r.at(name).values) x = 3e-7;
    EXPECT_EQ(verdict_of(judge(c, r), name).verdict, Verdict::pass)
        << name << ": a 3e-7 residue fails; tolerance " << element_tolerance(t, c.expected.at(name), 0) << " "
        << testing::seed_note();
    // Before (model 1): a zero baseline and max|E| = 0 left one denormal, 2 * 2^-149, and the
    // same residue failed -- the false fail of issue 12 item 2.
    const Tolerance model1 = make_tolerance(0.0, 0.0, t.dtype, {2.0, 2.0});
    EXPECT_LT(model1.tolerance, 1e-44) << name;
    EXPECT_FALSE(assess(r.at(name).values, c.expected.at(name), model1).pass) << name;
    for (double& x : r.at(name).values) x = 1e-2;
    EXPECT_EQ(verdict_of(judge(c, r), name).verdict, Verdict::fail)
        << name << ": 1e-2 passes; the floor is no longer the size of an fp32 rounding residue " << testing::seed_note();
  }
}

// The same in context: length-1 segments of a varlen batch and the first token of every
// sequence, where the other rows are not zero. The residue of the FlashAttention-style fp32
// kernel (tests/support/correct_variants.hpp) passes, as does 1e-7 written at every zero row.
TEST(ExactZeros, ZeroRowsInsideABatchPass) {
  for (io::DType dtype : {io::DType::F32, io::DType::BF16}) {
    const Case c = make_case(spec_of("varlen", Shape{1, 20, 2, 2, 16, 16}, dtype, {0, 1, 1, 6, 7, 20}));
    testing::FloatFlash flash;
    Outputs r = poisoned_outputs(c.spec());
    flash.run(c.input, r);
    const CaseVerdict v = judge(c, r);
    EXPECT_EQ(v.verdict, Verdict::pass) << dtype_label(dtype) << testing::seed_note();
    Outputs z = exact(c);
    std::size_t zero_rows = 0;
    for (const char* name : {"dq", "dk", "dw", "dbeta", "dg"}) {
      const Tolerance& t = c.tolerances.at(name);
      for (std::size_t row = 0; row < t.rows(); ++row)
        if (zero_row(t, c.expected.at(name), row)) {
          ++zero_rows;
          for (std::size_t i = row * t.row_length; i < (row + 1) * t.row_length; ++i) z.at(name).values[i] += 1e-7;
        }
    }
    EXPECT_GE(zero_rows, 5u * 2u) << "the length-1 segments and sequence starts are zero rows";
    EXPECT_EQ(judge(c, z).verdict, Verdict::pass) << dtype_label(dtype) << testing::seed_note();
  }
}

// ---- rows of small magnitude (issue 12 item 3) ----------------------------------------------------

// A bug confined to the rows of small magnitude is below what the global max and norm criteria
// see, and the rows criterion rejects it. The small rows are made so: the output gradient of the
// last 8 tokens is scaled by 2^-8 (exact in every dtype), so dv of the last 8 keys -- which only
// those queries attend -- is 2^-8 of the others'; then those rows are returned 25% off.
TEST(RowsCriterion, SeesErrorsConfinedToSmallRows) {
  for (io::DType dtype : {io::DType::BF16, io::DType::F16, io::DType::F32}) {
    const CaseSpec spec = spec_of("rows", Shape{1, 48, 1, 1, 16, 16}, dtype);
    CaseInput in = draw_inputs(spec, case_seed(testing::session_seed(), "rows"));
    const std::size_t Dv = 16, T = 48, small = 8;
    for (std::size_t i = (T - small) * Dv; i < T * Dv; ++i) in.dO[i] = std::ldexp(in.dO[i], -8);
    BuildOptions o;
    const Case c = build_case_from_inputs(in, o, 0);
    const std::vector<double>& e = c.expected.at("dv");
    const Tolerance& t = c.tolerances.at("dv");
    Outputs r = exact(c);
    for (std::size_t i = (T - small) * Dv; i < T * Dv; ++i) r.at("dv").values[i] = round_to(e[i] * 1.25, t.dtype);
    const CaseVerdict verdict = judge(c, r);
    const OutputVerdict& v = verdict_of(verdict, "dv");
    EXPECT_TRUE(has(v.failed, "rows")) << dtype_label(dtype) << ": 25% off on the " << small << " small rows: "
                                       << (v.problem.empty() ? "passed" : v.problem) << "; " << testing::seed_note();
    // In bf16 and fp16 the global criteria are at the scale of the largest rows and do not see it.
    if (dtype != io::DType::F32) {
      EXPECT_FALSE(has(v.failed, "max") || has(v.failed, "norm")) << v.problem;
    }
  }
}

// ---- a uniform 1% error in bf16 (issue 12 item 3) --------------------------------------------------

// The quick suite's typical bf16 gradient cases (T 17 to 65, one to two heads, plain or varlen):
// model 1 passed o and dq uniformly 1% off (ratio 2.0 for o: its floor of two ulps at max|E| was
// 0.031 of a 0.045 tolerance). Under model 2 o 1% off is rejected by every one of them (their
// thresholds are 0.4% to 0.9%: docs/tolerance.md, "Resolving power"), and dq 1% off by the suite
// (per case its threshold is 0.5% to 1.2%, so one case alone may miss it; five together do not).
TEST(UniformError, OnePercentOffOAndDqAreRejectedInBf16) {
  const std::vector<std::string> typical = {"q002_", "q005_", "q007_", "q014_", "q016_"};
  std::size_t dq_rejected = 0, model1_o_passed = 0;
  for (const CaseSpec& spec : suite_specs("quick", io::DType::BF16)) {
    if (std::none_of(typical.begin(), typical.end(), [&](const std::string& p) { return spec.name.rfind(p, 0) == 0; }))
      continue;
    const Case c = make_case(spec);
    const OutputValues baseline = baseline_outputs(c.input);
    for (const char* name : {"o", "dq"}) {
      const std::vector<double>& e = c.expected.at(name);
      const Tolerance& t = c.tolerances.at(name);
      std::vector<double> off(e.size());
      for (std::size_t i = 0; i < e.size(); ++i) off[i] = round_to(e[i] * 1.01, t.dtype);
      const bool rejected = !assess(off, e, t).pass;
      if (std::string(name) == "o") {
        EXPECT_TRUE(rejected) << spec.name << ": o 1% off passes; " << testing::seed_note();
        const double model1_error = compare(baseline.at(name), e).max_abs_error;
        model1_o_passed += assess(off, e, make_tolerance(model1_error, max_abs(e), t.dtype, {2.0, 2.0})).pass;
      } else {
        dq_rejected += rejected;
      }
    }
  }
  EXPECT_GT(dq_rejected, 0u) << "dq 1% off passes every typical bf16 case; " << testing::seed_note();
  // Before: model 1 let o 1% off through (in every one of these cases in the draws measured).
  EXPECT_GT(model1_o_passed, 0u) << "model 1 no longer shows the false pass of issue 12 item 3";
  std::cout << "  o 1% off: model 1 passed it in " << model1_o_passed << " of " << typical.size()
            << " cases; dq 1% off rejected by " << dq_rejected << " of " << typical.size() << "\n";
}

// ---- c, stored numbers, version 1 ------------------------------------------------------------------

TEST(StoredTolerance, DerivedNumbersAreRecomputedAndEditsAreErrors) {
  const Case c = make_case(spec_of("stored", Shape{1, 9, 2, 1, 8, 4}, io::DType::BF16));
  for (const auto& [name, t] : c.tolerances) EXPECT_EQ(inconsistency(t, c.expected.at(name)), "") << name;
  // --c: the baselines and floors stay, the tolerances scale.
  const Tolerance& t = c.tolerances.at("o");
  const Tolerance t3 = with_c(t, 3.0);
  EXPECT_EQ(t3.floor, t.floor);
  EXPECT_EQ(t3.tolerance, 3.0 * t.baseline_error + t.floor);
  EXPECT_EQ(t3.norm_tolerance, 3.0 * std::max({t.norm_baseline_error, t.norm_envelope, t.norm_arithmetic_floor}) +
                                   t.norm_floor);
  // An edited derived number, an edited row scale: the reader refuses the file, naming the field.
  io::TensorFile f = case_to_file(c);
  f.source = "edited.safetensors";
  io::TensorFile edited = f;
  json j = json::parse(edited.metadata["tolerances"]);
  j["o"]["norm_tolerance"] = j["o"]["norm_tolerance"].get<double>() * 2;
  edited.metadata["tolerances"] = j.dump();
  try {
    (void)case_from_file(edited);
    ADD_FAILURE() << "an edited norm_tolerance was accepted";
  } catch (const io::FileError& e) {
    EXPECT_NE(std::string(e.what()).find("norm_tolerance"), std::string::npos) << e.what();
  }
  edited = f;
  for (double& x : edited.tensors.at(row_tensor("dq", 0)).values) x *= 4;  // the zero rows' floor follows
  EXPECT_THROW((void)case_from_file(edited), io::FileError);
  edited = f;
  edited.tensors.erase(row_tensor("dv", 1));
  EXPECT_THROW((void)case_from_file(edited), io::FileError);
  EXPECT_NO_THROW((void)case_from_file(f));
}

// A version-1 case file (fuzz/corpus/case holds some) is read and judged by its stored max
// criterion alone.
TEST(StoredTolerance, VersionOneFilesAreJudgedByTheirMaxCriterion) {
  const Case c = read_case(std::string(PATH_SOURCE_DIR) + "/fuzz/corpus/case/q000_T1_D16_h1x1_paper_grad.safetensors");
  for (const auto& [name, t] : c.tolerances) {
    EXPECT_EQ(t.model_version, 1) << name;
    EXPECT_EQ(inconsistency(t, c.expected.at(name)), "") << name;
  }
  EXPECT_EQ(judge(c, exact(c)).verdict, Verdict::pass);
  Outputs r = exact(c);
  const Tolerance& t = c.tolerances.at("o");
  r.at("o").values[0] += 1.01 * t.tolerance;
  EXPECT_EQ(verdict_of(judge(c, r), "o").verdict, Verdict::fail);
  r.at("o").values[0] -= 0.02 * t.tolerance;
  EXPECT_EQ(verdict_of(judge(c, r), "o").verdict, Verdict::pass);
}

TEST(Assess, NonFiniteNeverPassesAndEachCriterionHasItsRatio) {
  const Case c = make_case(spec_of("assess", Shape{1, 9, 2, 1, 8, 4}, io::DType::F32));
  const std::vector<double>& e = c.expected.at("dv");
  const Tolerance& t = c.tolerances.at("dv");
  for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    std::vector<double> r = e;
    r[3] = bad;
    const Assessment a = assess(r, e, t);
    EXPECT_FALSE(a.pass);
    EXPECT_TRUE(std::isinf(a.ratio));
    EXPECT_EQ(a.failed, std::vector<std::string>{"non-finite"});
  }
  // One element off: just inside every criterion passes, just outside fails; the ratio is c there.
  const std::size_t i = 5;
  const double tol = std::min({element_tolerance(t, e, i), row_tolerance(t, e, i / t.row_length), norm_tolerance(t)});
  for (const double factor : {0.99, 1.01}) {
    std::vector<double> r = e;
    r[i] += factor * tol;
    const Assessment a = assess(r, e, t);
    EXPECT_EQ(a.pass, factor < 1) << factor;
    EXPECT_NEAR(a.ratio, factor * t.c, 1e-6);
  }
}

}  // namespace
}  // namespace path
