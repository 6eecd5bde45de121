// GPU forward (gpu/, docs/gpu.md), the trust chain's GPU links (DESIGN.md section 2):
//  - the fp64 GPU oracle equals the CPU oracles (double, blockwise and naive) within twice the
//    forward error model of docs/error-model.md, and mp100 within the model itself, on random
//    problems with GQA, varlen (empty and length-1 sequences), both gate conventions, D != Dv;
//  - the plain low-precision kernel (bf16, fp16, fp32 inputs) against mp100 under the tolerance
//    model (docs/tolerance.md): error <= 2 * (error of path::emulate_forward) + floor;
//  - every check the kernels' host side makes before touching the GPU (these run everywhere).
// Without a usable GPU the device tests skip with the reason; PATH_GPU_REQUIRE_DEVICE=1 (set by
// scripts/gpu-check.sh) makes that a failure instead, so a GPU run cannot pass by skipping.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>

#include "path/emulation.hpp"
#include "path/forward.hpp"
#include "path/gpu/device.hpp"
#include "path/gpu/error.hpp"
#include "path/gpu/forward.hpp"
#include "path/gpu/oracle.hpp"
#include "support/error_bound.hpp"
#include "support/random_problem.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

using testing::ProblemSpec;

bool require_device() {
  const char* env = std::getenv("PATH_GPU_REQUIRE_DEVICE");
  return env && std::string(env) == "1";
}

// Checked once per process: the reason a device test cannot run here, or "" when it can.
const std::string& no_device_reason() {
  static const std::string reason = [] {
    std::string why;
    if (gpu::device_available(&why)) {
      std::cerr << "[gpu tests] device: " << gpu::device_description() << "\n";
      return std::string();
    }
    return why.empty() ? std::string("no usable CUDA device") : why;
  }();
  return reason;
}

#define PATH_REQUIRE_GPU()                                                                                    \
  do {                                                                                                        \
    if (!no_device_reason().empty()) {                                                                        \
      if (require_device()) FAIL() << no_device_reason() << " (and PATH_GPU_REQUIRE_DEVICE=1)";               \
      GTEST_SKIP() << no_device_reason() << "; GPU tests run on the lent GPU machine: scripts/gpu-check.sh, " \
                      "docs/gpu.md";                                                                          \
    }                                                                                                         \
  } while (0)

// Max absolute error that does not let NaN slip through (std::max would drop it).
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
// w = 0, a w repeated from the previous token and a near-colinear one (renormalized).
void add_edge_cases(Problem<double>& p, std::mt19937_64& rng) {
  const Shape& s = p.shape;
  std::uniform_int_distribution<int> pick(0, 9);
  for (std::size_t row = 0; row < p.beta.size(); ++row) {
    double* w = &p.w[row * s.D];
    const std::size_t prev = row >= static_cast<std::size_t>(s.H) ? row - s.H : row;
    switch (pick(rng)) {
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
    EXPECT_FALSE(require_device()) << reason << " (PATH_GPU_REQUIRE_DEVICE=1 says this machine has a GPU)";
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
  explicit FakeArgs(Shape s = {1, 40, 4, 2, 64, 32}, gpu::DType in = gpu::DType::bf16, bool gate = true) {
    void* p = &storage;
    a.shape = s;
    a.scale = 0.125;
    a.q = {p, s.q_size(), in};
    a.k = {p, s.k_size(), in};
    a.v = {p, s.v_size(), in};
    a.w = {p, s.k_size(), gpu::DType::fp32};
    a.beta = {p, s.beta_size(), gpu::DType::fp32};
    if (gate) a.g = {p, s.g_size(), gpu::DType::fp32};
    a.o = {p, s.o_size(), in};
    a.lse = {p, s.lse_size(), gpu::DType::fp32};
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
  for (gpu::DType t : {gpu::DType::bf16, gpu::DType::fp16, gpu::DType::fp32})
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
  expect_rejected(FakeArgs({1, 4, 1, 1, 64, 64}, gpu::DType::fp64).a, "q", "dtype fp64 is not supported");
  {
    FakeArgs f;
    f.a.k.dtype = gpu::DType::fp16;
    expect_rejected(f.a, "k", "dtype fp16, expected bf16");
  }
  {
    FakeArgs f;
    f.a.v.dtype = gpu::DType::fp32;
    expect_rejected(f.a, "v", "expected bf16");
  }
  {
    FakeArgs f;
    f.a.w.dtype = gpu::DType::bf16;
    expect_rejected(f.a, "w", "dtype bf16, expected fp32");
  }
  {
    FakeArgs f;
    f.a.beta.dtype = gpu::DType::fp64;
    expect_rejected(f.a, "beta", "expected fp32");
  }
  {
    FakeArgs f;
    f.a.g.dtype = gpu::DType::bf16;
    expect_rejected(f.a, "g", "expected fp32");
  }
  {
    FakeArgs f;
    f.a.o.dtype = gpu::DType::fp32;
    expect_rejected(f.a, "o", "dtype fp32, expected bf16");
  }
  {
    FakeArgs f;
    f.a.lse.dtype = gpu::DType::bf16;
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
  EXPECT_THROW(gpu::lowp_forward(nan_q, InputPrecision::bf16), InvalidProblem);
  Problem<double> bad_cu = p;
  bad_cu.cu_seqlens = {0, 9};
  EXPECT_THROW(gpu::gpu_oracle_forward(bad_cu), InvalidProblem);
  EXPECT_THROW(gpu::lowp_forward(bad_cu, InputPrecision::fp16), InvalidProblem);
  const Problem<double> wide = testing::random_problem({{1, 2, 1, 1, 257, 4}, false, GateConvention::paper, {}}, rng);
  EXPECT_THROW(gpu::gpu_oracle_forward(wide), InvalidProblem);
  const Problem<double> d48 = testing::random_problem({{1, 2, 1, 1, 48, 48}, false, GateConvention::paper, {}}, rng);
  EXPECT_THROW(gpu::lowp_forward(d48, InputPrecision::fp32), InvalidProblem);
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
  const testing::ForwardBound b = testing::forward_error_bound(p, std::pow(2.0, -53));
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
    const testing::ForwardBound b = testing::forward_error_bound(p, std::pow(2.0, -53));
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
// The low-precision kernel under the tolerance model.

// ulp of dtype X at magnitude m: 2^(floor(log2 m) - p + 1), the subnormal spacing below the
// smallest normal number (the same rule as path::conformance's tolerance, docs/tolerance.md).
double ulp_at(double m, int p, int emin) {
  if (!(m >= std::ldexp(1.0, emin))) return std::ldexp(1.0, emin - p + 1);
  return std::ldexp(1.0, std::ilogb(m) - p + 1);
}

struct OutputTolerance {
  double error = 0, baseline = 0, floor = 0, tolerance = 0;
  std::size_t nonfinite = 0;
  bool passes() const { return nonfinite == 0 && error <= tolerance; }
  double ratio() const { return error / (baseline + floor / 2); }
};

template <class S>
OutputTolerance judge(const std::vector<double>& got, const std::vector<double>& baseline, const std::vector<S>& exact,
                      int p_bits, int emin) {
  OutputTolerance t;
  const Error e = error_of(got, exact), eb = error_of(baseline, exact);
  t.error = e.max_abs;
  t.nonfinite = e.nonfinite;
  t.baseline = eb.max_abs;
  double max_exact = 0;
  for (const S& x : exact) max_exact = std::max(max_exact, std::abs(to_double(x)));
  t.floor = 2 * ulp_at(max_exact, p_bits, emin);
  t.tolerance = 2 * t.baseline + t.floor;
  return t;
}

struct LowpCase {
  InputPrecision precision;
  index_t D, Dv;
  std::string layout;  // "gqa_paper", "varlen_fla", "plain"
};

std::string lowp_name(const LowpCase& c) {
  return std::string(to_string(c.precision)) + "_D" + std::to_string(c.D) + "_Dv" + std::to_string(c.Dv) + "_" + c.layout;
}

class GpuLowp : public ::testing::TestWithParam<LowpCase> {};

TEST_P(GpuLowp, WithinToleranceOfMp100) {
  PATH_REQUIRE_GPU();
  const LowpCase& c = GetParam();
  auto rng = testing::rng_for("gpu-lowp/" + lowp_name(c));
  ProblemSpec spec;
  if (c.layout == "gqa_paper") spec = {{2, 50, 4, 2, c.D, c.Dv}, true, GateConvention::paper, {}};
  else if (c.layout == "varlen_fla") spec = {{1, 90, 2, 1, c.D, c.Dv}, true, GateConvention::fla, {0, 0, 1, 40, 90}};
  else spec = {{1, 70, 1, 1, c.D, c.Dv}, false, GateConvention::paper, {}};
  Problem<double> p = testing::random_problem(spec, rng);
  add_edge_cases(p, rng);
  // Judge on the inputs the kernel really sees (rounded to the input type; w, beta, g, scale to fp32).
  p = gpu::rounded_problem(p, c.precision);
  const ForwardResult<double> got = gpu::lowp_forward(p, c.precision);
  const ForwardResult<double> baseline = emulate_forward(p, c.precision);
  const ForwardResult<mp100> exact = forward(convert_problem<mp100>(p), ForwardOptions{Algorithm::naive, 1});
  const int p_bits = c.precision == InputPrecision::bf16 ? 8 : c.precision == InputPrecision::fp16 ? 11 : 24;
  const int emin = c.precision == InputPrecision::fp16 ? -14 : -126;
  const OutputTolerance to = judge(got.o, baseline.o, exact.o, p_bits, emin);
  const OutputTolerance tl = judge(got.lse, baseline.lse, exact.lse, 24, -126);
  std::cerr << "  " << lowp_name(c) << ": o error " << to.error << ", baseline " << to.baseline << ", floor " << to.floor
            << ", ratio " << to.ratio() << "; lse error " << tl.error << ", baseline " << tl.baseline << ", ratio "
            << tl.ratio() << "\n";
  EXPECT_EQ(to.nonfinite, 0u) << "o has NaN/Inf (unwritten elements are NaN); " << testing::seed_note();
  EXPECT_EQ(tl.nonfinite, 0u) << "lse has NaN/Inf; " << testing::seed_note();
  EXPECT_LE(to.error, to.tolerance) << "o: error ratio " << to.ratio() << " > 2; " << testing::seed_note();
  EXPECT_LE(tl.error, tl.tolerance) << "lse: error ratio " << tl.ratio() << " > 2; " << testing::seed_note();
  // Outputs are values of the input type.
  for (double x : got.o) ASSERT_EQ(x, round_to_precision(static_cast<float>(x), c.precision));
}

std::vector<LowpCase> lowp_cases() {
  std::vector<LowpCase> out;
  for (InputPrecision prec : {InputPrecision::bf16, InputPrecision::fp16, InputPrecision::fp32})
    for (index_t D : gpu::kSupportedHeadDims) {
      out.push_back({prec, D, D, "gqa_paper"});
      out.push_back({prec, D, D, "varlen_fla"});
    }
  for (InputPrecision prec : {InputPrecision::bf16, InputPrecision::fp32}) {
    out.push_back({prec, 64, 16, "plain"});
    out.push_back({prec, 16, 128, "plain"});
    out.push_back({prec, 128, 32, "varlen_fla"});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, GpuLowp, ::testing::ValuesIn(lowp_cases()),
                         [](const ::testing::TestParamInfo<LowpCase>& info) { return lowp_name(info.param); });

// ---------------------------------------------------------------------------------------------
// A tiny case that exercises every code path once (gate scan, varlen with an empty and a length-1
// sequence, GQA, several key tiles, D != Dv, both kernel families): what scripts/gpu-check.sh runs
// under compute-sanitizer (memcheck, racecheck, synccheck, initcheck).

TEST(GpuSmall, EveryPathOnce) {
  PATH_REQUIRE_GPU();
  auto rng = testing::rng_for("gpu-small");
  Problem<double> p =
      testing::random_problem({{1, 150, 4, 2, 32, 16}, true, GateConvention::fla, {0, 0, 1, 70, 150}}, rng);
  add_edge_cases(p, rng);
  const testing::ForwardBound b = testing::forward_error_bound(p, std::pow(2.0, -53));
  const ForwardResult<double> cpu = forward(p, ForwardOptions{Algorithm::naive, 1});
  const ForwardResult<double> gpu = gpu::gpu_oracle_forward(p);
  expect_close(gpu.o, cpu.o, 2 * b.o, "small fp64 o");
  expect_close(gpu.lse, cpu.lse, 2 * b.lse, "small fp64 lse");
  for (InputPrecision prec : {InputPrecision::bf16, InputPrecision::fp16, InputPrecision::fp32}) {
    const Problem<double> r = gpu::rounded_problem(p, prec);
    const ForwardResult<double> got = gpu::lowp_forward(r, prec);
    const ForwardResult<double> base = emulate_forward(r, prec);
    const ForwardResult<double> ref = forward(r, ForwardOptions{Algorithm::naive, 1});  // double: exact enough here
    const OutputTolerance to = judge(got.o, base.o, ref.o, prec == InputPrecision::bf16 ? 8 : prec == InputPrecision::fp16 ? 11 : 24,
                                     prec == InputPrecision::fp16 ? -14 : -126);
    EXPECT_TRUE(to.passes()) << to_string(prec) << ": o error " << to.error << " > tolerance " << to.tolerance
                             << " (ratio " << to.ratio() << "); " << testing::seed_note();
  }
}

}  // namespace
}  // namespace path
