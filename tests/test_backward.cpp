// The closed-form backward (docs/backward.md) against three independent references:
//  1. exact rationals: the raw-logit layer (dq, dk, dw, dbeta from dr) uses only +, -, *, so it is
//     compared element by element, with ==, to the exact partial derivatives obtained by running
//     the forward oracle's naive products on Boost.Math dual numbers over rationals;
//  2. forward-mode autodiff (Boost.Math fvar over mp100): the forward oracle's own code run on dual
//     numbers gives d/de Loss(x + e d) for Loss = sum dO . o; it must equal sum <grad, d>, for a
//     random direction in each input alone and in all six together;
//  3. central finite differences in mp100;
// plus the independent golden gradient case in double, and bad input.
// Random cases cover: no gate, both gate conventions, GQA, varlen (with empty and length-1
// segments), T = 1, and the dyadic edge cases (beta in {0, 2}, w = 0, repeated and near-colinear w).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include "path/backward.hpp"
#include "path/forward.hpp"
#include "path/io/problem_file.hpp"
#include "support/autodiff_eigen.hpp"
#include "support/compare.hpp"
#include "support/random_problem.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

using testing::ProblemSpec;
using testing::ValueStyle;
using Dual = testing::Dual<mp100>;

// ---- the six inputs, addressed uniformly ----

struct InputField {
  const char* name;
  std::vector<mp100> Problem<mp100>::*input;
  std::vector<mp100> BackwardResult<mp100>::*gradient;
};

const InputField input_fields[] = {
    {"q", &Problem<mp100>::q, &BackwardResult<mp100>::dq},       {"k", &Problem<mp100>::k, &BackwardResult<mp100>::dk},
    {"v", &Problem<mp100>::v, &BackwardResult<mp100>::dv},       {"w", &Problem<mp100>::w, &BackwardResult<mp100>::dw},
    {"beta", &Problem<mp100>::beta, &BackwardResult<mp100>::dbeta}, {"g", &Problem<mp100>::g, &BackwardResult<mp100>::dg},
};

// A direction: a problem of the same shape whose tensors hold the perturbation (zeros elsewhere).
Problem<mp100> zero_direction(const Problem<mp100>& p) {
  Problem<mp100> d = p;
  for (const InputField& f : input_fields)
    for (mp100& x : d.*(f.input)) x = 0;
  return d;
}

void randomize(std::vector<mp100>& xs, path::random::Rng& rng) {
    for (mp100& x : xs) x = path::random::normal(rng);
}

// Loss = sum_i dO_i . o_i through the forward oracle's per-head code (naive products, softmax),
// for any scalar with exp and log (mp100 for differences, Dual for autodiff).
template <class S>
S loss_of(const Problem<S>& p, const std::vector<S>& dO) {
  const Shape& s = p.shape;
  S loss = S(0);
  for (const SequenceRange& seq : sequences_of(s, p.cu_seqlens)) {
    if (seq.length == 0) continue;
    for (index_t hq = 0; hq < s.HQ; ++hq) {
      const HeadSlice<S> h = extract_slice(p, seq, hq);
      const HeadOutput<S> out = softmax_attention(final_logits(h, naive_raw_logits(h)), h.v);
      for (index_t t = 0; t < seq.length; ++t)
        for (index_t d = 0; d < s.Dv; ++d) loss += dO[flat_index(seq.batch, seq.begin + t, hq, d, s.T, s.HQ, s.Dv)] * out.o(t, d);
    }
  }
  return loss;
}

// x + eps d as dual numbers.
Problem<Dual> dual_problem(const Problem<mp100>& p, const Problem<mp100>& direction) {
  auto lift = [](const std::vector<mp100>& x, const std::vector<mp100>& d) {
    std::vector<Dual> out;
    for (std::size_t n = 0; n < x.size(); ++n) out.push_back(testing::dual<mp100>(x[n], d[n]));
    return out;
  };
  Problem<Dual> r;
  r.shape = p.shape;
  r.scale = Dual(p.scale);
  r.gate_convention = p.gate_convention;
  r.cu_seqlens = p.cu_seqlens;
  r.q = lift(p.q, direction.q);
  r.k = lift(p.k, direction.k);
  r.v = lift(p.v, direction.v);
  r.w = lift(p.w, direction.w);
  r.beta = lift(p.beta, direction.beta);
  r.g = lift(p.g, direction.g);
  return r;
}

Problem<mp100> moved(const Problem<mp100>& p, const Problem<mp100>& direction, const mp100& h) {
  Problem<mp100> r = p;
  for (const InputField& f : input_fields)
    for (std::size_t n = 0; n < (r.*(f.input)).size(); ++n) (r.*(f.input))[n] += h * (direction.*(f.input))[n];
  return r;
}

// <grad, d> and the magnitude sum |grad| |d| that bounds its rounding errors.
struct Projection {
  mp100 value = 0, magnitude = 0;
};

Projection project(const BackwardResult<mp100>& g, const Problem<mp100>& direction) {
  Projection r;
  for (const InputField& f : input_fields) {
    const std::vector<mp100>& gx = g.*(f.gradient);
    const std::vector<mp100>& dx = direction.*(f.input);
    for (std::size_t n = 0; n < gx.size(); ++n) {
      r.value += gx[n] * dx[n];
      r.magnitude += abs(gx[n]) * abs(dx[n]);
    }
  }
  return r;
}

struct GradCase {
  const char* name;
  Shape shape;
  bool gate;
  GateConvention convention;
  std::vector<index_t> cu_seqlens;
  ValueStyle style;
};

// The gaussian cases first: Differences instantiates only those (its bound assumes contractive H).
const GradCase grad_cases[] = {
    {"nogate", {2, 6, 1, 1, 3, 2}, false, GateConvention::paper, {}, ValueStyle::gaussian},
    {"T1", {1, 1, 2, 1, 3, 2}, true, GateConvention::paper, {}, ValueStyle::gaussian},
    {"gqa_paper", {1, 7, 4, 2, 3, 2}, true, GateConvention::paper, {}, ValueStyle::gaussian},
    {"gqa_fla", {1, 8, 2, 1, 4, 3}, true, GateConvention::fla, {}, ValueStyle::gaussian},
    {"varlen_paper", {1, 8, 2, 1, 3, 2}, true, GateConvention::paper, {0, 3, 3, 4, 8}, ValueStyle::gaussian},
    {"varlen_nogate", {1, 7, 2, 2, 2, 2}, false, GateConvention::paper, {0, 1, 5, 7}, ValueStyle::gaussian},
    {"dyadic_edges_fla", {1, 6, 2, 1, 3, 2}, true, GateConvention::fla, {}, ValueStyle::dyadic},
};

void PrintTo(const GradCase& c, std::ostream* os) { *os << c.name; }

struct CaseData {
  Problem<mp100> problem;
  std::vector<mp100> dO;
  BackwardResult<mp100> gradients;
};

CaseData setup(const GradCase& c, path::random::Rng& rng) {
  const Problem<double> pd = testing::random_problem({c.shape, c.gate, c.convention, c.cu_seqlens, c.style}, rng);
  CaseData s{convert_problem<mp100>(pd), std::vector<mp100>(c.shape.o_size()), {}};
  randomize(s.dO, rng);
  s.gradients = backward(s.problem, s.dO);
  return s;
}

// The directions tried: each input alone (so that a failure names the gradient), then all at once.
std::vector<std::pair<std::string, Problem<mp100>>> directions(const Problem<mp100>& p, path::random::Rng& rng) {
  std::vector<std::pair<std::string, Problem<mp100>>> out;
  Problem<mp100> all = zero_direction(p);
  for (const InputField& f : input_fields) {
    if ((p.*(f.input)).empty()) continue;  // no gate
    Problem<mp100> d = zero_direction(p);
    randomize(d.*(f.input), rng);
    out.emplace_back(f.name, d);
    all.*(f.input) = d.*(f.input);
  }
  out.emplace_back("all six", all);
  return out;
}

class Gradients : public ::testing::TestWithParam<GradCase> {};

// Tolerance, autodiff. Both sides evaluate the same real number in mp100 (u = 2^-333 ~ 5.7e-101,
// read from numeric_limits below). Standard rounding analysis: each computed quantity is a sum of
// products formed in at most N sequential operations, so its error is at most ~N u times the sum of
// the absolute values of its terms. For T <= 8, D <= 4 every chain has N < 10^3 operations; the
// sums of absolute terms exceed |grad| |d| (the `magnitude` below) by at most the square of the
// largest Householder-product norm, ||H|| <= 1 + |beta| ||w||^2 <= 9 for the dyadic inputs
// (||w||^2 <= D = 3, beta <= 2), so <= 9^(2T) <= 1.9e15 for T = 8, and by at most exp of the logit
// spread through the softmax's normalisation (none: P_ij <= 1). Hence
//   |closed - autodiff| <= 2 * 10^3 * 1.9e15 * 5.7e-101 * (1 + magnitude) < 1e-80 (1 + magnitude).
// A wrong gradient (a dropped term) errs by O(|grad|), 70+ orders of magnitude above this.
TEST_P(Gradients, EqualForwardModeAutodiffDirectionalDerivatives) {
  const GradCase& c = GetParam();
  ASSERT_LT(std::numeric_limits<mp100>::epsilon(), mp100("1e-99"));
  auto rng = testing::rng_for(std::string("backward/autodiff/") + c.name);
  for (int trial = 0; trial < 2; ++trial) {
    const CaseData s = setup(c, rng);
    std::vector<Dual> dO;
    for (const mp100& x : s.dO) dO.push_back(Dual(x));
    for (const auto& [what, direction] : directions(s.problem, rng)) {
      const Projection closed = project(s.gradients, direction);
      const mp100 autodiff = testing::derivative_of(loss_of(dual_problem(s.problem, direction), dO));
      const mp100 bound = mp100("1e-80") * (1 + closed.magnitude);
      EXPECT_LE(abs(closed.value - autodiff), bound)
          << c.name << ", direction in " << what << ": closed form " << closed.value.str(30) << " vs autodiff "
          << autodiff.str(30) << "; " << testing::seed_note();
    }
  }
}

// Tolerance, central differences (f(x + h d) - f(x - h d)) / 2h in mp100 with h = 1e-30:
//  - truncation: h^2/6 |f'''(xi)| along d. f is analytic; for the gaussian inputs (||H|| <= 1, unit
//    w, |q|, |k|, |v|, |dO|, |d| entries of order 1, T <= 8, D <= 4, |scale| <= 1, gates in (-10, 0))
//    each further derivative along d brings at most a factor of the largest logit sensitivity,
//    sum |d| |dlogit/dx| <= 10^2, so |f'''| <= 10^6 (1 + magnitude) and the truncation is
//    <= 1.7e-55 (1 + magnitude);
//  - rounding: each forward value errs by <= 1e-80 (1 + |f|) (the autodiff bound's argument), so
//    the quotient errs by <= 1e-80 (1 + |f|) / 1e-30 = 1e-50 (1 + |f|).
// The bound 1e-45 (1 + magnitude + |f|) covers both with margin; a wrong gradient errs by
// O(1e-2..1) relative.
// (The bound assumes contractive H: only the gaussian cases are instantiated.)
class Differences : public ::testing::TestWithParam<GradCase> {};

TEST_P(Differences, EqualCentralDifferencesAt100Digits) {
  const GradCase& c = GetParam();
  auto rng = testing::rng_for(std::string("backward/differences/") + c.name);
  const CaseData s = setup(c, rng);
  const mp100 h("1e-30");
  for (const auto& [what, direction] : directions(s.problem, rng)) {
    const Projection closed = project(s.gradients, direction);
    const mp100 f = loss_of(s.problem, s.dO);
    const mp100 difference =
        (loss_of(moved(s.problem, direction, h), s.dO) - loss_of(moved(s.problem, direction, -h), s.dO)) / (2 * h);
    EXPECT_LE(abs(closed.value - difference), mp100("1e-45") * (1 + closed.magnitude + abs(f)))
        << c.name << ", direction in " << what << ": closed form " << closed.value.str(30) << " vs differences "
        << difference.str(30) << "; " << testing::seed_note();
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, Gradients, ::testing::ValuesIn(grad_cases),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(Cases, Differences, ::testing::ValuesIn(grad_cases, grad_cases + 6),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- exact rationals: the raw-logit layer, every element ----

using ExactDual = testing::Dual<rational>;

// sum_{j<=i} dr_ij r_ij(x) with one input element carrying derivative 1: its exact partial derivative.
rational exact_partial(const HeadSlice<rational>& h, const Mat<rational>& dr,
                       const std::function<void(HeadSlice<ExactDual>&)>& seed) {
  auto lift = [](const auto& m) { return m.unaryExpr([](const rational& x) { return ExactDual(x); }).eval(); };
  HeadSlice<ExactDual> d;
  d.q = lift(h.q);
  d.k = lift(h.k);
  d.w = lift(h.w);
  d.v = lift(h.v);
  d.beta = lift(h.beta);
  seed(d);
  const Mat<ExactDual> r = naive_raw_logits(d);
  ExactDual sum = ExactDual(rational(0));
  for (index_t i = 0; i < r.rows(); ++i)
    for (index_t j = 0; j <= i; ++j) sum += dr(i, j) * r(i, j);
  return testing::derivative_of(sum);
}

void expect_exact_raw_gradients(const HeadSlice<rational>& h, const Mat<rational>& dr, const std::string& what) {
  const RawLogitGradients<rational> g = raw_logit_backward(h, dr);
  const auto one = [](const rational& x) { return testing::dual<rational>(x, rational(1)); };
  for (index_t t = 0; t < h.length(); ++t) {
    for (index_t d = 0; d < h.q.cols(); ++d) {
      EXPECT_EQ(g.dq(t, d), exact_partial(h, dr, [&](auto& x) { x.q(t, d) = one(h.q(t, d)); })) << what << " dq " << t;
      EXPECT_EQ(g.dk(t, d), exact_partial(h, dr, [&](auto& x) { x.k(t, d) = one(h.k(t, d)); })) << what << " dk " << t;
      EXPECT_EQ(g.dw(t, d), exact_partial(h, dr, [&](auto& x) { x.w(t, d) = one(h.w(t, d)); })) << what << " dw " << t;
    }
    EXPECT_EQ(g.dbeta(t), exact_partial(h, dr, [&](auto& x) { x.beta(t) = one(h.beta(t)); })) << what << " dbeta " << t;
  }
}

TEST(RawLogitBackward, EqualsExactPartialDerivativesInRationals) {
  auto rng = testing::rng_for("backward/exact");
  for (const Shape& shape : {Shape{1, 1, 1, 1, 3, 1}, Shape{1, 6, 1, 1, 3, 1}, Shape{1, 9, 1, 1, 2, 1},
                             Shape{1, 5, 1, 1, 1, 1}}) {
    for (int trial = 0; trial < 2; ++trial) {
      const Problem<double> pd = testing::random_problem({shape, false, GateConvention::paper, {}, ValueStyle::dyadic}, rng);
      const HeadSlice<rational> h = extract_slice(convert_problem<rational>(pd), {0, 0, shape.T}, 0);
      Mat<rational> dr = zeros<rational>(shape.T, shape.T);
      for (index_t i = 0; i < shape.T; ++i)
        for (index_t j = 0; j <= i; ++j) dr(i, j) = testing::dyadic(rng);
      expect_exact_raw_gradients(h, dr, "T=" + std::to_string(shape.T) + " D=" + std::to_string(shape.D) + "; " +
                                            testing::seed_note());
    }
  }
}

// ---- the independent golden case ----

// Acceptance: relative error under 1e-12 in double. The golden values are correct to ~1 ulp; the
// double backward's own error is a few hundred ulps at most for T = 4 (sums of < 50 terms, products
// of <= 4 contractive-size H), far below 1e-12 relative to the largest element of each gradient.
TEST(BackwardGolden, DoubleWithinRelative1e12) {
  const io::TensorFile f = io::read_safetensors(std::string(PATH_GOLDEN_DIR) + "/grad_gqa_paper_gate.safetensors");
  const Problem<double> p = io::read_problem(f).problem;
  const BackwardResult<double> g = backward(p, f.require("do").values);
  const std::pair<const char*, const std::vector<double>*> outputs[] = {
      {"dq", &g.dq}, {"dk", &g.dk}, {"dv", &g.dv}, {"dw", &g.dw}, {"dbeta", &g.dbeta}, {"dg", &g.dg}};
  for (const auto& [name, got] : outputs) {
    const std::vector<double>& want = f.require(name).values;
    ASSERT_EQ(got->size(), want.size()) << name;
    EXPECT_LT(testing::max_abs_error(*got, want), 1e-12 * testing::max_abs(want)) << name;
  }
  // H_0 never enters a logit: its gradients are exactly zero.
  for (index_t d = 0; d < p.shape.D; ++d) EXPECT_EQ(g.dw[static_cast<std::size_t>(d)], 0.0);
  EXPECT_EQ(g.dbeta[0], 0.0);
}

// ---- bad input ----

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InvalidProblem& e) {
    return e.what();
  }
  return "";
}

TEST(BackwardBadInput, RejectsAnOutputGradientOfTheWrongShapeOrNotFinite) {
  auto rng = testing::rng_for("backward/bad");
  const Problem<double> p = testing::random_problem({{1, 4, 2, 1, 3, 2}, true, GateConvention::paper, {}, ValueStyle::gaussian}, rng);
  std::vector<double> dO(p.shape.o_size(), 0.5);
  std::vector<double> short_dO(dO.begin(), dO.end() - 1);
  std::string msg = error_of([&] { backward(p, short_dO); });
  EXPECT_NE(msg.find("'do'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1, 4, 2, 2]"), std::string::npos) << msg;
  dO[3] = std::numeric_limits<double>::quiet_NaN();
  msg = error_of([&] { backward(p, dO); });
  EXPECT_NE(msg.find("'do'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not finite"), std::string::npos) << msg;
  // Bad problems are refused as by the forward.
  Problem<double> bad = p;
  bad.beta[1] = std::numeric_limits<double>::infinity();
  dO[3] = 0;
  msg = error_of([&] { backward(bad, dO); });
  EXPECT_NE(msg.find("'beta'"), std::string::npos) << msg;
  bad = p;
  bad.shape.T = 0;
  msg = error_of([&] { backward(bad, std::vector<double>{}); });
  EXPECT_NE(msg.find("sequence length T"), std::string::npos) << msg;
}

}  // namespace
}  // namespace path
