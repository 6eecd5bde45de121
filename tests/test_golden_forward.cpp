// The forward golden cases (computed independently of this project, 60 digits, rounded to f64;
// tests/data/golden/README.md): conventions for GQA, both gate conventions, varlen and lse.
// Acceptance: relative error under 1e-13 in double; within 2 ulps of f64 at mp100 (the golden
// values are correct to about 1 ulp, and an mp100 result rounded to double adds at most 1/2 ulp).
#include <gtest/gtest.h>

#include "path/forward.hpp"
#include "path/io/problem_file.hpp"
#include "support/compare.hpp"

namespace path {
namespace {

struct Golden {
  Problem<double> problem;
  std::vector<double> o, lse;
};

Golden load(const std::string& name) {
  const io::TensorFile f = io::read_safetensors(std::string(PATH_GOLDEN_DIR) + "/" + name + ".safetensors");
  return {io::read_problem(f).problem, f.require("o").values, f.require("lse").values};
}

class GoldenForward : public ::testing::TestWithParam<const char*> {};

TEST_P(GoldenForward, DoubleWithinRelative1e13ForEveryAlgorithm) {
  const Golden g = load(GetParam());
  for (const ForwardOptions opt : {ForwardOptions{Algorithm::naive, 1}, ForwardOptions{Algorithm::ut, 1},
                                   ForwardOptions{Algorithm::blockwise, 1}, ForwardOptions{Algorithm::blockwise, 4},
                                   ForwardOptions{Algorithm::blockwise, 64}}) {
    const ForwardResult<double> r = forward(g.problem, opt);
    const std::string what = std::string(to_string(opt.algorithm)) + " block " + std::to_string(opt.block_size);
    EXPECT_LT(testing::max_abs_error(r.o, g.o), 1e-13 * testing::max_abs(g.o)) << what << ": o";
    EXPECT_LT(testing::max_abs_error(r.lse, g.lse), 1e-13 * testing::max_abs(g.lse)) << what << ": lse";
  }
}

TEST_P(GoldenForward, Mp100WithinTwoUlpsOfDouble) {
  const Golden g = load(GetParam());
  for (Algorithm a : {Algorithm::naive, Algorithm::ut, Algorithm::blockwise}) {
    const ForwardResult<mp100> r = forward(convert_problem<mp100>(g.problem), ForwardOptions{a, 3});
    for (std::size_t i = 0; i < g.o.size(); ++i)
      EXPECT_LE(testing::ulp_distance(to_double(r.o[i]), g.o[i]), 2u) << to_string(a) << ": o[" << i << "]";
    for (std::size_t i = 0; i < g.lse.size(); ++i)
      EXPECT_LE(testing::ulp_distance(to_double(r.lse[i]), g.lse[i]), 2u) << to_string(a) << ": lse[" << i << "]";
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenForward,
                         ::testing::Values("fwd_gqa_paper_gate", "fwd_fla_gate", "fwd_varlen_nogate",
                                           "grad_gqa_paper_gate", "decode_prefill_cache"));

}  // namespace
}  // namespace path
