// Trust chain, second and third links (docs/design.md section 2): in multiprecision the three oracles
// agree to their precision, and double agrees with mp100 within the error model of
// docs/error-model.md (linear growth in T) on random cases up to T = 1024. Also the precision
// emulation that tolerances are built from (docs/tolerance.md).
#include <gtest/gtest.h>

#include <iostream>

#include "path/emulation.hpp"
#include "path/forward.hpp"
#include "support/compare.hpp"
#include "path/error_model.hpp"
#include "support/random_problem.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

template <class S>
ForwardResult<S> run(const Problem<double>& p, Algorithm a, index_t block = 16) {
  return forward(convert_problem<S>(p), ForwardOptions{a, block});
}

template <class S>
void expect_within_bound(const ForwardResult<S>& got, const ForwardResult<mp100>& exact, const error_model::ForwardBound& b,
                         const std::string& what) {
  const double eo = testing::max_abs_error(got.o, exact.o), el = testing::max_abs_error(got.lse, exact.lse);
  std::cerr << "  " << what << ": |do| = " << eo << " (bound " << b.o << "), |dlse| = " << el << " (bound " << b.lse
            << ")\n";
  EXPECT_LE(eo, b.o) << what << ": o; " << testing::seed_note();
  EXPECT_LE(el, b.lse) << what << ": lse; " << testing::seed_note();
}

TEST(Precision, Mp100OraclesAgreeToTheirPrecision) {
  auto rng = testing::rng_for("mp100-agree");
  const Problem<double> p = testing::random_problem({{1, 23, 2, 1, 6, 3}, true, GateConvention::paper}, rng);
  const ForwardResult<mp100> naive = run<mp100>(p, Algorithm::naive);
  // Each algorithm is within the bound of the exact result, so two of them within twice that.
  error_model::ForwardBound b = error_model::forward_error_bound(p, std::pow(2.0, -332));
  b.o *= 2;
  b.lse *= 2;
  expect_within_bound(run<mp100>(p, Algorithm::ut), naive, b, "mp100 ut vs naive");
  for (index_t block : {1, 5, 16, 23, 64})
    expect_within_bound(run<mp100>(p, Algorithm::blockwise, block), naive, b,
                        "mp100 blockwise " + std::to_string(block) + " vs naive");
}

TEST(Precision, QuadAgreesWithMp100) {
  auto rng = testing::rng_for("quad");
  const Problem<double> p = testing::random_problem({{1, 40, 1, 1, 8, 4}, true, GateConvention::fla}, rng);
  const ForwardResult<mp100> exact = run<mp100>(p, Algorithm::naive);
  const error_model::ForwardBound b = error_model::forward_error_bound(p, std::pow(2.0, -113));
  for (Algorithm a : {Algorithm::naive, Algorithm::ut, Algorithm::blockwise})
    expect_within_bound(run<quad>(p, a, 8), exact, b, std::string("quad ") + std::string(to_string(a)));
}

// float and long double run the same templates; each stays within the model at its own u.
TEST(Precision, FloatAndLongDoubleWithinErrorModel) {
  auto rng = testing::rng_for("float-long-double");
  const Problem<double> p = testing::random_problem({{2, 50, 2, 1, 12, 4}, true, GateConvention::paper}, rng);
  const ForwardResult<mp100> exact = run<mp100>(p, Algorithm::naive);
  // float: the inputs themselves are rounded to float (relative 2^-24 each), which the model
  // covers as one more step of the sweep.
  const error_model::ForwardBound bf = error_model::forward_error_bound(p, std::pow(2.0, -24));
  const error_model::ForwardBound bl = error_model::forward_error_bound(p, std::pow(2.0, -64));
  for (Algorithm a : {Algorithm::naive, Algorithm::ut, Algorithm::blockwise}) {
    expect_within_bound(run<float>(p, a, 8), exact, bf, std::string("float ") + std::string(to_string(a)));
    expect_within_bound(run<long double>(p, a, 8), exact, bl, std::string("long double ") + std::string(to_string(a)));
  }
}

class DoubleVsMp100 : public ::testing::TestWithParam<index_t> {};

TEST_P(DoubleVsMp100, WithinErrorModel) {
  const index_t T = GetParam();
  auto rng = testing::rng_for("double-vs-mp100/" + std::to_string(T));
  const Problem<double> p = testing::random_problem({{1, T, 1, 1, 16, 4}, true, GateConvention::paper}, rng);
  const ForwardResult<mp100> exact = run<mp100>(p, Algorithm::blockwise, 64);
  const error_model::ForwardBound b = error_model::forward_error_bound(p, std::pow(2.0, -53));
  for (Algorithm a : {Algorithm::naive, Algorithm::ut, Algorithm::blockwise}) {
    if (a == Algorithm::ut && T > 300) continue;  // O(T^3): the other two cover long T
    expect_within_bound(run<double>(p, a, 64), exact, b, "T=" + std::to_string(T) + " double " + std::string(to_string(a)));
  }
}

INSTANTIATE_TEST_SUITE_P(Lengths, DoubleVsMp100, ::testing::Values(1, 7, 64, 257, 1024));

// The emulation really rounds: bf16 output elements are bf16 numbers, and its error against the
// exact result on the same (already bf16) inputs stays within the fp32 error model plus the
// rounding of probabilities and output to bf16 (2^-9 relative each, docs/tolerance.md).
TEST(Emulation, Bf16RoundsOutputsAndStaysWithinModel) {
  auto rng = testing::rng_for("emulation-bf16");
  Problem<double> p = testing::random_problem({{1, 96, 2, 1, 16, 8}, true, GateConvention::fla}, rng);
  for (auto* t : {&p.q, &p.k, &p.v})
    for (double& x : *t) x = round_to(static_cast<float>(x), DType::BF16);
  for (auto* t : {&p.w, &p.beta, &p.g})
    for (double& x : *t) x = static_cast<float>(x);
  p.scale = static_cast<float>(p.scale);
  const ForwardResult<double> emu = emulate_forward(p, DType::BF16);
  for (double x : emu.o) ASSERT_EQ(x, round_to(static_cast<float>(x), DType::BF16));
  const ForwardResult<mp100> exact = run<mp100>(p, Algorithm::naive);
  error_model::ForwardBound b = error_model::forward_error_bound(p, std::pow(2.0, -24));
  const double max_v = testing::max_abs(p.v), bf16_u = std::pow(2.0, -9);
  b.o += 2 * bf16_u * max_v;
  const double err = testing::max_abs_error(emu.o, exact.o);
  std::cerr << "  bf16 emulation |do| = " << err << " (bound " << b.o << ")\n";
  EXPECT_LE(err, b.o);
  EXPECT_GT(err, 1e-6 * max_v) << "a bf16 baseline this accurate has not rounded anything";
  EXPECT_LE(testing::max_abs_error(emu.lse, exact.lse), b.lse);
}

TEST(Emulation, Fp32WithinFp32Model) {
  auto rng = testing::rng_for("emulation-fp32");
  Problem<double> p = testing::random_problem({{1, 200, 1, 1, 32, 8}, false, GateConvention::paper}, rng);
  for (auto* t : {&p.q, &p.k, &p.v, &p.w, &p.beta})
    for (double& x : *t) x = static_cast<float>(x);
  p.scale = static_cast<float>(p.scale);
  const ForwardResult<double> emu = emulate_forward(p, DType::F32);
  const ForwardResult<mp100> exact = run<mp100>(p, Algorithm::naive);
  const error_model::ForwardBound b = error_model::forward_error_bound(p, std::pow(2.0, -24));
  EXPECT_LE(testing::max_abs_error(emu.o, exact.o), b.o + std::pow(2.0, -24) * testing::max_abs(exact.o));
  EXPECT_LE(testing::max_abs_error(emu.lse, exact.lse), b.lse);
}

}  // namespace
}  // namespace path
