// pathcheck eval end to end for the backward and decode oracles: gradients when the case holds
// `do` (dg only with g), --decode with and without --prefill, the golden cases through the command
// line, and bad input (a `do` of the wrong shape or not finite, bad --prefill): a clear message,
// a non-zero exit, nothing written.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "path/backward.hpp"
#include "path/decode.hpp"
#include "path/io/problem_file.hpp"
#include "support/cli.hpp"
#include "support/compare.hpp"
#include "support/random_problem.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

using testing::run_pathcheck;
using testing::TempDir;

const std::string golden_grad = std::string(PATH_GOLDEN_DIR) + "/grad_gqa_paper_gate.safetensors";
const std::string golden_decode = std::string(PATH_GOLDEN_DIR) + "/decode_prefill_cache.safetensors";

class CliGradientsDecode : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::pathcheck_binary().empty()) GTEST_FAIL() << "PATHCHECK_BIN is not set (run through ctest)";
  }
};

std::string eval_args(const std::string& in, const std::string& out, const std::string& extra = "") {
  return "eval --in '" + in + "' --out '" + out + "' " + extra;
}

// Acceptance: relative error under 1e-12 in double (golden values correct to ~1 ulp; the oracles'
// own error for these T <= 6 cases is ~1e-15, tests/test_backward.cpp and test_decode.cpp).
void expect_close(const io::TensorFile& got, const io::TensorFile& want, const std::string& name,
                  const std::string& what) {
  ASSERT_TRUE(got.has(name)) << what << ": no tensor " << name;
  EXPECT_EQ(got.require(name).shape, want.require(name).shape) << what << ": " << name;
  const std::vector<double>& w = want.require(name).values;
  EXPECT_LT(testing::max_abs_error(got.require(name).values, w), 1e-12 * testing::max_abs(w)) << what << ": " << name;
}

TEST_F(CliGradientsDecode, GoldenGradientsInEveryPrecision) {
  TempDir dir("grad-golden");
  const io::TensorFile golden = io::read_safetensors(golden_grad);
  for (const std::string precision : {"double", "quad", "mp100"}) {
    const std::string out = dir.file(precision + ".safetensors");
    const auto r = run_pathcheck(eval_args(golden_grad, out, "--precision " + precision));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const io::TensorFile result = io::read_safetensors(out);
    for (const char* name : {"o", "lse", "dq", "dk", "dv", "dw", "dbeta", "dg"}) expect_close(result, golden, name, precision);
    EXPECT_FALSE(result.has("k_cache"));
  }
}

// A random case file (varlen, GQA) with `do`, with or without a gate.
io::TensorFile random_case(bool gate, path::random::Rng& rng) {
  const Shape s{1, 7, 2, 1, 3, 2};
  const Problem<double> p =
      testing::random_problem({s, gate, GateConvention::fla, {0, 3, 3, 7}, testing::ValueStyle::gaussian}, rng);
  io::TensorFile f;
  io::put_tensor(f, "q", {s.B, s.T, s.HQ, s.D}, p.q);
  io::put_tensor(f, "k", {s.B, s.T, s.H, s.D}, p.k);
  io::put_tensor(f, "v", {s.B, s.T, s.H, s.Dv}, p.v);
  io::put_tensor(f, "w", {s.B, s.T, s.H, s.D}, p.w);
  io::put_tensor(f, "beta", {s.B, s.T, s.H}, p.beta);
  if (gate) io::put_tensor(f, "g", {s.B, s.T, s.HQ}, p.g);
  io::put_tensor(f, "cu_seqlens", {4}, {0, 3, 3, 7}, io::DType::I64);
  std::vector<double> dO(s.o_size());
    for (double& x : dO) x = path::random::normal(rng);
  io::put_tensor(f, "do", {s.B, s.T, s.HQ, s.Dv}, dO);
  f.metadata["scale"] = "0.625";
  f.metadata["gate_convention"] = "fla";
  return f;
}

// The command line writes what the library computes: the same double code, so equal bit for bit.
TEST_F(CliGradientsDecode, GradientsEqualTheLibrarysAndDgOnlyWithAGate) {
  TempDir dir("grad-random");
  auto rng = testing::rng_for("cli/gradients");
  for (const bool gate : {true, false}) {
    const io::TensorFile f = random_case(gate, rng);
    const std::string in = dir.file("case.safetensors"), out = dir.file(std::string("out") + (gate ? "g" : "") + ".safetensors");
    io::write_safetensors(in, f, true);
    const auto r = run_pathcheck(eval_args(in, out, "--oracle naive"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const io::TensorFile result = io::read_safetensors(out);
    const BackwardResult<double> want = backward(io::read_problem(f).problem, f.require("do").values);
    const std::pair<const char*, const std::vector<double>*> grads[] = {
        {"dq", &want.dq}, {"dk", &want.dk}, {"dv", &want.dv}, {"dw", &want.dw}, {"dbeta", &want.dbeta}};
    for (const auto& [name, values] : grads) {
      ASSERT_TRUE(result.has(name)) << name;
      EXPECT_EQ(result.require(name).values, *values) << name << "; " << testing::seed_note();
    }
    EXPECT_EQ(result.has("dg"), gate);
    if (gate) {
      EXPECT_EQ(result.require("dg").values, want.dg);
    }
    EXPECT_EQ(result.require("dbeta").shape, (std::vector<int64_t>{1, 7, 1}));
  }
  // Without `do`: no gradients.
  const std::string out = dir.file("forward-only.safetensors");
  const auto r = run_pathcheck(eval_args(golden_decode, out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(io::read_safetensors(out).has("dq"));
}

TEST_F(CliGradientsDecode, GoldenDecodeForEveryPrefill) {
  TempDir dir("decode-golden");
  const io::TensorFile golden = io::read_safetensors(golden_decode);
  for (const std::string prefill : {"", "--prefill 0", "--prefill 1", "--prefill 4", "--prefill 6"})
    for (const std::string precision : {"double", "mp100"}) {
      const std::string out = dir.file("out.safetensors");
      const auto r = run_pathcheck(eval_args(golden_decode, out, "--decode --block 2 --force --precision " + precision + " " + prefill));
      ASSERT_EQ(r.exit_code, 0) << r.output;
      const io::TensorFile result = io::read_safetensors(out);
      for (const char* name : {"o", "lse", "k_cache"}) expect_close(result, golden, name, prefill + " " + precision);
      EXPECT_EQ(result.metadata.at("mode"), "decode");
    }
}

TEST_F(CliGradientsDecode, DecodeOfAVarlenCaseEqualsTheLibrarys) {
  TempDir dir("decode-varlen");
  auto rng = testing::rng_for("cli/decode");
  const io::TensorFile f = random_case(true, rng);
  const std::string in = dir.file("case.safetensors"), out = dir.file("out.safetensors");
  io::write_safetensors(in, f, true);
  const auto r = run_pathcheck(eval_args(in, out, "--decode --prefill 2 --oracle naive --block 3"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const io::TensorFile result = io::read_safetensors(out);
  const DecodeResult<double> want = decode(io::read_problem(f).problem, DecodeOptions{2, {Algorithm::naive, 3}, 3});
  EXPECT_EQ(result.require("o").values, want.o);
  EXPECT_EQ(result.require("k_cache").values, want.k_cache);
  EXPECT_EQ(result.require("k_cache").shape, (std::vector<int64_t>{1, 7, 1, 3}));
  EXPECT_TRUE(result.has("dq")) << "the case holds `do`: gradients come with the decode";
}

TEST_F(CliGradientsDecode, BadOutputGradientOrPrefillIsAClearErrorAndWritesNothing) {
  TempDir dir("grad-bad");
  auto rng = testing::rng_for("cli/bad");
  const std::string in = dir.file("bad.safetensors"), out = dir.file("out.safetensors");
  struct Bad {
    const char* name;
    std::function<void(io::TensorFile&)> mutate;
    std::string extra;
    int exit_code;
    std::vector<std::string> parts;
  };
  const std::vector<Bad> cases = {
      {"do shape", [](io::TensorFile& f) { io::put_tensor(f, "do", {1, 7, 1, 2}, std::vector<double>(14, 0.5)); }, "", 1,
       {"'do'", "[1, 7, 1, 2]", "[1, 7, 2, 2]"}},
      {"do rank", [](io::TensorFile& f) { io::put_tensor(f, "do", {7, 2, 2}, std::vector<double>(28, 0.5)); }, "", 1, {"'do'", "shape"}},
      {"do NaN", [](io::TensorFile& f) { f.tensors["do"].values[3] = std::numeric_limits<double>::quiet_NaN(); }, "", 1,
       {"'do'", "not finite"}},
      {"do integer", [](io::TensorFile& f) { f.tensors["do"].dtype = io::DType::I32; for (double& x : f.tensors["do"].values) x = 1; },
       "", 1, {"'do'", "dtype"}},
      {"prefill beyond T", [](io::TensorFile&) {}, "--decode --prefill 8", 2, {"--prefill", "T = 7"}},
      {"prefill without decode", [](io::TensorFile&) {}, "--prefill 2", 2, {"--prefill", "--decode"}},
      {"negative prefill", [](io::TensorFile&) {}, "--decode --prefill -1", 2, {"--prefill"}},
  };
  for (const Bad& c : cases) {
    io::TensorFile f = random_case(true, rng);
    c.mutate(f);
    io::write_safetensors(in, f, true);
    const auto r = run_pathcheck(eval_args(in, out, c.extra));
    EXPECT_EQ(r.exit_code, c.exit_code) << c.name << ": " << r.output;
    if (c.exit_code == 1) {
      EXPECT_NE(r.output.find(in), std::string::npos) << c.name << ": names the file: " << r.output;
    }
    for (const std::string& part : c.parts)
      EXPECT_NE(r.output.find(part), std::string::npos) << c.name << ": expected '" << part << "' in: " << r.output;
    EXPECT_FALSE(std::filesystem::exists(out)) << c.name << ": nothing may be written";
  }
}

}  // namespace
}  // namespace path
