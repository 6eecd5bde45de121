// The tensor-core forward's kernel source (gpu/kernels/forward/src/tc/tc_kernels.cuh) run on the CPU
// through path/gpu/host_shim.hpp, mma.sync emulated lane by lane from the documented fragment
// layouts, and judged by the conformance judge: the index arithmetic, block table, masks, the
// accumulator-to-operand fragment mapping and the split-operand arithmetic, with no GPU. What it
// does not show: the tensor cores' own rounding, code generation, races (tests/test_gpu_forward_tc.cpp
// runs the real kernels on a GPU).
#include "path/gpu/host_shim.hpp"
#include "tc/tc_kernels.cuh"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <sstream>
#include <string>

#include "path/conformance/judge.hpp"
#include "path/conformance/runner.hpp"
#include "path/conformance/suite.hpp"
#include "path/core/rounding.hpp"
#include "path/forward.hpp"
#include "support/compare.hpp"
#include "support/random_problem.hpp"
#include "support/stored_cases.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

namespace shim = gpu::host_shim;
// lowp_math.cuh's gate scan (internal linkage) is not run here: G is summed below in its order.
[[maybe_unused]] const auto unused_gate_scan = &gpu::lowp_math::gate_scan_kernel;
namespace tc = gpu::tc_forward;
namespace conf = conformance;

template <class In>
std::vector<In> as_input(const std::vector<double>& xs) {
  std::vector<In> out(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) out[i] = gpu::lowp_math::from_acc<In>(static_cast<float>(xs[i]));
  return out;
}

std::vector<float> as_f32(const std::vector<double>& xs) { return std::vector<float>(xs.begin(), xs.end()); }

// What tc_forward::launch does, with host_shim::launch in place of <<<>>> and host vectors as scratch.
template <class In, int D, int NS, bool PRESPLIT = false>
ForwardResult<double> tc_host_forward(const Problem<double>& p) {
  const Shape& s = p.shape;
  const std::vector<In> q = as_input<In>(p.q), k = as_input<In>(p.k), v = as_input<In>(p.v);
  const std::vector<float> w = as_f32(p.w), beta = as_f32(p.beta), g = as_f32(p.g);
  std::vector<float> G;
  std::vector<std::int64_t> batch, begin, length;
  for (const SequenceRange& r : sequences_of(s, p.cu_seqlens)) {
    batch.push_back(r.batch);
    begin.push_back(r.begin);
    length.push_back(r.length);
  }
  if (p.has_gate()) {  // gate_scan_kernel's arithmetic: in order, fp32
    G.assign(g.size(), 0.0f);
    for (std::size_t n = 0; n < length.size(); ++n)
      for (index_t hq = 0; hq < s.HQ; ++hq) {
        float acc = 0.0f;
        for (index_t t = 0; t < length[n]; ++t) {
          const std::size_t at = static_cast<std::size_t>((batch[n] * s.T + begin[n] + t) * s.HQ + hq);
          acc += g[at];
          G[at] = acc;
        }
      }
  }
  const std::vector<tc::TcBlock> blocks = tc::make_blocks(batch, begin, length, s.T);
  const std::size_t nb = blocks.size(), BK = tc::kBlock;
  std::vector<float> kt(nb * s.H * BK * D), wpt(nb * s.H * BK * D), qt(nb * s.HQ * BK * D), rd(nb * s.HQ * BK * BK, NAN);
  std::vector<In> o(s.o_size(), gpu::lowp_math::from_acc<In>(NAN));
  std::vector<float> lse(s.lse_size(), NAN);
  tc::DevArgs d{};
  d.q = q.data();
  d.k = k.data();
  d.v = v.data();
  d.w = w.data();
  d.beta = beta.data();
  d.G = p.has_gate() ? G.data() : nullptr;
  d.T = s.T;
  d.HQ = s.HQ;
  d.H = s.H;
  d.scale = static_cast<float>(p.scale);
  d.gate_fla = p.gate_convention == GateConvention::fla;
  d.o = o.data();
  d.lse = lse.data();
  d.blocks = blocks.data();
  d.kt = kt.data();
  d.wpt = wpt.data();
  d.qt = qt.data();
  d.rd = rd.data();
  // The pre-split planes (what tc_forward::launch allocates when presplit is on).
  const std::int64_t kt_pairs = static_cast<std::int64_t>(kt.size() / 2), w_pairs = static_cast<std::int64_t>(w.size() / 2);
  std::vector<std::uint32_t> kt3(PRESPLIT ? tc::kSplitPlanes * kt.size() / 2 : 0), wpt3(kt3.size()),
      w3(PRESPLIT ? tc::kSplitPlanes * w.size() / 2 : 0);
  d.kt3 = kt3.data();
  d.wpt3 = wpt3.data();
  d.w3 = w3.data();
  d.kt_plane = kt_pairs;
  d.w_plane = w_pairs;
  if (nb > 0) {
    const unsigned ub = static_cast<unsigned>(nb);
    shim::launch({ub, static_cast<unsigned>(s.H), 1}, tc::kThreads, tc::prep_kv_bytes<D>(), tc::prep_kv_kernel<In, D>, d);
    if constexpr (PRESPLIT) {
      shim::launch({4, 1, 1}, 64, 0, tc::split_planes_kernel, d.kt, d.kt3, kt_pairs);
      shim::launch({4, 1, 1}, 64, 0, tc::split_planes_kernel, static_cast<const float*>(d.wpt), d.wpt3, kt_pairs);
      shim::launch({4, 1, 1}, 64, 0, tc::split_planes_kernel, d.w, d.w3, w_pairs);
    }
    shim::launch({ub, static_cast<unsigned>(s.HQ), 1}, tc::kThreads, tc::prep_q_bytes<D>(), tc::prep_q_kernel<In, D>, d);
    shim::launch({ub, static_cast<unsigned>(s.HQ), 1}, tc::kThreads, tc::main_shared_bytes<D, NS, PRESPLIT>(sizeof(In)),
                 tc::main_kernel<In, D, NS, PRESPLIT>, d);
  }
  ForwardResult<double> r{s, {}, {}};
  for (In x : o) r.o.push_back(gpu::lowp_math::to_acc(x));
  for (float x : lse) r.lse.push_back(x);
  return r;
}

template <int NS>
class TcHost : public conf::Implementation {
 public:
  std::string name() const override { return "tc-host-NS" + std::to_string(NS); }
  std::string cannot_run(const conf::CaseSpec& spec) const override {
    if (spec.mode != conf::Mode::prefill || spec.gradients) return "forward cases only";
    if (spec.shape.D != spec.shape.Dv || (spec.shape.D != 64 && spec.shape.D != 128)) return "D = Dv in {64, 128} only";
    if (spec.dtype != DType::BF16 && spec.dtype != DType::F16) return "bf16, fp16";
    return {};
  }
  void run(const conf::CaseInput& input, conf::Outputs& outputs) override {
    const bool bf16 = input.spec.dtype == DType::BF16, d64 = input.spec.shape.D == 64;
    const ForwardResult<double> r = bf16 ? (d64 ? tc_host_forward<__nv_bfloat16, 64, NS>(input.problem)
                                                : tc_host_forward<__nv_bfloat16, 128, NS>(input.problem))
                                         : (d64 ? tc_host_forward<__half, 64, NS>(input.problem)
                                                : tc_host_forward<__half, 128, NS>(input.problem));
    conf::store_rounded(outputs.at("o"), r.o);
    conf::store_rounded(outputs.at("lse"), r.lse);
  }
};

conf::Case forward_case(const std::string& name, Problem<double> p, DType dtype) {
  return testing::stored_forward_case(name, std::move(p), dtype, "test_gpu_forward_tc_host");
}

template <class Impl>
void judge(const std::vector<conf::Case>& cases) {
  Impl impl;
  conf::Report r = conf::run_cases(impl, cases, {});
  for (const conf::CaseVerdict& v : r.cases) testing::log_verdict(v, impl.name());
  EXPECT_EQ(r.count(conf::Verdict::fail), 0u) << testing::report_text(r) << testing::seed_note();
  EXPECT_EQ(r.count(conf::Verdict::pass), cases.size()) << testing::report_text(r) << testing::seed_note();
}

// T = 1 (diagonal only), 150 (three blocks, the last short), varlen with an empty and a length-1
// sequence and GQA; `few`: the 150 one in bf16 only.
std::vector<conf::Case> small_cases(bool few = false) {
  struct Spec {
    index_t T, HQ, H;
    bool gate;
    GateConvention c;
    std::vector<index_t> cu;
  };
  const Spec specs[] = {{150, 2, 1, true, GateConvention::paper, {}},
                        {1, 1, 1, false, GateConvention::paper, {}},
                        {140, 4, 2, true, GateConvention::fla, {0, 0, 1, 70, 140}}};
  std::vector<conf::Case> cases;
  for (const Spec& sp : specs) {
    if (few && !cases.empty()) break;
    auto rng = testing::rng_for("tc-host-" + std::to_string(sp.T));
    const Problem<double> p = testing::random_problem({{1, sp.T, sp.HQ, sp.H, 64, 64}, sp.gate, sp.c, sp.cu}, rng);
    for (DType dt : {DType::BF16, DType::F16}) {
      if (few && dt != DType::BF16) continue;
      cases.push_back(forward_case("T" + std::to_string(sp.T) + (sp.cu.empty() ? "" : "_varlen") + "_" +
                                       std::string(dtype_label(dt)),
                                   p, dt));
    }
  }
  return cases;
}

TEST(TcForwardHost, ThreeTermSplitPassesTheJudge) { judge<TcHost<3>>(small_cases()); }

// The standard suite's large-logit case (s049: T = 200, D = 128, fla gate, q and k drawn with
// sigma 4, raw logits of a few hundred) and its D = 64 twin, fresh draws, judged. On the H200 the
// kernel's lse failed s049 (ratio 3.0) while every split product went into one running
// accumulator. Under the shim's truncating MMA (tensor_core_sum) the judge catches that only on
// some draws (lse ratios 1.9-2.4 with the old accumulation), so LargeLogitLseIsFp32Accurate below
// holds the kernel to its design target instead: with NS = 3 the GEMMs are about fp32-accurate
// (docs/gpu-fast-forward.md, 24 significant bits in three 8-bit terms), so lse's rms error relative
// to rms |lse| must stay within a few units of 2^-24. Measured on the D = 128 draw (seeds 11, 22,
// 33): 1.22-1.35 units with the per-k-block accumulators, 5.0-5.9 with one running accumulator (no
// bias: truncation of the signed correction terms loses bits both ways). The bound is 3.
conf::Case large_logit_case(index_t D) {
  conf::CaseSpec spec;
  spec.name = "large_logits_T200_D" + std::to_string(D) + "_bf16";
  spec.shape = Shape{1, 200, 1, 1, D, D};
  spec.dtype = DType::BF16;
  spec.gated = true;
  spec.gate_convention = GateConvention::fla;
  spec.distribution = "large_logits";
  auto rng = testing::rng_for("tc-host-large-logits-" + std::to_string(D));
  conf::CaseInput in = conf::draw_inputs(spec, rng());
  return forward_case(spec.name, std::move(in.problem), spec.dtype);
}

TEST(TcForwardHost, LargeLogitsPassTheJudge) {
  std::vector<conf::Case> cases;
  for (index_t D : {index_t{64}, index_t{128}}) cases.push_back(large_logit_case(D));
  judge<TcHost<3>>(cases);
}

TEST(TcForwardHost, LargeLogitLseIsFp32Accurate) {
  const conf::Case c = large_logit_case(128);
  const ForwardResult<double> r = tc_host_forward<__nv_bfloat16, 128, 3>(c.input.problem);
  const std::vector<double>& exact = c.expected.at("lse");
  ASSERT_EQ(r.lse.size(), exact.size());
  double err2 = 0, ref2 = 0;
  for (std::size_t i = 0; i < exact.size(); ++i) {
    const double e = round_to(r.lse[i], DType::F32) - exact[i];
    err2 += e * e;
    ref2 += exact[i] * exact[i];
  }
  ASSERT_GT(ref2, 0.0);
  const double units = std::sqrt(err2 / ref2) / 0x1p-24;  // rms relative error in units of 2^-24
  std::cerr << "  [tc-host-NS3] large-logit lse: rms relative error " << units << " x 2^-24\n";
  EXPECT_LE(units, 3.0) << "the split GEMMs are no longer fp32-accurate (the truncating accumulation of one "
                           "running accumulator gives 5-6)" << testing::seed_note();
}

// The pre-split variant (split_planes_kernel once, b_planes in the main kernel) computes what the
// default computes, bit for bit: same terms, same MMAs in the same order. Checked on a three-block
// GQA case per head dim (the W planes of every row, the K~ and W' planes of every block).
TEST(TcForwardHost, PresplitIsBitwiseTheSame) {
  auto rng = testing::rng_for("tc-host-presplit");
  for (index_t D : {index_t{64}, index_t{128}}) {
    const Problem<double> p = testing::random_problem({{1, 150, 2, 1, D, D}, true, GateConvention::paper, {}}, rng);
    const ForwardResult<double> a = D == 64 ? tc_host_forward<__nv_bfloat16, 64, 3>(p) : tc_host_forward<__nv_bfloat16, 128, 3>(p);
    const ForwardResult<double> b =
        D == 64 ? tc_host_forward<__nv_bfloat16, 64, 3, true>(p) : tc_host_forward<__nv_bfloat16, 128, 3, true>(p);
    EXPECT_EQ(testing::bitwise_differences(a.o, b.o) + testing::bitwise_differences(a.lse, b.lse), 0u)
        << "D = " << D << testing::seed_note();
  }
}

// Two terms: reported, not required (the lse ratio is what decides the default split).
TEST(TcForwardHost, TwoTermSplitRatios) {
  TcHost<2> impl;
  const conf::Report r = conf::run_cases(impl, small_cases(true), {});
  for (const conf::CaseVerdict& v : r.cases) {
    std::cerr << "  [" << impl.name() << "] " << v.name << ": " << conf::to_string(v.verdict);
    for (const conf::OutputVerdict& o : v.outputs) std::cerr << "; " << o.output << " ratio " << o.ratio;
    std::cerr << "\n";
  }
}

}  // namespace
}  // namespace path
