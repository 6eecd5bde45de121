// The decode oracle (docs/decode.md): a key cache updated in place by each token's Householder
// transformation, then gated softmax attention; and prefill-to-cache by suffix products.
//  - exact rationals: every decode step's logits equal the forward oracle's row, entry for entry,
//    with and without prefill; the prefill cache (any block size) equals applying the
//    transformations one at a time;
//  - floating: every step's output equals the forward's row within the forward error model
//    (double) or to 100 digits (mp100);
//  - the independent golden decode case; bad input (a cache from a different head layout).
#include <gtest/gtest.h>

#include <functional>

#include "path/decode.hpp"
#include "path/forward.hpp"
#include "path/io/problem_file.hpp"
#include "support/compare.hpp"
#include "path/error_model.hpp"
#include "support/random_problem.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

using testing::ProblemSpec;
using testing::ValueStyle;

struct DecodeCase {
  const char* name;
  Shape shape;
  bool gate;
  GateConvention convention;
  std::vector<index_t> cu_seqlens;
};

void PrintTo(const DecodeCase& c, std::ostream* os) { *os << c.name; }

const DecodeCase decode_cases[] = {
    {"plain", {2, 7, 1, 1, 3, 2}, false, GateConvention::paper, {}},
    {"T1", {1, 1, 1, 1, 2, 2}, false, GateConvention::paper, {}},
    {"gqa_paper", {1, 9, 4, 2, 3, 2}, true, GateConvention::paper, {}},
    {"gqa_fla", {1, 8, 2, 1, 4, 3}, true, GateConvention::fla, {}},
    {"varlen", {1, 10, 2, 1, 3, 2}, true, GateConvention::paper, {0, 4, 4, 5, 10}},
};

// ---- exact rationals ----

// Decodes sequence `seq` from a prefill of n tokens, checking each step's logits against `want`
// (the forward's final logits of that sequence and query head, all heads).
void expect_steps_match_forward(const Problem<rational>& p, const SequenceRange& seq, index_t n, index_t block,
                                const std::vector<HeadLogits<rational>>& want, const std::string& what) {
  DecodeCache<rational> c = prefill_cache(p, seq, n, block);
  for (index_t t = n; t < seq.length; ++t) {
    const DecodeToken<rational> x = token_of(p, seq.batch, seq.begin + t);
    append_token(c, x);
    const Mat<rational> s = newest_logits(c, x.q);
    ASSERT_EQ(s.cols(), t + 1);
    for (const HeadLogits<rational>& w : want) {
      if (w.sequence.begin != seq.begin || w.sequence.batch != seq.batch) continue;
      for (index_t j = 0; j <= t; ++j)
        ASSERT_EQ(s(w.query_head, j), w.logits(t, j))
            << what << ": step " << t << " head " << w.query_head << " key " << j << "; " << testing::seed_note();
    }
  }
}

class Decode : public ::testing::TestWithParam<DecodeCase> {
 protected:
  Problem<double> random(path::random::Rng& rng, ValueStyle style) const {
    const DecodeCase& c = GetParam();
    return testing::random_problem({c.shape, c.gate, c.convention, c.cu_seqlens, style}, rng);
  }
};

TEST_P(Decode, EveryStepsLogitsEqualTheForwardRowExactly) {
  auto rng = testing::rng_for(std::string("decode/exact/") + GetParam().name);
  for (int trial = 0; trial < 2; ++trial) {
    const Problem<rational> p = convert_problem<rational>(random(rng, ValueStyle::dyadic));
    const auto want = logits(p, ForwardOptions{Algorithm::naive, 1});
    for (const SequenceRange& seq : sequences_of(p.shape, p.cu_seqlens))
      for (index_t n = 0; n <= seq.length; ++n)
        expect_steps_match_forward(p, seq, n, 1 + (n + trial) % 3, want,
                                   std::string(GetParam().name) + " prefill " + std::to_string(n));
  }
}

// The definition: a cache fed one token at a time by append_token.
DecodeCache<rational> sequential_cache(const Problem<rational>& p, const SequenceRange& seq, index_t n) {
  DecodeCache<rational> c = empty_cache<rational>(layout_of(p.shape), p.scale, p.gate_convention, p.has_gate());
  for (index_t t = 0; t < n; ++t) append_token(c, token_of(p, seq.batch, seq.begin + t));
  return c;
}

TEST_P(Decode, PrefillEqualsOneTransformationAtATimeExactly) {
  auto rng = testing::rng_for(std::string("decode/prefill/") + GetParam().name);
  const Problem<rational> p = convert_problem<rational>(random(rng, ValueStyle::dyadic));
  for (const SequenceRange& seq : sequences_of(p.shape, p.cu_seqlens))
    for (index_t n = 0; n <= seq.length; ++n) {
      const DecodeCache<rational> want = sequential_cache(p, seq, n);
      for (index_t block = 1; block <= n + 1; ++block) {
        const DecodeCache<rational> got = prefill_cache(p, seq, n, block);
        const std::string what = "n " + std::to_string(n) + " block " + std::to_string(block) + "; " + testing::seed_note();
        ASSERT_EQ(got.length(), n) << what;
        ASSERT_EQ(got.keys.size(), want.keys.size()) << what;
        for (std::size_t h = 0; h < got.keys.size(); ++h) {
          ASSERT_EQ(got.keys[h].rows(), want.keys[h].rows()) << what;
          EXPECT_EQ(got.keys[h], want.keys[h]) << what;
          EXPECT_EQ(got.values[h], want.values[h]) << what;
        }
        EXPECT_EQ(got.gates, want.gates) << what;
      }
    }
}

// ---- floating ----

// Tolerance, double: the decode step forms r_tj = (H_t ... H_{j+1} k_j) . q_t, the naive products
// applied to the key instead of the query: the same operations in mirror image, so the forward
// error model (path/error_model.hpp, docs/error-model.md; ||w|| = 1, beta in [0, 2] as
// the gaussian problems have) bounds each one's error against the exact o; the two differ by at
// most twice that bound. The prefilled rows come from the blockwise forward (within the same bound).
TEST_P(Decode, EveryStepsOutputEqualsTheForwardRowInDouble) {
  auto rng = testing::rng_for(std::string("decode/double/") + GetParam().name);
  const Problem<double> p = random(rng, ValueStyle::gaussian);
  const ForwardResult<double> f = forward(p, ForwardOptions{Algorithm::naive, 1});
  const error_model::ForwardBound bound = error_model::forward_error_bound(p, unit_roundoff<double>());
  for (index_t n : {index_t(0), index_t(1), index_t(3), p.shape.T}) {
    n = std::min(n, p.shape.T);
    const DecodeResult<double> d = decode(p, DecodeOptions{n, ForwardOptions{Algorithm::blockwise, 2}, 2});
    EXPECT_LE(testing::max_abs_error(d.o, f.o), 2 * bound.o) << "prefill " << n << "; " << testing::seed_note();
    EXPECT_LE(testing::max_abs_error(d.lse, f.lse), 2 * bound.lse) << "prefill " << n << "; " << testing::seed_note();
  }
}

// Tolerance, mp100 (u ~ 5.7e-101): the same model with T <= 10, D <= 4 gives bounds of order
// 10^3 u; 1e-95 leaves a margin of 10^2 and is 80 orders below any wrong logit.
TEST_P(Decode, EveryStepsOutputEqualsTheForwardRowInMp100) {
  auto rng = testing::rng_for(std::string("decode/mp100/") + GetParam().name);
  const Problem<mp100> p = convert_problem<mp100>(random(rng, ValueStyle::gaussian));
  const ForwardResult<mp100> f = forward(p, ForwardOptions{Algorithm::ut, 1});
  for (index_t n : {index_t(0), p.shape.T / 2}) {
    const DecodeResult<mp100> d = decode(p, DecodeOptions{n, ForwardOptions{Algorithm::naive, 1}, 3});
    EXPECT_LE(testing::max_abs_error(d.o, f.o), 1e-95) << "prefill " << n << "; " << testing::seed_note();
    EXPECT_LE(testing::max_abs_error(d.lse, f.lse), 1e-95) << "prefill " << n << "; " << testing::seed_note();
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, Decode, ::testing::ValuesIn(decode_cases),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- the independent golden case ----

// Acceptance: relative error under 1e-12 in double (golden values correct to ~1 ulp; T = 6, D = 3:
// the decode's own error is within the forward model, ~1e-14 here).
TEST(DecodeGolden, DoubleWithinRelative1e12ForEveryPrefill) {
  const io::TensorFile f = io::read_safetensors(std::string(PATH_GOLDEN_DIR) + "/decode_prefill_cache.safetensors");
  const Problem<double> p = io::read_problem(f).problem;
  const std::vector<double>& o = f.require("o").values;
  const std::vector<double>& cache = f.require("k_cache").values;
  for (index_t n = 0; n <= p.shape.T; ++n)
    for (index_t block : {1, 2, 4, 64}) {
      const DecodeResult<double> d = decode(p, DecodeOptions{n, {}, block});
      EXPECT_LT(testing::max_abs_error(d.o, o), 1e-12 * testing::max_abs(o)) << "prefill " << n << " block " << block;
      EXPECT_LT(testing::max_abs_error(d.k_cache, cache), 1e-12 * testing::max_abs(cache))
          << "prefill " << n << " block " << block;
    }
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

TEST(DecodeBadInput, RejectsACacheFromADifferentHeadLayout) {
  auto rng = testing::rng_for("decode/bad");
  const Problem<double> a = testing::random_problem({{1, 4, 2, 1, 3, 2}, true, GateConvention::paper, {}, ValueStyle::gaussian}, rng);
  const Problem<double> b = testing::random_problem({{1, 4, 2, 2, 3, 2}, true, GateConvention::paper, {}, ValueStyle::gaussian}, rng);
  const Problem<double> wide = testing::random_problem({{1, 4, 2, 1, 4, 2}, true, GateConvention::paper, {}, ValueStyle::gaussian}, rng);
  const Problem<double> ungated = testing::random_problem({{1, 4, 2, 1, 3, 2}, false, GateConvention::paper, {}, ValueStyle::gaussian}, rng);
  DecodeCache<double> c = prefill_cache(a, {0, 0, 4}, 2, 64);
  std::string msg = error_of([&] { decode_step(c, token_of(b, 0, 2)); });
  EXPECT_NE(msg.find("'k'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("different head layout"), std::string::npos) << msg;
  msg = error_of([&] { decode_step(c, token_of(wide, 0, 2)); });
  EXPECT_NE(msg.find("'q'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("HQ=2 H=1 D=3 Dv=2"), std::string::npos) << msg;
  msg = error_of([&] { decode_step(c, token_of(ungated, 0, 2)); });
  EXPECT_NE(msg.find("'g'"), std::string::npos) << msg;
  EXPECT_EQ(c.length(), 2) << "a rejected token must leave the cache untouched";
  EXPECT_TRUE(error_of([&] { decode_step(c, token_of(a, 0, 2)); }).empty());
  // Problem-level options.
  msg = error_of([&] { decode(a, DecodeOptions{5, {}, 64}); });
  EXPECT_NE(msg.find("'prefill'"), std::string::npos) << msg;
  msg = error_of([&] { decode(a, DecodeOptions{2, {}, 0}); });
  EXPECT_NE(msg.find("'block'"), std::string::npos) << msg;
  Problem<double> nan = a;
  nan.w[5] = std::numeric_limits<double>::quiet_NaN();
  msg = error_of([&] { decode(nan); });
  EXPECT_NE(msg.find("'w'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace path
