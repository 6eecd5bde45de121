// pathcheck eval end to end: a golden case evaluated through the command line, and every kind of
// bad input of the forward issue: a clear message naming the tensor and the problem, a non-zero
// exit, and nothing written (or written over).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <functional>

#include "path/io/problem_file.hpp"
#include "support/cli.hpp"
#include "support/compare.hpp"

namespace path {
namespace {

using testing::run_pathcheck;
using testing::TempDir;

const std::string golden_gqa = std::string(PATH_GOLDEN_DIR) + "/fwd_gqa_paper_gate.safetensors";

class CliEval : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::pathcheck_binary().empty()) GTEST_FAIL() << "PATHCHECK_BIN is not set (run through ctest)";
  }
};

TEST_F(CliEval, GoldenCaseThroughEveryOracleAndPrecision) {
  TempDir dir("eval-golden");
  const io::TensorFile golden = io::read_safetensors(golden_gqa);
  for (const std::string oracle : {"naive", "ut", "blockwise"})
    for (const std::string precision : {"double", "quad", "mp100"}) {
      const std::string out = dir.file(oracle + "-" + precision + ".safetensors");
      const auto r = run_pathcheck("eval --in '" + golden_gqa + "' --out '" + out + "' --oracle " + oracle +
                                   " --block 4 --precision " + precision);
      ASSERT_EQ(r.exit_code, 0) << r.output;
      const io::TensorFile result = io::read_safetensors(out);
      EXPECT_EQ(result.require("o").shape, (std::vector<int64_t>{2, 6, 4, 2}));
      EXPECT_LT(testing::max_abs_error(result.require("o").values, golden.require("o").values), 1e-13)
          << oracle << " " << precision;
      EXPECT_LT(testing::max_abs_error(result.require("lse").values, golden.require("lse").values), 1e-13);
      EXPECT_EQ(result.metadata.at("oracle"), oracle);
      EXPECT_EQ(result.metadata.at("precision"), precision);
    }
}

TEST_F(CliEval, KeepsAnExistingOutputAndTheInput) {
  TempDir dir("eval-keep");
  const std::string out = dir.file("out.safetensors");
  { std::ofstream(out) << "precious"; }
  auto r = run_pathcheck("eval --in '" + golden_gqa + "' --out '" + out + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("exists"), std::string::npos) << r.output;
  EXPECT_EQ(testing::read_text(out), "precious");
  // --force overwrites the output, but never the input.
  const std::string in_copy = dir.file("in.safetensors");
  std::filesystem::copy_file(golden_gqa, in_copy);
  const std::string before = testing::read_text(in_copy);
  r = run_pathcheck("eval --in '" + in_copy + "' --out '" + in_copy + "' --force");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("input"), std::string::npos) << r.output;
  EXPECT_EQ(testing::read_text(in_copy), before);
}

TEST_F(CliEval, RejectsBadArguments) {
  TempDir dir("eval-args");
  const std::string out = dir.file("out.safetensors");
  for (const std::string args : {"--oracle magic", "--precision half", "--block 0", "--block x", "--frobnicate"}) {
    const auto r = run_pathcheck("eval --in '" + golden_gqa + "' --out '" + out + "' " + args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_FALSE(std::filesystem::exists(out)) << args;
  }
}

// A valid small case, then one mutation per bad-input kind.
io::TensorFile valid_case() {
  io::TensorFile f;
  auto ramp = [](std::size_t n, double step) {
    std::vector<double> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = std::sin(step * static_cast<double>(i + 1));
    return x;
  };
  io::put_tensor(f, "q", {1, 4, 2, 3}, ramp(24, 0.7));
  io::put_tensor(f, "k", {1, 4, 1, 3}, ramp(12, 1.1));
  io::put_tensor(f, "v", {1, 4, 1, 2}, ramp(8, 0.3));
  io::put_tensor(f, "w", {1, 4, 1, 3}, ramp(12, 0.5));
  io::put_tensor(f, "beta", {1, 4, 1}, {0.5, 1.0, 1.5, 2.0});
  io::put_tensor(f, "g", {1, 4, 2}, {-0.1, -0.2, -0.3, -0.4, -0.5, -0.6, -0.7, -0.8});
  io::put_tensor(f, "cu_seqlens", {3}, {0, 1, 4}, io::DType::I64);
  f.metadata["scale"] = "0.5";
  f.metadata["gate_convention"] = "fla";
  return f;
}

struct BadInput {
  const char* name;
  std::function<void(io::TensorFile&)> mutate;
  std::vector<std::string> message_parts;
};

TEST_F(CliEval, BadInputsNameTensorAndProblem) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const std::vector<BadInput> cases = {
      {"missing w", [](io::TensorFile& f) { f.tensors.erase("w"); }, {"'w'"}},
      {"k head dim", [](io::TensorFile& f) { io::put_tensor(f, "k", {1, 4, 1, 2}, std::vector<double>(8, 0.5)); }, {"'k'", "shape"}},
      {"beta rank", [](io::TensorFile& f) { io::put_tensor(f, "beta", {1, 4}, {1, 1, 1, 1}); }, {"'beta'", "rank"}},
      {"heads not divisible", [](io::TensorFile& f) { io::put_tensor(f, "q", {1, 4, 3, 3}, std::vector<double>(36, 0.1));
                                                      io::put_tensor(f, "g", {1, 4, 3}, std::vector<double>(12, -0.1));
                                                      io::put_tensor(f, "k", {1, 4, 2, 3}, std::vector<double>(24, 0.1));
                                                      io::put_tensor(f, "w", {1, 4, 2, 3}, std::vector<double>(24, 0.1));
                                                      io::put_tensor(f, "v", {1, 4, 2, 2}, std::vector<double>(16, 0.1));
                                                      io::put_tensor(f, "beta", {1, 4, 2}, std::vector<double>(8, 1)); },
       {"'q'", "not a multiple"}},
      {"cu_seqlens non-monotone", [](io::TensorFile& f) { io::put_tensor(f, "cu_seqlens", {4}, {0, 3, 2, 4}, io::DType::I64); },
       {"'cu_seqlens'", "non-decreasing"}},
      {"cu_seqlens out of range", [](io::TensorFile& f) { io::put_tensor(f, "cu_seqlens", {3}, {0, 2, 9}, io::DType::I64); },
       {"'cu_seqlens'", "end at T"}},
      {"cu_seqlens float", [](io::TensorFile& f) { io::put_tensor(f, "cu_seqlens", {3}, {0, 2, 4}); }, {"'cu_seqlens'", "dtype"}},
      {"NaN in q", [nan](io::TensorFile& f) { f.tensors["q"].values[5] = nan; }, {"'q'", "not finite"}},
      {"Inf in beta", [inf](io::TensorFile& f) { f.tensors["beta"].values[2] = inf; }, {"'beta'", "not finite"}},
      {"integer q", [](io::TensorFile& f) { f.tensors["q"].dtype = io::DType::I32; for (double& x : f.tensors["q"].values) x = 1; },
       {"'q'", "unsupported dtype"}},
      {"unknown gate convention", [](io::TensorFile& f) { f.metadata["gate_convention"] = "log2"; }, {"gate_convention", "log2"}},
      {"gate without convention", [](io::TensorFile& f) { f.metadata.erase("gate_convention"); }, {"gate_convention", "required"}},
      {"bad scale", [](io::TensorFile& f) { f.metadata["scale"] = "0.5x"; }, {"scale"}},
      {"T = 0", [](io::TensorFile& f) { for (const char* n : {"q", "k", "v", "w", "beta", "g"}) { f.tensors[n].shape[1] = 0; f.tensors[n].values.clear(); }
                                        f.tensors.erase("cu_seqlens"); }, {"sequence length"}},
  };
  TempDir dir("eval-bad");
  for (const BadInput& c : cases) {
    io::TensorFile f = valid_case();
    c.mutate(f);
    const std::string in = dir.file("bad.safetensors"), out = dir.file("out.safetensors");
    io::write_safetensors(in, f, true);
    const auto r = run_pathcheck("eval --in '" + in + "' --out '" + out + "'");
    EXPECT_EQ(r.exit_code, 1) << c.name << ": " << r.output;
    EXPECT_NE(r.output.find(in), std::string::npos) << c.name << ": the message names the file: " << r.output;
    for (const std::string& part : c.message_parts)
      EXPECT_NE(r.output.find(part), std::string::npos) << c.name << ": expected '" << part << "' in: " << r.output;
    EXPECT_FALSE(std::filesystem::exists(out)) << c.name << ": nothing may be written";
  }
  // The unmutated case is accepted: the failures above are the mutations' doing.
  const std::string in = dir.file("good.safetensors"), out = dir.file("good-out.safetensors");
  io::write_safetensors(in, valid_case(), true);
  const auto r = run_pathcheck("eval --in '" + in + "' --out '" + out + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(CliEval, TruncatedFileIsAnErrorNotACrash) {
  TempDir dir("eval-trunc");
  const std::string bytes = testing::read_text(golden_gqa);
  const std::string in = dir.file("trunc.safetensors"), out = dir.file("out.safetensors");
  for (std::size_t cut : {std::size_t{0}, std::size_t{5}, std::size_t{100}, bytes.size() - 1}) {
    { std::ofstream(in, std::ios::binary | std::ios::trunc) << bytes.substr(0, cut); }
    const auto r = run_pathcheck("eval --in '" + in + "' --out '" + out + "'");
    EXPECT_EQ(r.exit_code, 1) << "cut at " << cut << ": " << r.output;
    EXPECT_NE(r.output.find(in), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(out));
  }
  const auto r = run_pathcheck("eval --in '" + dir.file("absent.safetensors") + "' --out '" + out + "'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
}

}  // namespace
}  // namespace path
