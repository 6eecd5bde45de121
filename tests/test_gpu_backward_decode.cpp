// GPU backward and decode (gpu/, docs/gpu.md, issue 14), the trust chain's GPU links for them:
//  - the fp64 GPU oracle's backward (gpu/oracle, query-parallel reverse mode) equals the CPU
//    closed-form backward (path::backward<double>, docs/backward.md) and mp100 within the
//    first-order bound derived below from the forward error model (docs/error-model.md); its key
//    cache (the definition, one transformation at a time) equals the CPU decode's: oracle against
//    oracle, no tolerance rule involved;
//  - the plain low-precision backward and decode kernels (gpu/kernels/{backward,decode}) are judged
//    like any implementation under test: gradient and decode cases (hand-made inputs through
//    build_case_from_inputs) run through the "cuda" implementation (adapters/cuda) with
//    conformance::run_cases, and the conformance judge's verdict must be a pass. No private copy of
//    the tolerance rules lives here (docs/design.md section 4);
//  - every check the backward and decode host sides make before a launch (these run everywhere).
// Without a usable GPU the device tests skip with the reason; PATH_GPU_REQUIRE_DEVICE=1 (set by
// scripts/gpu-check.sh) makes that a failure. Random inputs: tests/support/seed.hpp
// (PATHCHECK_SEED=<n> reproduces a run; the seed is printed).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include "path/adapters/cuda_kernels.hpp"
#include "path/backward.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/runner.hpp"
#include "path/conformance/suite.hpp"
#include "path/core/rounding.hpp"
#include "path/decode.hpp"
#include "path/error_model.hpp"
#include "path/gpu/backward.hpp"
#include "path/gpu/backward_error_bound.hpp"
#include "path/gpu/decode.hpp"
#include "path/gpu/device.hpp"
#include "path/gpu/oracle.hpp"
#include "support/gpu_device.hpp"
#include "support/stored_cases.hpp"
#include "support/random_problem.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

using testing::ProblemSpec;
namespace conf = conformance;


// ---------------------------------------------------------------------------------------------
// Oracle against oracle: the backward under path::gpu::gradient_error_bound
// (path/gpu/backward_error_bound.hpp: first order, derived from the forward error model).

using gpu::gradient_error_bound;
using gpu::GradientBound;

struct Error {
  double max_abs = 0;
  std::size_t nonfinite = 0;
};

template <class S>
Error error_of(const std::vector<double>& got, const std::vector<S>& want) {
  Error e;
  EXPECT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size() && i < want.size(); ++i) {
    if (!std::isfinite(got[i])) {
      ++e.nonfinite;
      continue;
    }
    e.max_abs = std::max(e.max_abs, std::abs(to_double(S(got[i]) - want[i])));
  }
  return e;
}

template <class S>
void expect_close(const std::vector<double>& got, const std::vector<S>& want, double bound, const std::string& what) {
  const Error e = error_of(got, want);
  std::cerr << "  " << what << ": max error " << e.max_abs << " (bound " << bound << ", ratio " << e.max_abs / bound
            << ")\n";
  EXPECT_EQ(e.nonfinite, 0u) << what << ": non-finite outputs (unwritten elements are NaN); " << testing::seed_note();
  EXPECT_LE(e.max_abs, bound) << what << "; " << testing::seed_note();
}

template <class S>
void expect_gradients_close(const BackwardResult<double>& got, const BackwardResult<S>& want, const GradientBound& b,
                            double factor, const std::string& what) {
  expect_close(got.dq, want.dq, factor * b.dq, what + " dq");
  expect_close(got.dk, want.dk, factor * b.dk, what + " dk");
  expect_close(got.dv, want.dv, factor * b.dv, what + " dv");
  expect_close(got.dw, want.dw, factor * b.dw, what + " dw");
  expect_close(got.dbeta, want.dbeta, factor * b.dbeta, what + " dbeta");
  ASSERT_EQ(got.dg.size(), want.dg.size()) << what;
  if (!want.dg.empty()) expect_close(got.dg, want.dg, factor * b.dg, what + " dg");
}

std::vector<double> random_do(const Shape& s, path::random::Rng& rng) {
  std::vector<double> dO(s.o_size());
  for (double& x : dO) x = path::random::normal(rng);
  return dO;
}

struct OracleCase {
  std::string name;
  ProblemSpec spec;
};

std::ostream& operator<<(std::ostream& os, const OracleCase& c) { return os << c.name; }

class GpuOracleBackward : public ::testing::TestWithParam<OracleCase> {};

// Each of the two is within the bound of the exact gradient, so they are within twice it.
TEST_P(GpuOracleBackward, MatchesCpuClosedForm) {
  PATH_REQUIRE_GPU();
  const OracleCase& c = GetParam();
  auto rng = testing::rng_for("gpu-oracle-backward/" + c.name);
  const Problem<double> p = testing::random_problem(c.spec, rng);
  const std::vector<double> dO = random_do(p.shape, rng);
  const BackwardResult<double> gpu = gpu::gpu_oracle_backward(p, dO);
  const BackwardResult<double> cpu = backward(p, dO);
  expect_gradients_close(gpu, cpu, gradient_error_bound(p, dO, std::pow(2.0, -53)), 2.0, c.name + " vs CPU");
}

INSTANTIATE_TEST_SUITE_P(
    Problems, GpuOracleBackward,
    ::testing::Values(OracleCase{"plain", {{2, 37, 2, 2, 16, 16}, false, GateConvention::paper, {}}},
                      OracleCase{"gqa_gate_paper", {{1, 70, 4, 2, 32, 32}, true, GateConvention::paper, {}}},
                      OracleCase{"gqa_gate_fla", {{2, 45, 6, 2, 64, 64}, true, GateConvention::fla, {}}},
                      OracleCase{"d_ne_dv_odd_dims", {{1, 53, 2, 1, 13, 29}, true, GateConvention::paper, {}}},
                      OracleCase{"varlen_gqa_fla",
                                 {{1, 100, 4, 2, 32, 16}, true, GateConvention::fla, {0, 0, 1, 17, 17, 64, 100}}},
                      OracleCase{"head_dim_1", {{1, 20, 1, 1, 1, 1}, true, GateConvention::paper, {}}},
                      OracleCase{"head_dim_256", {{1, 33, 2, 1, 256, 256}, true, GateConvention::fla, {}}},
                      OracleCase{"long_700", {{1, 700, 2, 1, 64, 64}, true, GateConvention::paper, {}}}),
    [](const ::testing::TestParamInfo<OracleCase>& info) { return info.param.name; });

// The direct claim, within the bound of the (mp100) exact gradient, both gate conventions, varlen.
TEST(GpuOracleBackwardExact, WithinBoundOfMp100) {
  PATH_REQUIRE_GPU();
  auto rng = testing::rng_for("gpu-oracle-backward-mp100");
  for (GateConvention conv : {GateConvention::paper, GateConvention::fla}) {
    const Problem<double> p = testing::random_problem({{1, 30, 2, 1, 8, 8}, true, conv, {0, 4, 5, 30}}, rng);
    const std::vector<double> dO = random_do(p.shape, rng);
    std::vector<mp100> dO_mp(dO.begin(), dO.end());
    const BackwardResult<mp100> exact = backward(convert_problem<mp100>(p), dO_mp);
    const BackwardResult<double> gpu = gpu::gpu_oracle_backward(p, dO);
    expect_gradients_close(gpu, exact, gradient_error_bound(p, dO, std::pow(2.0, -53)), 1.0,
                           std::string("GPU fp64 vs mp100, gate ") + std::string(to_string(conv)));
  }
}

// The oracle's key cache (each key through the later transformations, one at a time) against the
// CPU decode's (linear-time prefill, docs/decode.md), both in double: every component of a key
// carried through at most L contractions errs by at most chain * K (the forward model's chain).
TEST(GpuOracleKeyCache, MatchesCpuDecode) {
  PATH_REQUIRE_GPU();
  auto rng = testing::rng_for("gpu-oracle-key-cache");
  for (const ProblemSpec& spec : {ProblemSpec{{2, 75, 2, 2, 16, 16}, false, GateConvention::paper, {}},
                                  ProblemSpec{{1, 90, 4, 2, 64, 32}, true, GateConvention::fla, {0, 0, 1, 40, 90}},
                                  ProblemSpec{{1, 33, 1, 1, 256, 16}, false, GateConvention::paper, {}}}) {
    const Problem<double> p = testing::random_problem(spec, rng);
    const std::vector<double> gpu = gpu::gpu_oracle_key_cache(p);
    DecodeOptions opt;
    opt.prefill = p.shape.T;
    const DecodeResult<double> cpu = decode(p, opt);
    const double u = std::pow(2.0, -53), L = static_cast<double>(p.shape.T), D = static_cast<double>(p.shape.D);
    const double bound = (L * (2 * D + 5) + D) * u * error_model::max_row_norm(p.k, p.shape.D);
    expect_close(gpu, cpu.k_cache, 2 * bound, "k_cache T=" + std::to_string(p.shape.T) + " D=" + std::to_string(p.shape.D));
  }
}

// ---------------------------------------------------------------------------------------------
// The kernels under test, through the cuda implementation and the conformance judge.

// Cases rounded and built as a case file is (tests/support/stored_cases.hpp): gradient cases
// (prefill with dO) and decode cases after `prefill` tokens.
conf::CaseInput case_input(const std::string& name, Problem<double> p, std::vector<double> dO, DType dtype,
                           conf::Mode mode, index_t prefill) {
  const testing::StoredCaseKind kind{mode, mode == conf::Mode::prefill, prefill};
  return testing::stored_case_input(name, std::move(p), dtype, kind, "tests/test_gpu_backward_decode.cpp", std::move(dO));
}

std::vector<conf::Case> build_all(std::vector<conf::CaseInput> inputs) {
  return testing::build_stored_cases(std::move(inputs), "test_gpu_backward_decode");
}

using testing::log_verdict;
using testing::report_text;

void expect_all_pass(conf::Implementation& impl, const std::vector<conf::Case>& cases) {
  conf::Report r = conf::run_cases(impl, cases, {});
  r.command = "run";
  r.suite = "test_gpu_backward_decode";
  r.implementation = impl.name();
  for (const conf::CaseVerdict& v : r.cases) log_verdict(v);
  EXPECT_EQ(r.count(conf::Verdict::fail), 0u) << report_text(r) << testing::seed_note();
  EXPECT_EQ(r.count(conf::Verdict::skip), 0u) << report_text(r) << testing::seed_note();
}

// Shapes: GQA with two key tiles and the paper gate; varlen with empty and length-1 sequences and
// the fla gate; no gate with B = 2; D != Dv both ways.
std::vector<ProblemSpec> kernel_layouts(index_t D) {
  return {ProblemSpec{{1, 40, 4, 2, D, D}, true, GateConvention::paper, {}},
          ProblemSpec{{1, 45, 2, 1, D, D}, true, GateConvention::fla, {0, 0, 1, 20, 20, 45}},
          ProblemSpec{{2, 23, 1, 1, D, D == 128 ? 16 : 2 * D}, false, GateConvention::paper, {}}};
}

class GpuBackward : public ::testing::TestWithParam<DType> {};

TEST_P(GpuBackward, PassesTheConformanceJudge) {
  PATH_REQUIRE_GPU();
  const DType dtype = GetParam();
  auto rng = testing::rng_for(std::string("gpu-backward/") + std::string(dtype_label(dtype)));
  std::vector<conf::CaseInput> inputs;
  for (index_t D : gpu::kSupportedHeadDims)
    for (const ProblemSpec& spec : kernel_layouts(D)) {
      Problem<double> p = testing::random_problem(spec, rng);
      std::vector<double> dO = random_do(p.shape, rng);
      const std::string name = "bwd_" + std::string(dtype_label(dtype)) + "_D" + std::to_string(spec.shape.D) + "_Dv" +
                               std::to_string(spec.shape.Dv) + "_T" + std::to_string(spec.shape.T) +
                               (spec.cu_seqlens.empty() ? "" : "_varlen");
      inputs.push_back(case_input(name, std::move(p), std::move(dO), dtype, conf::Mode::prefill, 0));
    }
  adapters::CudaKernelImplementation cuda;
  expect_all_pass(cuda, build_all(std::move(inputs)));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, GpuBackward, ::testing::Values(DType::BF16, DType::F16, DType::F32),
                         [](const ::testing::TestParamInfo<DType>& info) { return std::string(dtype_label(info.param)); });

// Decode cases: prefill 0 (an empty cache), a prefill in the middle and one of the whole sequence
// (no step), over the layouts above; the cuda implementation with one-token steps and with steps of
// 5 tokens (the several-token step kernel, causal within the chunk).
class GpuDecode : public ::testing::TestWithParam<DType> {};

TEST_P(GpuDecode, PassesTheConformanceJudge) {
  PATH_REQUIRE_GPU();
  const DType dtype = GetParam();
  auto rng = testing::rng_for(std::string("gpu-decode/") + std::string(dtype_label(dtype)));
  std::vector<conf::CaseInput> inputs;
  for (index_t D : gpu::kSupportedHeadDims) {
    const std::vector<ProblemSpec> layouts = kernel_layouts(D);
    for (std::size_t l = 0; l < layouts.size(); ++l) {
      const ProblemSpec& spec = layouts[l];
      const index_t prefill = l == 0 ? 17 : l == 1 ? 0 : spec.shape.T;  // varlen: P = 0; plain: P = T
      Problem<double> p = testing::random_problem(spec, rng);
      const std::string name = "dec_" + std::string(dtype_label(dtype)) + "_D" + std::to_string(spec.shape.D) + "_Dv" +
                               std::to_string(spec.shape.Dv) + "_P" + std::to_string(prefill) +
                               (spec.cu_seqlens.empty() ? "" : "_varlen");
      inputs.push_back(case_input(name, std::move(p), {}, dtype, conf::Mode::decode, prefill));
    }
  }
  const std::vector<conf::Case> cases = build_all(std::move(inputs));
  for (long long chunk : {1LL, 5LL}) {
    std::cerr << "  decode steps of " << chunk << " token(s):\n";
    adapters::CudaKernelImplementation cuda(chunk);
    expect_all_pass(cuda, cases);
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, GpuDecode, ::testing::Values(DType::BF16, DType::F16, DType::F32),
                         [](const ::testing::TestParamInfo<DType>& info) { return std::string(dtype_label(info.param)); });

// One small case through every backward and decode path (gate scan, varlen with an empty and a
// length-1 sequence, GQA, several key and query tiles, D != Dv) in every input dtype, and the fp64
// oracle's backward and key cache: what scripts/gpu-check.sh runs under compute-sanitizer.
TEST(GpuSmallBackwardDecode, EveryPathOnce) {
  PATH_REQUIRE_GPU();
  auto rng = testing::rng_for("gpu-small-backward-decode");
  const Problem<double> p =
      testing::random_problem({{1, 70, 4, 2, 32, 16}, true, GateConvention::fla, {0, 0, 1, 38, 70}}, rng);
  const std::vector<double> dO = random_do(p.shape, rng);
  const BackwardResult<double> gpu = gpu::gpu_oracle_backward(p, dO);
  expect_gradients_close(gpu, backward(p, dO), gradient_error_bound(p, dO, std::pow(2.0, -53)), 2.0, "small fp64");
  DecodeOptions opt;
  opt.prefill = p.shape.T;
  const std::vector<double> cache = gpu::gpu_oracle_key_cache(p);
  const double L = static_cast<double>(p.shape.T), D = static_cast<double>(p.shape.D);
  expect_close(cache, decode(p, opt).k_cache,
               2 * (L * (2 * D + 5) + D) * std::pow(2.0, -53) * error_model::max_row_norm(p.k, p.shape.D),
               "small fp64 k_cache");
  std::vector<conf::CaseInput> grads, decodes;
  for (DType t : {DType::BF16, DType::F16, DType::F32}) {
    grads.push_back(case_input("small_bwd_" + std::string(dtype_label(t)), p, dO, t, conf::Mode::prefill, 0));
    decodes.push_back(case_input("small_dec_" + std::string(dtype_label(t)), p, {}, t, conf::Mode::decode, 21));
  }
  adapters::CudaKernelImplementation one, three(3);
  expect_all_pass(one, build_all(std::move(grads)));
  const std::vector<conf::Case> dec = build_all(std::move(decodes));
  expect_all_pass(one, dec);
  expect_all_pass(three, dec);
}

// ---------------------------------------------------------------------------------------------
// Checks before any launch (no GPU needed: nothing may reach the device when they fail).

void expect_rejected_with(const std::function<void()>& call, const std::string& tensor, const std::string& words) {
  try {
    call();
    ADD_FAILURE() << "accepted; expected a rejection of '" << tensor << "' (" << words << ")";
  } catch (const InvalidProblem& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'" + tensor + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find(words), std::string::npos) << msg;
  }
}

// A valid backward description with fake (never dereferenced) device pointers, aligned for every dtype.
struct FakeBackward {
  alignas(16) double storage[2] = {0, 0};
  gpu::BackwardArgs a;
  explicit FakeBackward(Shape s = {1, 40, 4, 2, 64, 32}, DType in = DType::BF16, bool gate = true) {
    void* p = storage;
    a.shape = s;
    a.scale = 0.125;
    a.q = {p, s.q_size(), in};
    a.k = {p, s.k_size(), in};
    a.v = {p, s.v_size(), in};
    a.w = {p, s.k_size(), DType::F32};
    a.beta = {p, s.beta_size(), DType::F32};
    if (gate) a.g = {p, s.g_size(), DType::F32};
    a.o = {p, s.o_size(), in};
    a.lse = {p, s.lse_size(), DType::F32};
    a.dO = {p, s.o_size(), in};
    a.dq = {p, s.q_size(), in};
    a.dk = {p, s.k_size(), in};
    a.dv = {p, s.v_size(), in};
    a.dw = {p, s.k_size(), DType::F32};
    a.dbeta = {p, s.beta_size(), DType::F32};
    if (gate) a.dg = {p, s.g_size(), DType::F32};
  }
};

void expect_backward_rejected(const gpu::BackwardArgs& a, const std::string& tensor, const std::string& words) {
  expect_rejected_with([&] { gpu::validate_backward_args(a); }, tensor, words);
}

TEST(GpuBackwardValidation, AcceptsValidDescriptions) {
  for (DType t : {DType::BF16, DType::F16, DType::F32})
    for (index_t D : gpu::kSupportedHeadDims)
      for (bool gate : {false, true})
        EXPECT_NO_THROW(gpu::validate_backward_args(FakeBackward({2, 9, 4, 1, D, 128}, t, gate).a));
  FakeBackward f({1, 100, 2, 2, 16, 16});
  f.a.cu_seqlens = {0, 0, 1, 50, 50, 100};
  EXPECT_NO_THROW(gpu::validate_backward_args(f.a));
}

TEST(GpuBackwardValidation, RejectsUnsupportedHeadDimsAndDtypes) {
  for (index_t D : {1, 8, 48, 256})
    expect_backward_rejected(FakeBackward({1, 4, 1, 1, D, 64}).a, "q", "head dim D = " + std::to_string(D));
  expect_backward_rejected(FakeBackward({1, 4, 1, 1, 64, 24}).a, "v", "value dim Dv = 24");
  expect_backward_rejected(FakeBackward({1, 4, 1, 1, 64, 64}, DType::F64).a, "q", "dtype f64 is not supported");
  {
    FakeBackward f;
    f.a.dO.dtype = DType::F16;
    expect_backward_rejected(f.a, "do", "dtype fp16, expected bf16");
  }
  {
    FakeBackward f;
    f.a.dq.dtype = DType::F32;
    expect_backward_rejected(f.a, "dq", "expected bf16");
  }
  {
    FakeBackward f;
    f.a.dw.dtype = DType::BF16;
    expect_backward_rejected(f.a, "dw", "expected fp32");
  }
  {
    FakeBackward f;
    f.a.lse.dtype = DType::BF16;
    expect_backward_rejected(f.a, "lse", "expected fp32");
  }
}

TEST(GpuBackwardValidation, RejectsWrongSizesNullAndMisalignedBuffers) {
  auto size_off = [](auto member, const std::string& tensor, long delta) {
    FakeBackward f;
    auto& t = f.a.*member;
    t.numel = static_cast<std::size_t>(static_cast<long>(t.numel) + delta);
    expect_backward_rejected(f.a, tensor, "the shape requires");
  };
  size_off(&gpu::BackwardArgs::o, "o", -1);
  size_off(&gpu::BackwardArgs::lse, "lse", +1);
  size_off(&gpu::BackwardArgs::dO, "do", -32);
  size_off(&gpu::BackwardArgs::dq, "dq", +1);
  size_off(&gpu::BackwardArgs::dk, "dk", -1);
  size_off(&gpu::BackwardArgs::dv, "dv", +1);
  size_off(&gpu::BackwardArgs::dw, "dw", -1);
  size_off(&gpu::BackwardArgs::dbeta, "dbeta", +1);
  size_off(&gpu::BackwardArgs::dg, "dg", -1);
  {
    FakeBackward f;
    f.a.dk.data = nullptr;
    expect_backward_rejected(f.a, "dk", "null");
  }
  {
    FakeBackward f;
    f.a.q.data = reinterpret_cast<unsigned char*>(f.storage) + 1;  // bf16 needs 2-byte alignment
    expect_backward_rejected(f.a, "q", "not aligned");
  }
  {
    FakeBackward f({1, 40, 4, 2, 64, 32}, DType::F32);
    f.a.dw.data = reinterpret_cast<unsigned char*>(f.storage) + 2;  // fp32 needs 4
    expect_backward_rejected(f.a, "dw", "not aligned");
  }
}

TEST(GpuBackwardValidation, RejectsGateMismatchAndBadCuSeqlens) {
  {
    FakeBackward f({1, 40, 4, 2, 64, 32}, DType::BF16, false);
    f.a.dg = f.a.dbeta;
    f.a.dg.numel = f.a.shape.g_size();
    expect_backward_rejected(f.a, "dg", "has no gate");
  }
  {
    FakeBackward f;
    f.a.dg = {};  // gated, but no dg
    expect_backward_rejected(f.a, "dg", "the shape requires");
  }
  for (const std::vector<index_t>& cu : std::vector<std::vector<index_t>>{{0, 10, 41}, {0, 50, 40}, {1, 40}, {40}}) {
    FakeBackward f;
    f.a.cu_seqlens = cu;
    expect_backward_rejected(f.a, "cu_seqlens", "");
  }
}

TEST(GpuBackwardValidation, WrapperRejectsBadProblemsBeforeTouchingTheDevice) {
  auto rng = testing::rng_for("gpu-backward-wrapper-reject");
  const Problem<double> p = testing::random_problem({{1, 8, 2, 1, 16, 16}, true, GateConvention::paper, {}}, rng);
  std::vector<double> dO = random_do(p.shape, rng);
  std::vector<double> short_do(dO.begin(), dO.end() - 1), nan_do = dO;
  nan_do[5] = std::nan("");
  EXPECT_THROW(gpu::lowp_forward_backward(p, short_do, DType::BF16), InvalidProblem);
  EXPECT_THROW(gpu::lowp_forward_backward(p, nan_do, DType::BF16), InvalidProblem);
  EXPECT_THROW(gpu::gpu_oracle_backward(p, short_do), InvalidProblem);
  const Problem<double> d48 = testing::random_problem({{1, 2, 1, 1, 48, 48}, false, GateConvention::paper, {}}, rng);
  EXPECT_THROW(gpu::lowp_forward_backward(d48, random_do(d48.shape, rng), DType::F32), InvalidProblem);
  EXPECT_THROW(gpu::lowp_forward_backward(p, dO, DType::F64), InvalidProblem);
}

// A valid decode description with fake pointers: a cache of `layout` holding `length` tokens, and
// n new tokens of the same layout.
struct FakeDecode {
  alignas(16) double storage[2] = {0, 0};
  gpu::DecodeCacheLayout cache;
  index_t length = 10;
  gpu::DecodeTokens t;
  gpu::DecodeOutputs out;
  FakeDecode(index_t n = 3, bool gated = true, DType dtype = DType::BF16) {
    void* p = storage;
    cache.batch = 2;
    cache.capacity = 16;
    cache.HQ = 4;
    cache.H = 2;
    cache.D = 64;
    cache.Dv = 32;
    cache.dtype = dtype;
    cache.gated = gated;
    cache.scale = 0.125;
    t.batch = 2;
    t.n = n;
    t.HQ = 4;
    t.H = 2;
    t.D = 64;
    t.Dv = 32;
    const std::size_t rows = static_cast<std::size_t>(2 * n);
    t.q = {p, rows * 4 * 64, dtype};
    t.k = {p, rows * 2 * 64, dtype};
    t.v = {p, rows * 2 * 32, dtype};
    t.w = {p, rows * 2 * 64, DType::F32};
    t.beta = {p, rows * 2, DType::F32};
    if (gated) t.g = {p, rows * 4, DType::F32};
    out.o = {p, rows * 4 * 32, dtype};
    out.lse = {p, rows * 4, DType::F32};
  }
  void step() const { gpu::validate_step(cache, length, t, out); }
};

TEST(GpuDecodeValidation, AcceptsValidDescriptions) {
  for (DType dt : {DType::BF16, DType::F16, DType::F32})
    for (bool gated : {false, true}) {
      const FakeDecode f(3, gated, dt);
      EXPECT_NO_THROW(f.step());
      EXPECT_NO_THROW(gpu::validate_cache_layout(f.cache));
      EXPECT_NO_THROW(gpu::validate_prefill(f.cache, 0, f.t));
    }
  FakeDecode full(6);
  EXPECT_NO_THROW(full.step());  // 10 + 6 = the capacity
}

TEST(GpuDecodeValidation, RejectsACacheOfAnotherHeadLayout) {
  {
    FakeDecode f;
    f.t.H = 1;
    expect_rejected_with([&] { f.step(); }, "k", "a cache from a different head layout");
  }
  {
    FakeDecode f;
    f.t.D = 32;
    expect_rejected_with([&] { f.step(); }, "k", "the cache's head layout is HQ=4 H=2 D=64 Dv=32");
  }
  {
    FakeDecode f;
    f.t.HQ = 2;
    expect_rejected_with([&] { f.step(); }, "q", "a cache from a different head layout");
  }
  {
    FakeDecode f;
    f.t.Dv = 64;
    expect_rejected_with([&] { f.step(); }, "v", "a cache from a different head layout");
  }
  {
    FakeDecode f;
    f.t.batch = 1;
    expect_rejected_with([&] { f.step(); }, "k", "the cache holds 2");
  }
  {
    FakeDecode f(3, true, DType::BF16);
    f.t.k.dtype = DType::F16;  // tokens of another dtype than the cache's
    expect_rejected_with([&] { f.step(); }, "k", "dtype fp16, expected bf16");
  }
}

TEST(GpuDecodeValidation, RejectsGateMismatchOverflowSizesAndAlignment) {
  {
    FakeDecode f(3, false);
    f.t.g = f.t.beta;
    expect_rejected_with([&] { f.step(); }, "g", "without a gate");
  }
  {
    FakeDecode f(3, true);
    f.t.g = {};  // a gated cache, but no g
    expect_rejected_with([&] { f.step(); }, "g", "the shape requires");
  }
  {
    FakeDecode f(7);  // 10 + 7 > 16
    expect_rejected_with([&] { f.step(); }, "k", "do not fit");
  }
  {
    FakeDecode f;
    f.t.n = 0;
    expect_rejected_with([&] { f.step(); }, "k", "at least 1 new token");
  }
  {
    FakeDecode f;
    f.out.o.numel -= 1;
    expect_rejected_with([&] { f.step(); }, "o", "the shape requires");
  }
  {
    FakeDecode f;
    f.t.v.numel += 1;
    expect_rejected_with([&] { f.step(); }, "v", "the shape requires");
  }
  {
    FakeDecode f;
    f.out.lse.data = reinterpret_cast<unsigned char*>(f.storage) + 2;
    expect_rejected_with([&] { f.step(); }, "lse", "not aligned");
  }
  {
    FakeDecode f;
    f.t.q.data = nullptr;
    expect_rejected_with([&] { f.step(); }, "q", "null");
  }
  {
    FakeDecode f;
    expect_rejected_with([&] { gpu::validate_prefill(f.cache, f.length, f.t); }, "k", "needs an empty cache");
  }
  {
    FakeDecode f;
    f.cache.D = 48;
    expect_rejected_with([&] { gpu::validate_cache_layout(f.cache); }, "q", "head dim D = 48");
  }
  {
    FakeDecode f;
    f.cache.dtype = DType::F64;
    expect_rejected_with([&] { gpu::validate_cache_layout(f.cache); }, "k", "dtype f64");
  }
  {
    FakeDecode f;
    f.cache.HQ = 3;
    expect_rejected_with([&] { gpu::validate_cache_layout(f.cache); }, "q", "not a multiple");
  }
}

TEST(GpuDecodeValidation, WrapperRejectsBadOptionsBeforeTouchingTheDevice) {
  auto rng = testing::rng_for("gpu-decode-wrapper-reject");
  const Problem<double> p = testing::random_problem({{1, 8, 2, 1, 16, 16}, true, GateConvention::paper, {}}, rng);
  EXPECT_THROW(gpu::lowp_decode(p, -1, DType::BF16), InvalidProblem);
  EXPECT_THROW(gpu::lowp_decode(p, 9, DType::BF16), InvalidProblem);
  EXPECT_THROW(gpu::lowp_decode(p, 2, DType::BF16, 0), InvalidProblem);
  EXPECT_THROW(gpu::lowp_decode(p, 2, DType::F64), InvalidProblem);
  Problem<double> nan_k = p;
  nan_k.k[2] = std::nan("");
  EXPECT_THROW(gpu::lowp_decode(nan_k, 2, DType::BF16), InvalidProblem);
  EXPECT_THROW(gpu::gpu_oracle_key_cache(nan_k), InvalidProblem);
}

}  // namespace
}  // namespace path
