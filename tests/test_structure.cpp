// Structural properties of the forward oracles: GQA equals the replicated-head computation,
// varlen equals separate runs, and both gate conventions equal values computed by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "path/forward.hpp"
#include "support/compare.hpp"
#include "support/random_problem.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

using testing::ProblemSpec;

// The same problem with every kv head copied to its G query heads (H = HQ, no sharing).
Problem<double> replicate_kv_heads(const Problem<double>& p) {
  const Shape& s = p.shape;
  Problem<double> r = p;
  r.shape.H = s.HQ;
  const Shape& t = r.shape;
  r.k.assign(t.k_size(), 0);
  r.w.assign(t.k_size(), 0);
  r.v.assign(t.v_size(), 0);
  r.beta.assign(t.beta_size(), 0);
  for (index_t b = 0; b < s.B; ++b)
    for (index_t pos = 0; pos < s.T; ++pos)
      for (index_t hq = 0; hq < s.HQ; ++hq) {
        const index_t kv = hq / (s.HQ / s.H);
        for (index_t d = 0; d < s.D; ++d) {
          r.k[flat_index(b, pos, hq, d, s.T, t.H, s.D)] = p.k[flat_index(b, pos, kv, d, s.T, s.H, s.D)];
          r.w[flat_index(b, pos, hq, d, s.T, t.H, s.D)] = p.w[flat_index(b, pos, kv, d, s.T, s.H, s.D)];
        }
        for (index_t d = 0; d < s.Dv; ++d)
          r.v[flat_index(b, pos, hq, d, s.T, t.H, s.Dv)] = p.v[flat_index(b, pos, kv, d, s.T, s.H, s.Dv)];
        r.beta[flat_index(b, pos, hq, 0, s.T, t.H, 1)] = p.beta[flat_index(b, pos, kv, 0, s.T, s.H, 1)];
      }
  return r;
}

TEST(Structure, GqaEqualsReplicatedHeads) {
  auto rng = testing::rng_for("gqa");
  const Problem<double> p = testing::random_problem({{2, 11, 6, 2, 5, 3}, true, GateConvention::fla}, rng);
  for (Algorithm a : {Algorithm::naive, Algorithm::ut, Algorithm::blockwise}) {
    const ForwardOptions opt{a, 4};
    const ForwardResult<double> grouped = forward(p, opt), replicated = forward(replicate_kv_heads(p), opt);
    // The same arithmetic on the same numbers in the same order: bit-identical.
    EXPECT_EQ(grouped.o, replicated.o) << to_string(a) << "; " << testing::seed_note();
    EXPECT_EQ(grouped.lse, replicated.lse) << to_string(a);
  }
}

// Extracts tokens [begin, begin + n) of a B = 1 problem as its own problem.
Problem<double> segment(const Problem<double>& p, index_t begin, index_t n) {
  const Shape& s = p.shape;
  Problem<double> r = p;
  r.shape.T = n;
  r.cu_seqlens.clear();
  auto cut = [&](const std::vector<double>& x, index_t per_token) {
    return std::vector<double>(x.begin() + begin * per_token, x.begin() + (begin + n) * per_token);
  };
  r.q = cut(p.q, s.HQ * s.D);
  r.k = cut(p.k, s.H * s.D);
  r.w = cut(p.w, s.H * s.D);
  r.v = cut(p.v, s.H * s.Dv);
  r.beta = cut(p.beta, s.H);
  if (p.has_gate()) r.g = cut(p.g, s.HQ);
  return r;
}

TEST(Structure, VarlenEqualsSeparateRuns) {
  auto rng = testing::rng_for("varlen");
  const std::vector<index_t> cu{0, 1, 1, 6, 13, 14};  // includes an empty and length-1 sequences
  const Problem<double> p = testing::random_problem({{1, 14, 4, 2, 3, 2}, true, GateConvention::paper, cu}, rng);
  for (Algorithm a : {Algorithm::naive, Algorithm::ut, Algorithm::blockwise}) {
    const ForwardOptions opt{a, 3};
    const ForwardResult<double> packed = forward(p, opt);
    for (std::size_t n = 0; n + 1 < cu.size(); ++n) {
      const index_t begin = cu[n], len = cu[n + 1] - cu[n];
      if (len == 0) continue;
      const ForwardResult<double> alone = forward(segment(p, begin, len), opt);
      const Shape& s = p.shape;
      for (std::size_t i = 0; i < alone.o.size(); ++i)
        ASSERT_EQ(alone.o[i], packed.o[static_cast<std::size_t>(begin * s.HQ * s.Dv) + i])
            << to_string(a) << " sequence " << n << "; " << testing::seed_note();
      for (std::size_t i = 0; i < alone.lse.size(); ++i)
        ASSERT_EQ(alone.lse[i], packed.lse[static_cast<std::size_t>(begin * s.HQ) + i]) << to_string(a);
    }
  }
}

// Hand computation, T = 2, D = Dv = 1, one head: q = (1, 2), k = (3, 1), w = (1, 1), beta = (1/2, 1/2),
// v = (10, 20), g = (-1, -2), scale = 1/2. Raw logits: r00 = k0 q0 = 3, r11 = k1 q1 = 2,
// r10 = k0 H_1 q1 = 3 * (1 - 1/2) * 2 = 3 (H_0 never enters). G1 - G0 = g1 = -2.
//   paper: s00 = 1.5, s10 = 1.5 - 2 = -0.5, s11 = 1
//   fla:   s00 = 1.5, s10 = (3 - 2) / 2 = 0.5, s11 = 1
Problem<double> hand_case(GateConvention c) {
  Problem<double> p;
  p.shape = {1, 2, 1, 1, 1, 1};
  p.scale = 0.5;
  p.gate_convention = c;
  p.q = {1, 2};
  p.k = {3, 1};
  p.w = {1, 1};
  p.beta = {0.5, 0.5};
  p.v = {10, 20};
  p.g = {-1, -2};
  return p;
}

void expect_row1(const ForwardResult<double>& r, double s10, double s11) {
  const double e10 = std::exp(s10), e11 = std::exp(s11);
  EXPECT_NEAR(r.o[0], 10.0, 1e-15);
  EXPECT_NEAR(r.o[1], (10 * e10 + 20 * e11) / (e10 + e11), 1e-13);
  EXPECT_NEAR(r.lse[0], 1.5, 1e-15);
  EXPECT_NEAR(r.lse[1], std::log(e10 + e11), 1e-15);
}

TEST(Structure, GateConventionsMatchHandComputation) {
  for (Algorithm a : {Algorithm::naive, Algorithm::naive_matrix, Algorithm::ut, Algorithm::blockwise}) {
    SCOPED_TRACE(std::string(to_string(a)));
    expect_row1(forward(hand_case(GateConvention::paper), {a, 1}), -0.5, 1.0);
    expect_row1(forward(hand_case(GateConvention::fla), {a, 1}), 0.5, 1.0);
  }
}

}  // namespace
}  // namespace path
