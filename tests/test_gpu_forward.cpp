// GPU forward (gpu/, docs/gpu.md), the trust chain's GPU links (docs/design.md section 2):
//  - the fp64 GPU oracle (gpu/oracle) equals the CPU oracles (double, blockwise and naive) within
//    twice the forward error model of docs/error-model.md, and mp100 within the model itself, on
//    random problems with GQA, varlen (empty and length-1 sequences), both gate conventions, D != Dv
//    (oracle against oracle: no tolerance rule is involved);
//  - the plain low-precision kernel (gpu/kernels/forward; bf16, fp16, fp32 inputs) is judged like
//    any implementation under test: conformance cases (hand-made inputs through
//    build_case_from_inputs, and the quick suite's forward cases) run through the "cuda"
//    implementation (adapters/cuda) with conformance::run_case / run_cases, and the verdict of the
//    conformance judge must be a pass (docs/conformance.md, docs/tolerance.md). No private copy of
//    the tolerance rules lives here (docs/design.md section 4);
//  - the cuda implementation's refusals (head dims, dtypes, no device; it refuses no mode) and every
//    check the forward kernel's host side makes before touching the GPU (these run everywhere).
// The backward and decode kernels and the fp64 oracle's backward: tests/test_gpu_backward_decode.cpp.
// Without a usable GPU the device tests skip with the reason; PATH_GPU_REQUIRE_DEVICE=1 (set by
// scripts/gpu-check.sh) makes that a failure instead, so a GPU run cannot pass by skipping.
// Random inputs come from tests/support/seed.hpp: PATHCHECK_SEED=<n> reproduces a run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include "path/adapters/cuda_kernels.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/registry.hpp"
#include "path/conformance/runner.hpp"
#include "path/conformance/suite.hpp"
#include "path/core/rounding.hpp"
#include "path/error_model.hpp"
#include "path/forward.hpp"
#include "path/gpu/device.hpp"
#include "path/gpu/error.hpp"
#include "path/gpu/forward.hpp"
#include "path/gpu/oracle.hpp"
#include "support/gpu_device.hpp"
#include "support/stored_cases.hpp"
#include "support/random_problem.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

using testing::ProblemSpec;
namespace conf = conformance;


// Max absolute error that does not let NaN slip through (std::max would drop it). For the oracle
// checks only, which compare two oracles under the error model.
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
    const S diff = S(got[i]) - want[i];
    e.max_abs = std::max(e.max_abs, std::abs(to_double(diff)));
  }
  return e;
}

// Unit-norm w, beta in (0, 2), plus the regime's edge cases: beta = 0, beta = 2 (a reflection),
// w = 0, a w repeated from the previous token and a near-colinear one (renormalized). The pick is
// the engine's raw output modulo 10 (engines are specified bit for bit; distributions are not).
template <class Rng>
void add_edge_cases(Problem<double>& p, Rng& rng) {
  const Shape& s = p.shape;
  for (std::size_t row = 0; row < p.beta.size(); ++row) {
    double* w = &p.w[row * s.D];
    const std::size_t prev = row >= static_cast<std::size_t>(s.H) ? row - s.H : row;
    switch (static_cast<int>(rng() % 10)) {
      case 0: p.beta[row] = 0.0; break;
      case 1: p.beta[row] = 2.0; break;
      case 2: std::fill(w, w + s.D, 0.0); break;
      case 3: std::copy(&p.w[prev * s.D], &p.w[prev * s.D] + s.D, w); break;
      case 4: {
        std::copy(&p.w[prev * s.D], &p.w[prev * s.D] + s.D, w);
        w[0] += 1e-3;
        double n2 = 0;
        for (index_t d = 0; d < s.D; ++d) n2 += w[d] * w[d];
        for (index_t d = 0; d < s.D; ++d) w[d] /= std::sqrt(n2);
        break;
      }
      default: break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Conformance cases for the kernel under test, and running them through the cuda implementation.

// A forward case from hand-made inputs, rounded and built as a case file is
// (tests/support/stored_cases.hpp).
conf::Case forward_case(const std::string& name, Problem<double> p, DType dtype) {
  return testing::stored_forward_case(name, std::move(p), dtype, "test_gpu_forward");
}

using testing::log_verdict;
using testing::report_text;

// Runs the cases through the cuda implementation; every one must pass the judge (a skip is not a
// pass). The report is printed on failure.
void expect_all_pass(const std::vector<conf::Case>& cases) {
  adapters::CudaKernelImplementation cuda;
  conf::Report r = conf::run_cases(cuda, cases, {});
  r.command = "run";
  r.suite = "test_gpu_forward";
  for (const conf::CaseVerdict& v : r.cases) log_verdict(v);
  EXPECT_EQ(r.count(conf::Verdict::fail), 0u) << report_text(r) << testing::seed_note();
  EXPECT_EQ(r.count(conf::Verdict::skip), 0u) << report_text(r) << testing::seed_note();
}

// ---------------------------------------------------------------------------------------------
// Device detection: always runs.

TEST(GpuDevice, AvailabilityComesWithAReason) {
  std::string reason;
  const bool available = gpu::device_available(&reason);
  if (available) {
    std::cerr << "  device: " << gpu::device_description() << "\n";
    EXPECT_FALSE(gpu::device_description().empty());
  } else {
    std::cerr << "  no device: " << reason << "\n";
    EXPECT_FALSE(reason.empty());
    EXPECT_FALSE(testing::gpu_required()) << reason << " (PATH_GPU_REQUIRE_DEVICE=1 says this machine has a GPU)";
  }
  // Asking twice gives the same answer (no error left behind by the first call).
  std::string again;
  EXPECT_EQ(gpu::device_available(&again), available);
  EXPECT_EQ(again, reason);
}

// ---------------------------------------------------------------------------------------------
// Checks before launch: no GPU needed, since nothing may reach the device when they fail.

// A valid description with fake (never dereferenced) device pointers.
struct FakeArgs {
  double storage = 0;
  gpu::ForwardArgs a;
  explicit FakeArgs(Shape s = {1, 40, 4, 2, 64, 32}, DType in = DType::BF16, bool gate = true) {
    void* p = &storage;
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
  }
};

// Expects validate_forward_args to reject `a` with a message naming `tensor` and containing `words`.
void expect_rejected(const gpu::ForwardArgs& a, const std::string& tensor, const std::string& words) {
  try {
    gpu::validate_forward_args(a);
    ADD_FAILURE() << "accepted; expected a rejection of '" << tensor << "' (" << words << ")";
  } catch (const InvalidProblem& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'" + tensor + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find(words), std::string::npos) << msg;
  }
}

TEST(GpuForwardValidation, AcceptsValidDescriptions) {
  for (DType t : {DType::BF16, DType::F16, DType::F32})
    for (index_t D : gpu::kSupportedHeadDims)
      for (bool gate : {false, true}) EXPECT_NO_THROW(gpu::validate_forward_args(FakeArgs({2, 9, 4, 1, D, 128}, t, gate).a));
  FakeArgs f({1, 100, 2, 2, 16, 16});
  f.a.cu_seqlens = {0, 0, 1, 50, 50, 100};  // empty and length-1 sequences are fine
  EXPECT_NO_THROW(gpu::validate_forward_args(f.a));
}

TEST(GpuForwardValidation, RejectsUnsupportedHeadDims) {
  for (index_t D : {1, 8, 48, 96, 256}) expect_rejected(FakeArgs({1, 4, 1, 1, D, 64}).a, "q", "head dim D = " + std::to_string(D));
  for (index_t Dv : {3, 24, 512}) expect_rejected(FakeArgs({1, 4, 1, 1, 64, Dv}).a, "v", "value dim Dv = " + std::to_string(Dv));
}

TEST(GpuForwardValidation, RejectsUnsupportedOrMixedDtypes) {
  expect_rejected(FakeArgs({1, 4, 1, 1, 64, 64}, DType::F64).a, "q", "dtype f64 is not supported");
  {
    FakeArgs f;
    f.a.k.dtype = DType::F16;
    expect_rejected(f.a, "k", "dtype fp16, expected bf16");
  }
  {
    FakeArgs f;
    f.a.v.dtype = DType::F32;
    expect_rejected(f.a, "v", "expected bf16");
  }
  {
    FakeArgs f;
    f.a.w.dtype = DType::BF16;
    expect_rejected(f.a, "w", "dtype bf16, expected fp32");
  }
  {
    FakeArgs f;
    f.a.beta.dtype = DType::F64;
    expect_rejected(f.a, "beta", "expected fp32");
  }
  {
    FakeArgs f;
    f.a.g.dtype = DType::BF16;
    expect_rejected(f.a, "g", "expected fp32");
  }
  {
    FakeArgs f;
    f.a.o.dtype = DType::F32;
    expect_rejected(f.a, "o", "dtype fp32, expected bf16");
  }
  {
    FakeArgs f;
    f.a.lse.dtype = DType::BF16;
    expect_rejected(f.a, "lse", "expected fp32");
  }
}

TEST(GpuForwardValidation, RejectsWrongBufferSizes) {
  auto check = [](auto member, const std::string& tensor, long delta) {
    FakeArgs f;
    auto& t = f.a.*member;
    t.numel = static_cast<std::size_t>(static_cast<long>(t.numel) + delta);
    expect_rejected(f.a, tensor, "the shape requires");
  };
  check(&gpu::ForwardArgs::q, "q", -1);
  check(&gpu::ForwardArgs::k, "k", +1);
  check(&gpu::ForwardArgs::v, "v", -64);
  check(&gpu::ForwardArgs::w, "w", +4);
  check(&gpu::ForwardArgs::beta, "beta", -1);
  check(&gpu::ForwardArgs::g, "g", +1);
  check(&gpu::ForwardArgs::o, "o", -1);
  check(&gpu::ForwardArgs::lse, "lse", +1);
}

TEST(GpuForwardValidation, RejectsNullPointersAndBadScalars) {
  {
    FakeArgs f;
    f.a.q.data = nullptr;
    expect_rejected(f.a, "q", "null");
  }
  {
    FakeArgs f;
    f.a.o.data = nullptr;
    expect_rejected(f.a, "o", "null");
  }
  {
    FakeArgs f;
    f.a.g.data = nullptr;  // a size without data is a mistake, not "no gate"
    expect_rejected(f.a, "g", "null");
  }
  {
    FakeArgs f;
    f.a.scale = 1e300;  // finite in double, not in fp32
    expect_rejected(f.a, "scale", "not finite");
  }
  {
    FakeArgs f({1, 8, 3, 2, 16, 16});
    expect_rejected(f.a, "q", "not a multiple");
  }
  {
    FakeArgs f({1, 0, 1, 1, 16, 16});
    expect_rejected(f.a, "q (sequence length T)", "at least 1");
  }
}

TEST(GpuForwardValidation, RejectsCuSeqlensOutOfRange) {
  struct Case {
    std::vector<index_t> cu;
    std::string words;
  };
  for (const Case& c : std::vector<Case>{{{0, 10, 41}, "must end at T = 40"},
                                         {{0, 10, 39}, "must end at T = 40"},
                                         {{0, 50, 40}, "not non-decreasing"},
                                         {{0, -1, 40}, "not non-decreasing"},
                                         {{1, 20, 40}, "must start at 0"},
                                         {{40}, "at least 2 entries"}}) {
    FakeArgs f({1, 40, 4, 2, 64, 32});
    f.a.cu_seqlens = c.cu;
    expect_rejected(f.a, "cu_seqlens", c.words);
  }
  FakeArgs f({2, 20, 4, 2, 64, 32});
  f.a.cu_seqlens = {0, 20};
  expect_rejected(f.a, "cu_seqlens", "batch B = 1");
}

// The host wrappers validate before any CUDA call, so these run without a GPU too.
TEST(GpuForwardValidation, WrappersRejectInvalidProblemsBeforeTouchingTheDevice) {
  auto rng = testing::rng_for("gpu-wrappers-reject");
  Problem<double> p = testing::random_problem({{1, 8, 2, 1, 16, 16}, true, GateConvention::paper, {}}, rng);
  Problem<double> nan_q = p;
  nan_q.q[3] = std::nan("");
  EXPECT_THROW(gpu::gpu_oracle_forward(nan_q), InvalidProblem);
  EXPECT_THROW(gpu::lowp_forward(nan_q, DType::BF16), InvalidProblem);
  Problem<double> bad_cu = p;
  bad_cu.cu_seqlens = {0, 9};
  EXPECT_THROW(gpu::gpu_oracle_forward(bad_cu), InvalidProblem);
  EXPECT_THROW(gpu::lowp_forward(bad_cu, DType::F16), InvalidProblem);
  const Problem<double> wide = testing::random_problem({{1, 2, 1, 1, 257, 4}, false, GateConvention::paper, {}}, rng);
  EXPECT_THROW(gpu::gpu_oracle_forward(wide), InvalidProblem);
  const Problem<double> d48 = testing::random_problem({{1, 2, 1, 1, 48, 48}, false, GateConvention::paper, {}}, rng);
  EXPECT_THROW(gpu::lowp_forward(d48, DType::F32), InvalidProblem);
}

// ---------------------------------------------------------------------------------------------
// The fp64 GPU oracle.

struct OracleCase {
  std::string name;
  ProblemSpec spec;
  bool edge_cases = false;
};

std::ostream& operator<<(std::ostream& os, const OracleCase& c) { return os << c.name; }

class GpuOracle : public ::testing::TestWithParam<OracleCase> {};

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double bound, const std::string& what) {
  const Error e = error_of(got, want);
  std::cerr << "  " << what << ": max error " << e.max_abs << " (bound " << bound << ")\n";
  EXPECT_EQ(e.nonfinite, 0u) << what << ": non-finite outputs (unwritten elements are NaN); " << testing::seed_note();
  EXPECT_LE(e.max_abs, bound) << what << "; " << testing::seed_note();
}

TEST_P(GpuOracle, MatchesCpuOracles) {
  PATH_REQUIRE_GPU();
  const OracleCase& c = GetParam();
  auto rng = testing::rng_for("gpu-oracle/" + c.name);
  Problem<double> p = testing::random_problem(c.spec, rng);
  if (c.edge_cases) add_edge_cases(p, rng);
  const ForwardResult<double> gpu = gpu::gpu_oracle_forward(p);
  // Each is within the model's bound of the exact result, so two of them within twice that.
  const error_model::ForwardBound b = error_model::forward_error_bound(p, std::pow(2.0, -53));
  const ForwardResult<double> blockwise = forward(p, ForwardOptions{Algorithm::blockwise, 64});
  expect_close(gpu.o, blockwise.o, 2 * b.o, c.name + " o vs CPU blockwise");
  expect_close(gpu.lse, blockwise.lse, 2 * b.lse, c.name + " lse vs CPU blockwise");
  const ForwardResult<double> naive = forward(p, ForwardOptions{Algorithm::naive, 1});
  expect_close(gpu.o, naive.o, 2 * b.o, c.name + " o vs CPU naive");
  expect_close(gpu.lse, naive.lse, 2 * b.lse, c.name + " lse vs CPU naive");
}

INSTANTIATE_TEST_SUITE_P(
    Problems, GpuOracle,
    ::testing::Values(
        OracleCase{"plain", {{2, 37, 2, 2, 16, 16}, false, GateConvention::paper, {}}},
        OracleCase{"gqa_gate_paper", {{1, 70, 4, 2, 32, 32}, true, GateConvention::paper, {}}},
        OracleCase{"gqa_gate_fla", {{2, 45, 6, 2, 64, 64}, true, GateConvention::fla, {}}},
        OracleCase{"d_ne_dv_odd_dims", {{1, 53, 2, 1, 13, 29}, true, GateConvention::paper, {}}},
        OracleCase{"dv_wider", {{1, 41, 2, 2, 16, 128}, true, GateConvention::fla, {}}},
        OracleCase{"varlen_gqa_fla", {{1, 100, 4, 2, 32, 16}, true, GateConvention::fla, {0, 0, 1, 17, 17, 64, 100}}},
        OracleCase{"varlen_paper", {{1, 90, 2, 1, 64, 64}, true, GateConvention::paper, {0, 33, 34, 90}}},
        OracleCase{"edge_cases_beta_0_2_w_0_colinear", {{1, 80, 2, 1, 16, 16}, true, GateConvention::paper, {}}, true},
        OracleCase{"head_dim_1", {{1, 20, 1, 1, 1, 1}, false, GateConvention::paper, {}}},
        OracleCase{"head_dim_256", {{1, 33, 2, 1, 256, 256}, true, GateConvention::fla, {}}},
        OracleCase{"tile_boundaries", {{3, 65, 1, 1, 24, 24}, false, GateConvention::paper, {}}},
        OracleCase{"long_1500", {{1, 1500, 2, 1, 64, 64}, true, GateConvention::paper, {}}}),
    [](const ::testing::TestParamInfo<OracleCase>& info) { return info.param.name; });

// The direct claim: within the error model of the (mp100) exact result.
TEST(GpuOracleExact, WithinErrorModelOfMp100) {
  PATH_REQUIRE_GPU();
  auto rng = testing::rng_for("gpu-oracle-mp100");
  for (GateConvention conv : {GateConvention::paper, GateConvention::fla}) {
    Problem<double> p = testing::random_problem({{1, 48, 2, 1, 16, 8}, true, conv, {0, 5, 6, 48}}, rng);
    add_edge_cases(p, rng);
    const ForwardResult<mp100> exact = forward(convert_problem<mp100>(p), ForwardOptions{Algorithm::naive, 1});
    const ForwardResult<double> gpu = gpu::gpu_oracle_forward(p);
    const error_model::ForwardBound b = error_model::forward_error_bound(p, std::pow(2.0, -53));
    const std::string what = std::string("GPU fp64 vs mp100, gate ") + std::string(to_string(conv));
    const Error eo = error_of(gpu.o, exact.o), el = error_of(gpu.lse, exact.lse);
    std::cerr << "  " << what << ": |do| = " << eo.max_abs << " (bound " << b.o << "), |dlse| = " << el.max_abs
              << " (bound " << b.lse << ")\n";
    EXPECT_EQ(eo.nonfinite + el.nonfinite, 0u) << what;
    EXPECT_LE(eo.max_abs, b.o) << what << "; " << testing::seed_note();
    EXPECT_LE(el.max_abs, b.lse) << what << "; " << testing::seed_note();
  }
}

TEST(GpuOracleExact, RunsAreBitwiseReproducible) {
  PATH_REQUIRE_GPU();
  auto rng = testing::rng_for("gpu-oracle-repro");
  const Problem<double> p = testing::random_problem({{1, 300, 4, 2, 64, 64}, true, GateConvention::fla, {0, 100, 300}}, rng);
  const ForwardResult<double> a = gpu::gpu_oracle_forward(p), b = gpu::gpu_oracle_forward(p);
  EXPECT_EQ(a.o, b.o);
  EXPECT_EQ(a.lse, b.lse);
}

// ---------------------------------------------------------------------------------------------
// The cuda implementation: what it refuses, and that it goes through the runner (no GPU needed).

conf::CaseSpec forward_spec(Shape s, DType dtype = DType::BF16) {
  conf::CaseSpec spec;
  spec.name = "spec";
  spec.shape = s;
  spec.dtype = dtype;
  return spec;
}

TEST(CudaAdapter, RegisteredExplicitlyAsCuda) {
  conf::Registry r;
  adapters::register_cuda_implementations(r);
  const std::unique_ptr<conf::Implementation> impl = r.make("cuda");
  ASSERT_NE(impl, nullptr) << "registered: " << r.names();
  EXPECT_EQ(impl->name(), "cuda");
  ASSERT_EQ(r.list().size(), 1u);
  EXPECT_NE(r.list()[0].second.find("forward"), std::string::npos) << r.list()[0].second;
}

TEST(CudaAdapter, CannotRunSaysWhy) {
  const adapters::CudaKernelImplementation cuda;
  auto expect_reason = [&](const conf::CaseSpec& spec, const std::string& words) {
    const std::string why = cuda.cannot_run(spec);
    EXPECT_NE(why.find(words), std::string::npos) << "reason: '" << why << "', expected it to contain '" << words << "'";
  };
  expect_reason(forward_spec({1, 8, 1, 1, 48, 48}), "head dim D = 48 is not supported");
  expect_reason(forward_spec({1, 8, 1, 1, 64, 24}), "value dim Dv = 24 is not supported");
  expect_reason(forward_spec({1, 8, 1, 1, 64, 64}, DType::F64), "input dtype f64");
  // A case it supports, forward, gradients or decode: runnable exactly when a device is there,
  // otherwise the device's reason.
  for (DType t : {DType::BF16, DType::F16, DType::F32})
    for (index_t D : gpu::kSupportedHeadDims) {
      conf::CaseSpec spec = forward_spec({1, 8, 2, 1, D, 32}, t);
      EXPECT_EQ(cuda.cannot_run(spec), testing::no_gpu_reason()) << dtype_label(t) << " D = " << D;
      spec.gradients = true;
      EXPECT_EQ(cuda.cannot_run(spec), testing::no_gpu_reason()) << "gradients, " << dtype_label(t) << " D = " << D;
      spec.gradients = false;
      spec.mode = conf::Mode::decode;
      spec.prefill_length = 3;
      EXPECT_EQ(cuda.cannot_run(spec), testing::no_gpu_reason()) << "decode, " << dtype_label(t) << " D = " << D;
    }
  EXPECT_THROW(adapters::CudaKernelImplementation(0), std::invalid_argument);
  EXPECT_EQ(adapters::cuda_unavailable_reason(), testing::no_gpu_reason());
}

// Through the runner: a forward case and a gradient case pass on a GPU and are skips naming the
// reason without one.
TEST(CudaAdapter, RunnerPassesOrSkipsWithTheReason) {
  auto rng = testing::rng_for("cuda-adapter-runner");
  const conf::Case fwd = forward_case("tiny_forward", testing::random_problem({{1, 20, 2, 1, 16, 16}, true,
                                                                               GateConvention::fla, {}}, rng),
                                      DType::BF16);
  adapters::CudaKernelImplementation cuda;
  const conf::CaseVerdict v = conf::run_case(cuda, fwd, {});
  log_verdict(v);
  if (testing::no_gpu_reason().empty()) {
    EXPECT_EQ(v.verdict, conf::Verdict::pass) << report_text({"run", "", "cuda", "", {v}, 0}) << testing::seed_note();
  } else {
    EXPECT_EQ(v.verdict, conf::Verdict::skip);
    EXPECT_NE(v.problem.find(testing::no_gpu_reason()), std::string::npos) << v.problem;
    EXPECT_FALSE(testing::gpu_required()) << testing::no_gpu_reason() << " (PATH_GPU_REQUIRE_DEVICE=1)";
  }
  conf::CaseSpec grad = fwd.spec();
  grad.name = "tiny_gradients";
  grad.gradients = true;
  grad.distribution = "standard";  // drawn as the suites draw it
  const conf::Case g = conf::build_case(grad, {"test_gpu_forward", testing::session_seed(), {}, {}});
  const conf::CaseVerdict vg = conf::run_case(cuda, g, {});
  log_verdict(vg);
  if (testing::no_gpu_reason().empty()) {
    EXPECT_EQ(vg.verdict, conf::Verdict::pass) << report_text({"run", "", "cuda", "", {vg}, 0}) << testing::seed_note();
  } else {
    EXPECT_EQ(vg.verdict, conf::Verdict::skip);
    EXPECT_NE(vg.problem.find(testing::no_gpu_reason()), std::string::npos) << vg.problem;
  }
}

// ---------------------------------------------------------------------------------------------
// The low-precision kernel, judged by the conformance judge.

struct LowpCase {
  DType precision;
  index_t D, Dv;
  std::string layout;  // "gqa_paper", "varlen_fla", "plain"
};

std::string lowp_name(const LowpCase& c) {
  return std::string(dtype_label(c.precision)) + "_D" + std::to_string(c.D) + "_Dv" + std::to_string(c.Dv) + "_" +
         c.layout;
}

class GpuLowp : public ::testing::TestWithParam<LowpCase> {};

TEST_P(GpuLowp, PassesTheConformanceJudge) {
  PATH_REQUIRE_GPU();
  const LowpCase& c = GetParam();
  auto rng = testing::rng_for("gpu-lowp/" + lowp_name(c));
  ProblemSpec spec;
  if (c.layout == "gqa_paper") spec = {{2, 50, 4, 2, c.D, c.Dv}, true, GateConvention::paper, {}};
  else if (c.layout == "varlen_fla") spec = {{1, 90, 2, 1, c.D, c.Dv}, true, GateConvention::fla, {0, 0, 1, 40, 90}};
  else spec = {{1, 70, 1, 1, c.D, c.Dv}, false, GateConvention::paper, {}};
  Problem<double> p = testing::random_problem(spec, rng);
  add_edge_cases(p, rng);
  expect_all_pass({forward_case(lowp_name(c), std::move(p), c.precision)});
}

std::vector<LowpCase> lowp_cases() {
  std::vector<LowpCase> out;
  for (DType prec : {DType::BF16, DType::F16, DType::F32})
    for (index_t D : gpu::kSupportedHeadDims) {
      out.push_back({prec, D, D, "gqa_paper"});
      out.push_back({prec, D, D, "varlen_fla"});
    }
  for (DType prec : {DType::BF16, DType::F32}) {
    out.push_back({prec, 64, 16, "plain"});
    out.push_back({prec, 16, 128, "plain"});
    out.push_back({prec, 128, 32, "varlen_fla"});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, GpuLowp, ::testing::ValuesIn(lowp_cases()),
                         [](const ::testing::TestParamInfo<LowpCase>& info) { return lowp_name(info.param); });

// The built-in quick suite, every case as it is (forward, gradient and decode cases), in each input
// dtype: what `pathcheck run --impl cuda --builtin quick` judges.
class GpuQuickSuite : public ::testing::TestWithParam<DType> {};

TEST_P(GpuQuickSuite, EveryCasePasses) {
  PATH_REQUIRE_GPU();
  const std::vector<conf::CaseSpec> specs = conf::suite_specs("quick", GetParam());
  ASSERT_EQ(specs.size(), 23u);
  std::vector<conf::Case> cases(specs.size());
  conf::build_cases(specs, {"quick", testing::session_seed(), {}, {}}, std::max(1u, std::thread::hardware_concurrency()),
                    [&](std::size_t i, conf::Case&& c) { cases[i] = std::move(c); });
  expect_all_pass(cases);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, GpuQuickSuite, ::testing::Values(DType::BF16, DType::F16, DType::F32),
                         [](const ::testing::TestParamInfo<DType>& info) { return std::string(dtype_label(info.param)); });

// ---------------------------------------------------------------------------------------------
// A tiny case that exercises every code path once (gate scan, varlen with an empty and a length-1
// sequence, GQA, several key tiles, D != Dv, the oracle and every input dtype of the kernel): what
// scripts/gpu-check.sh runs under compute-sanitizer (memcheck, racecheck, synccheck, initcheck).

TEST(GpuSmall, EveryPathOnce) {
  PATH_REQUIRE_GPU();
  auto rng = testing::rng_for("gpu-small");
  Problem<double> p =
      testing::random_problem({{1, 150, 4, 2, 32, 16}, true, GateConvention::fla, {0, 0, 1, 70, 150}}, rng);
  add_edge_cases(p, rng);
  const error_model::ForwardBound b = error_model::forward_error_bound(p, std::pow(2.0, -53));
  const ForwardResult<double> cpu = forward(p, ForwardOptions{Algorithm::naive, 1});
  const ForwardResult<double> gpu = gpu::gpu_oracle_forward(p);
  expect_close(gpu.o, cpu.o, 2 * b.o, "small fp64 o");
  expect_close(gpu.lse, cpu.lse, 2 * b.lse, "small fp64 lse");
  std::vector<conf::Case> cases;
  for (DType prec : {DType::BF16, DType::F16, DType::F32})
    cases.push_back(forward_case("small_" + std::string(dtype_label(prec)), p, prec));
  expect_all_pass(cases);
}

}  // namespace
}  // namespace path
