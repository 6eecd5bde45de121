// The GPU forward kernels' own source (gpu/src/sweep_kernel.cuh), run on the CPU through
// gpu/src/host_shim.hpp (one host thread per CUDA thread, real barriers and shuffles): their index
// arithmetic, tiling, causal masking, varlen and GQA addressing, gate scan and online softmax are
// checked here on every machine, GPU or not, against the CPU oracles (fp64 family) and under the
// tolerance model (bf16/fp16/fp32 family). It says nothing about the GPU itself: code generation,
// races and timing are for tests/test_gpu_forward.cpp and compute-sanitizer on a GPU (docs/gpu.md).
// Problems are small: every CUDA thread is a host thread here.
#include <gtest/gtest.h>

// clang-format off
#include "host_shim.hpp"
#include "sweep_kernel.cuh"
// clang-format on

#include <cmath>
#include <iostream>
#include <limits>

#include "path/emulation.hpp"
#include "path/forward.hpp"
#include "support/error_bound.hpp"
#include "support/random_problem.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

namespace shim = gpu::host_shim;
namespace kd = gpu::detail;

template <class In>
In to_input(double x) {
  if constexpr (std::is_same_v<In, __half>) return __float2half_rn(static_cast<float>(x));
  else if constexpr (std::is_same_v<In, __nv_bfloat16>) return __float2bfloat16_rn(static_cast<float>(x));
  else return static_cast<In>(x);
}

template <class In>
double from_input(In x) {
  if constexpr (std::is_same_v<In, __half>) return __half2float(x);
  else if constexpr (std::is_same_v<In, __nv_bfloat16>) return __bfloat162float(x);
  else return static_cast<double>(x);
}

template <class In>
constexpr kd::ElemType elem_type() {
  if constexpr (std::is_same_v<In, double>) return kd::ElemType::f64;
  else if constexpr (std::is_same_v<In, float>) return kd::ElemType::f32;
  else if constexpr (std::is_same_v<In, __half>) return kd::ElemType::f16;
  else return kd::ElemType::bf16;
}

// What launch_cumulative_gate and launch_sweep do, with host_shim::launch in place of <<<>>>.
// key_tile > 0 overrides the configured key tile (the kernel takes it as an argument).
template <class In>
ForwardResult<double> run_on_host(const Problem<double>& p, int key_tile = 0) {
  using Acc = typename kd::Traits<In>::Acc;
  const Shape& s = p.shape;
  auto inputs = [](const std::vector<double>& xs) {
    std::vector<In> out;
    for (double x : xs) out.push_back(to_input<In>(x));
    return out;
  };
  auto params = [](const std::vector<double>& xs) { return std::vector<Acc>(xs.begin(), xs.end()); };
  const std::vector<In> q = inputs(p.q), k = inputs(p.k), v = inputs(p.v);
  const std::vector<Acc> w = params(p.w), beta = params(p.beta), g = params(p.g);
  const Acc nan = std::numeric_limits<Acc>::quiet_NaN();
  std::vector<Acc> G(p.has_gate() ? s.g_size() : 0, nan), lse(s.lse_size(), nan);
  std::vector<In> o(s.o_size(), to_input<In>(std::nan("")));
  const std::vector<SequenceRange> seqs = sequences_of(s, p.cu_seqlens);
  index_t max_len = 0;
  for (const SequenceRange& r : seqs) max_len = std::max(max_len, r.length);

  kd::SweepArgs a;
  a.in_type = elem_type<In>();
  a.q = q.data();
  a.k = k.data();
  a.v = v.data();
  a.w = w.data();
  a.beta = beta.data();
  a.G = p.has_gate() ? G.data() : nullptr;
  a.cu_seqlens = p.is_varlen() ? p.cu_seqlens.data() : nullptr;
  a.num_seqs = static_cast<index_t>(seqs.size());
  a.max_seq_len = max_len;
  a.B = s.B;
  a.T = s.T;
  a.HQ = s.HQ;
  a.H = s.H;
  a.D = s.D;
  a.Dv = s.Dv;
  a.scale = static_cast<Acc>(p.scale);
  a.gate_fla = p.gate_convention == GateConvention::fla;
  a.o = o.data();
  a.lse = lse.data();

  if (p.has_gate()) {
    const unsigned n = static_cast<unsigned>(a.num_seqs * s.HQ), threads = 32;
    shim::launch({(n + threads - 1) / threads, 1, 1}, threads, 0, kd::cumulative_gate_kernel<Acc>, g.data(), G.data(),
                 a.cu_seqlens, a.num_seqs, s.T, s.HQ);
  }
  kd::SweepConfig c = kd::make_sweep_config(a);
  if (key_tile > 0) {
    c.shared_bytes = c.shared_bytes / static_cast<std::size_t>(c.key_tile) * static_cast<std::size_t>(key_tile);
    c.key_tile = key_tile;
  }
  const shim::Dim grid{static_cast<unsigned>((max_len + kd::kQueriesPerBlock - 1) / kd::kQueriesPerBlock),
                       static_cast<unsigned>(s.HQ), static_cast<unsigned>(a.num_seqs)};
  kd::with_sweep_kernel<In>(c.per_lane_elements, [&](auto kernel) {
    shim::launch(grid, kd::kThreads, c.shared_bytes, kernel, a, c.key_tile);
  });

  ForwardResult<double> r{s, {}, {}};
  for (const In& x : o) r.o.push_back(from_input<In>(x));
  for (Acc x : lse) r.lse.push_back(static_cast<double>(x));
  return r;
}

struct Error {
  double max_abs = 0;
  std::size_t nonfinite = 0;
};

Error error_of(const std::vector<double>& got, const std::vector<double>& want) {
  Error e;
  EXPECT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size() && i < want.size(); ++i) {
    if (!std::isfinite(got[i])) ++e.nonfinite;
    else e.max_abs = std::max(e.max_abs, std::abs(got[i] - want[i]));
  }
  return e;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double bound, const std::string& what) {
  const Error e = error_of(got, want);
  std::cerr << "  " << what << ": max error " << e.max_abs << " (bound " << bound << ")\n";
  EXPECT_EQ(e.nonfinite, 0u) << what << ": NaN/Inf (an element never written?); " << testing::seed_note();
  EXPECT_LE(e.max_abs, bound) << what << "; " << testing::seed_note();
}

testing::ProblemSpec spec(Shape s, bool gate = false, GateConvention c = GateConvention::paper,
                          std::vector<index_t> cu = {}) {
  testing::ProblemSpec r;
  r.shape = s;
  r.gate = gate;
  r.convention = c;
  r.cu_seqlens = std::move(cu);
  return r;
}

// beta = 0, beta = 2, w = 0 and repeated w mixed into a gaussian problem (the error model's regime).
void add_edge_cases(Problem<double>& p, std::mt19937_64& rng) {
  const index_t D = p.shape.D;
  for (std::size_t row = 0; row < p.beta.size(); ++row) {
    const int pick = std::uniform_int_distribution<int>(0, 7)(rng);
    if (pick == 0) p.beta[row] = 0.0;
    if (pick == 1) p.beta[row] = 2.0;
    if (pick == 2) std::fill(&p.w[row * D], &p.w[row * D] + D, 0.0);
    if (pick == 3 && row >= static_cast<std::size_t>(p.shape.H))
      std::copy(&p.w[(row - p.shape.H) * D], &p.w[(row - p.shape.H) * D] + D, &p.w[row * D]);
  }
}

struct HostCase {
  std::string name;
  testing::ProblemSpec spec;
};

class HostKernelFp64 : public ::testing::TestWithParam<HostCase> {};

TEST_P(HostKernelFp64, MatchesCpuOracle) {
  const HostCase& c = GetParam();
  auto rng = testing::rng_for("host-kernel/" + c.name);
  Problem<double> p = testing::random_problem(c.spec, rng);
  add_edge_cases(p, rng);
  const ForwardResult<double> got = run_on_host<double>(p);
  const ForwardResult<double> want = forward(p, ForwardOptions{Algorithm::naive, 1});
  const testing::ForwardBound b = testing::forward_error_bound(p, std::pow(2.0, -53));
  expect_close(got.o, want.o, 2 * b.o, c.name + " o");
  expect_close(got.lse, want.lse, 2 * b.lse, c.name + " lse");
}

INSTANTIATE_TEST_SUITE_P(
    Problems, HostKernelFp64,
    ::testing::Values(HostCase{"single_token", spec({1, 1, 1, 1, 4, 4})},
                      HostCase{"plain", spec({1, 21, 1, 1, 8, 8})},
                      HostCase{"gqa_gate_paper_two_query_tiles", spec({2, 35, 4, 2, 16, 16}, true, GateConvention::paper)},
                      HostCase{"varlen_fla_odd_dims", spec({1, 40, 2, 1, 13, 29}, true, GateConvention::fla, {0, 0, 1, 17, 17, 40})},
                      HostCase{"head_dim_256_small_key_tile", spec({1, 20, 1, 1, 256, 200}, true, GateConvention::fla)}),
    [](const ::testing::TestParamInfo<HostCase>& info) { return info.param.name; });

// The key tile is a free parameter of the kernel: any value gives the same result up to rounding.
TEST(HostKernel, KeyTileIsFree) {
  auto rng = testing::rng_for("host-kernel-key-tile");
  Problem<double> p = testing::random_problem(spec({1, 37, 2, 1, 8, 8}, true, GateConvention::fla, {0, 18, 37}), rng);
  add_edge_cases(p, rng);
  const ForwardResult<double> want = forward(p, ForwardOptions{Algorithm::naive, 1});
  const testing::ForwardBound b = testing::forward_error_bound(p, std::pow(2.0, -53));
  for (int kt : {1, 3, 16, 64}) {
    const ForwardResult<double> got = run_on_host<double>(p, kt);
    expect_close(got.o, want.o, 2 * b.o, "key tile " + std::to_string(kt) + " o");
    expect_close(got.lse, want.lse, 2 * b.lse, "key tile " + std::to_string(kt) + " lse");
  }
}

// The low-precision family under the tolerance model, exact = double (far below fp32's errors here).
template <class In>
void check_low_precision(InputPrecision prec, int p_bits, int emin) {
  auto rng = testing::rng_for(std::string("host-kernel-lowp/") + std::string(to_string(prec)));
  for (const testing::ProblemSpec& sp : {spec({1, 33, 4, 2, 16, 32}, true, GateConvention::paper),
                                          spec({1, 30, 2, 1, 64, 16}, true, GateConvention::fla, {0, 1, 12, 30})}) {
    Problem<double> p = testing::random_problem(sp, rng);
    add_edge_cases(p, rng);
    // The inputs the kernel sees: q, k, v rounded to the input type; w, beta, g, scale to fp32.
    for (auto* t : {&p.q, &p.k, &p.v})
      for (double& x : *t) x = round_to_precision(static_cast<float>(x), prec);
    for (auto* t : {&p.w, &p.beta, &p.g})
      for (double& x : *t) x = static_cast<float>(x);
    p.scale = static_cast<float>(p.scale);
    const ForwardResult<double> got = run_on_host<In>(p);
    const ForwardResult<double> base = emulate_forward(p, prec);
    const ForwardResult<double> exact = forward(p, ForwardOptions{Algorithm::naive, 1});
    double max_exact = 0;
    for (double x : exact.o) max_exact = std::max(max_exact, std::abs(x));
    const double floor = 2 * std::ldexp(1.0, std::max(std::ilogb(max_exact), emin) - p_bits + 1);
    const Error e = error_of(got.o, exact.o), eb = error_of(base.o, exact.o);
    const Error el = error_of(got.lse, exact.lse), elb = error_of(base.lse, exact.lse);
    double max_lse = 0;
    for (double x : exact.lse) max_lse = std::max(max_lse, std::abs(x));
    const double lse_floor = 2 * std::ldexp(1.0, std::max(std::ilogb(max_lse), -126) - 24 + 1);  // 2 ulps of fp32
    std::cerr << "  " << to_string(prec) << " D=" << p.shape.D << ": o error " << e.max_abs << ", baseline " << eb.max_abs
              << ", floor " << floor << "; lse error " << el.max_abs << ", baseline " << elb.max_abs << "\n";
    EXPECT_EQ(e.nonfinite + el.nonfinite, 0u) << testing::seed_note();
    EXPECT_LE(e.max_abs, 2 * eb.max_abs + floor) << to_string(prec) << " o; " << testing::seed_note();
    EXPECT_LE(el.max_abs, 2 * elb.max_abs + lse_floor) << to_string(prec) << " lse; " << testing::seed_note();
    for (double x : got.o) ASSERT_EQ(x, round_to_precision(static_cast<float>(x), prec)) << "o is not in the input type";
  }
}

TEST(HostKernel, Bf16WithinTolerance) { check_low_precision<__nv_bfloat16>(InputPrecision::bf16, 8, -126); }
TEST(HostKernel, Fp16WithinTolerance) { check_low_precision<__half>(InputPrecision::fp16, 11, -14); }
TEST(HostKernel, Fp32WithinTolerance) { check_low_precision<float>(InputPrecision::fp32, 24, -126); }

}  // namespace
}  // namespace path
