// Trust chain, first link (docs/design.md section 2): in exact rational arithmetic the naive products,
// the explicit D x D products, the full masked UT form and the blockwise algorithm (every block
// size) give identical logits, including the edge cases beta in {0, 2}, w = 0, repeated and
// near-colinear w, T = 1, D = 1, T not a multiple of the block.
#include <gtest/gtest.h>

#include "path/forward.hpp"
#include "support/random_problem.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

using testing::ProblemSpec;
using testing::ValueStyle;

std::vector<HeadLogits<rational>> exact_logits(const Problem<rational>& p, Algorithm a, index_t block = 1) {
  return logits(p, ForwardOptions{a, block});
}

void expect_identical(const std::vector<HeadLogits<rational>>& a, const std::vector<HeadLogits<rational>>& b,
                      const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t n = 0; n < a.size(); ++n) {
    const Mat<rational>& x = a[n].logits;
    const Mat<rational>& y = b[n].logits;
    ASSERT_EQ(x.rows(), y.rows());
    for (index_t i = 0; i < x.rows(); ++i)
      for (index_t j = 0; j <= i; ++j)
        ASSERT_EQ(x(i, j), y(i, j)) << what << ": head " << a[n].query_head << " sequence at " << a[n].sequence.begin
                                    << ", logit (" << i << ", " << j << ") " << x(i, j) << " vs " << y(i, j) << "; "
                                    << testing::seed_note();
  }
}

struct ExactCase {
  const char* name;
  Shape shape;
  bool gate;
  GateConvention convention;
};

class ExactLogits : public ::testing::TestWithParam<ExactCase> {};

TEST_P(ExactLogits, AllAlgorithmsAndBlockSizesAgreeExactly) {
  const ExactCase& c = GetParam();
  auto rng = testing::rng_for(std::string("exact/") + c.name);
  for (int trial = 0; trial < 3; ++trial) {
    const Problem<double> pd = testing::random_problem({c.shape, c.gate, c.convention, {}, ValueStyle::dyadic}, rng);
    const Problem<rational> p = convert_problem<rational>(pd);
    const auto reference = exact_logits(p, Algorithm::naive);
    expect_identical(reference, exact_logits(p, Algorithm::ut), "ut vs naive");
    if (c.shape.D <= 4 && c.shape.T <= 12) expect_identical(reference, exact_logits(p, Algorithm::naive_matrix), "matrix vs naive");
    for (index_t block = 1; block <= c.shape.T + 1; ++block)
      expect_identical(reference, exact_logits(p, Algorithm::blockwise, block), "blockwise " + std::to_string(block) + " vs naive");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ExactLogits,
    ::testing::Values(ExactCase{"T1", {1, 1, 1, 1, 3, 2}, false, GateConvention::paper},
                      ExactCase{"D1", {1, 7, 1, 1, 1, 1}, false, GateConvention::paper},
                      ExactCase{"small", {2, 6, 2, 1, 3, 2}, false, GateConvention::paper},
                      ExactCase{"prime_T", {1, 13, 1, 1, 4, 3}, false, GateConvention::paper},
                      ExactCase{"gate_paper", {1, 9, 2, 2, 3, 2}, true, GateConvention::paper},
                      ExactCase{"gate_fla", {1, 9, 2, 1, 3, 2}, true, GateConvention::fla},
                      ExactCase{"wide", {1, 17, 1, 1, 8, 2}, false, GateConvention::paper}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace path
