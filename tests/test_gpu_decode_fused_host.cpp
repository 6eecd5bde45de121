// The fused decode step's kernel source (gpu/kernels/decode/src/fused_decode_kernel.cuh, issue 17)
// run on the CPU through path/gpu/host_shim.hpp, against the plain step's kernels
// (decode_kernel.cuh) run the same way: the same random cache and new tokens, both steps, and o, lse,
// the updated keys, the appended values and gates compared. Both compute in fp32 in different
// orders (the fused step applies the transforms to the key, the plain one to the query) and round
// to the input type, so they agree to a few units of the input type's rounding, not bitwise; an
// indexing, masking or split-merging error shows as a difference of order one. Several splits
// (small split length) and one split per kv head (every tile through one block: the ring of
// streamed rows wraps around), an empty cache, chunks of 1, 2, 5 and 16 tokens, GQA, both gate conventions
// and no gate, D != Dv, every input dtype, and the fp32 cache of bf16/fp16 inputs.
// And judged: decode cases from an empty cache (prefill 0: every row comes from a fused step) through
// the conformance judge, chunks of 1, 2, 5 and 16 tokens.
// What this does not check: the GPU itself (vector loads, code generation, races); the conformance
// judge's verdict on the fused step runs on a GPU (tests/test_gpu_decode_fused.cpp).
#include <gtest/gtest.h>

// clang-format off
#include "path/gpu/host_shim.hpp"
#include "decode_kernel.cuh"
#include "fused_decode_kernel.cuh"
// clang-format on

#include <cmath>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "path/conformance/case.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/suite.hpp"
#include "path/core/rounding.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

namespace shim = gpu::host_shim;
namespace dk = gpu::decode_kernel;
namespace fdk = gpu::fused_decode_kernel;

struct HostLauncher {
  template <class Grid, class Kernel, class... Args>
  void operator()(const char*, Grid g, unsigned threads, std::size_t shared_bytes, Kernel kernel,
                  const Args&... args) const {
    shim::launch({g.x, g.y, g.z}, threads, shared_bytes, kernel, args...);
  }
};

template <class T>
T to_t(float x) {
  return gpu::lowp_math::from_acc<T>(x);
}
template <class T>
float to_f(T x) {
  return gpu::lowp_math::to_acc(x);
}

template <class T>
DType dtype_of() {
  return std::is_same_v<T, float> ? DType::F32 : std::is_same_v<T, __half> ? DType::F16 : DType::BF16;
}

struct Layout {
  long long B, HQ, H, D, Dv, n0, n;
  bool gated;
  bool fla;
};

// How the fused step splits the cache: the shortest splits (one tile of kGroups keys each: many
// blocks, the split merge exercised) or one split per (sequence, kv head) (every tile of the cache
// through one block: the ring of streamed rows wraps around, as on a GPU with long caches).
enum class Splits { shortest, one };

// One step from the same state through both implementations; returns false (with failures added)
// on disagreement.
template <class In, class KC>
void compare_step(const Layout& L, double tol, unsigned seed, Splits splits) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> unif(0.0f, 1.0f);
  const long long cap = L.n0 + L.n + 3;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<KC> ck(static_cast<std::size_t>(L.B * cap * L.H * L.D), to_t<KC>(nan));
  std::vector<KC> cv(static_cast<std::size_t>(L.B * cap * L.H * L.Dv), to_t<KC>(nan));
  std::vector<float> cG(L.gated ? static_cast<std::size_t>(L.B * cap * L.HQ) : 0, nan);
  // A cache state: keys and values rounded to the cache type, cumulative gates.
  for (long long b = 0; b < L.B; ++b)
    for (long long j = 0; j < L.n0; ++j) {
      for (long long i = 0; i < L.H * L.D; ++i) ck[(b * cap + j) * L.H * L.D + i] = to_t<KC>(to_f(to_t<In>(normal(gen))));
      for (long long i = 0; i < L.H * L.Dv; ++i) cv[(b * cap + j) * L.H * L.Dv + i] = to_t<KC>(to_f(to_t<In>(normal(gen))));
      if (L.gated)
        for (long long hq = 0; hq < L.HQ; ++hq)
          cG[(b * cap + j) * L.HQ + hq] = (j > 0 ? cG[(b * cap + j - 1) * L.HQ + hq] : 0.0f) - 0.05f * unif(gen);
    }
  const std::size_t rows = static_cast<std::size_t>(L.B * L.n);
  std::vector<In> q(rows * L.HQ * L.D), k(rows * L.H * L.D), v(rows * L.H * L.Dv);
  std::vector<float> w(rows * L.H * L.D), beta(rows * L.H), g(L.gated ? rows * L.HQ : 0);
  for (auto& x : q) x = to_t<In>(normal(gen));
  for (auto& x : k) x = to_t<In>(normal(gen));
  for (auto& x : v) x = to_t<In>(normal(gen));
  for (auto& x : w) x = normal(gen) / std::sqrt(static_cast<float>(L.D));
  for (auto& x : beta) x = 2.0f * unif(gen);
  for (auto& x : g) x = -0.1f * unif(gen);

  struct State {
    std::vector<KC> ck, cv;
    std::vector<float> cG;
    std::vector<In> o;
    std::vector<float> lse, partials;
  };
  State s[2] = {{ck, cv, cG, {}, {}, {}}, {ck, cv, cG, {}, {}, {}}};
  HostLauncher launch;
  for (int which = 0; which < 2; ++which) {
    State& st = s[which];
    st.o.assign(rows * L.HQ * L.Dv, to_t<In>(nan));
    st.lse.assign(rows * L.HQ, nan);
    gpu::decode_detail::DecodeKernelArgs a;
    a.in_type = dtype_of<In>();
    a.cache_type = dtype_of<KC>();
    a.batch = L.B;
    a.n0 = L.n0;
    a.n = L.n;
    a.capacity = cap;
    a.HQ = L.HQ;
    a.H = L.H;
    a.D = L.D;
    a.Dv = L.Dv;
    a.scale = 0.3f;
    a.gate_fla = L.fla;
    a.q = q.data();
    a.k = k.data();
    a.v = v.data();
    a.w = w.data();
    a.beta = beta.data();
    a.g = L.gated ? g.data() : nullptr;
    a.cache_k = st.ck.data();
    a.cache_v = st.cv.data();
    a.cache_G = L.gated ? st.cG.data() : nullptr;
    a.o = st.o.data();
    a.lse = st.lse.data();
    if (which == 0) {
      dk::enqueue_decode<In>(a, false, launch);
    } else {
      fdk::FusedPlan f;
      std::string why;
      const bool one = splits == Splits::one;
      ASSERT_TRUE(fdk::plan_fused(a, one ? 1 : 1 << 20, f, &why, one ? 1 << 30 : fdk::kGroups)) << why;
      std::cerr << "  [B=" << L.B << " HQ=" << L.HQ << " H=" << L.H << " D=" << L.D << " Dv=" << L.Dv
                << " n0=" << L.n0 << " n=" << L.n << "] fused splits " << f.splits << " of " << f.split_len << "\n";
      st.partials.assign(fdk::fused_workspace_floats(a, f), nan);
      a.partials = st.partials.data();
      fdk::enqueue_fused_step<In, KC>(a, f, launch);
    }
  }
  auto check = [&](const char* what, std::size_t count, auto get_plain, auto get_fused, double t) {
    std::size_t bad = 0;
    double worst = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const double x = get_plain(i), y = get_fused(i);
      if (!std::isfinite(y) || !std::isfinite(x)) {
        ++bad;
        continue;
      }
      const double e = std::abs(x - y) / (1.0 + std::abs(x));
      worst = std::max(worst, e);
      if (e > t) ++bad;
    }
    EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << count << " differ (worst " << worst << ", tol " << t << ")";
  };
  check("o", s[0].o.size(), [&](std::size_t i) { return to_f(s[0].o[i]); }, [&](std::size_t i) { return to_f(s[1].o[i]); },
        tol);
  check("lse", s[0].lse.size(), [&](std::size_t i) { return s[0].lse[i]; }, [&](std::size_t i) { return s[1].lse[i]; },
        tol);
  // Keys and values of slots 0 .. n0+n-1 (the rest stays NaN in both: compared separately).
  const std::size_t kslots = static_cast<std::size_t>((L.n0 + L.n) * L.H * L.D);
  const std::size_t vslots = static_cast<std::size_t>((L.n0 + L.n) * L.H * L.Dv);
  for (long long b = 0; b < L.B; ++b) {
    const std::size_t kb = static_cast<std::size_t>(b * cap * L.H * L.D), vb = static_cast<std::size_t>(b * cap * L.H * L.Dv);
    check("k_cache", kslots, [&](std::size_t i) { return to_f(s[0].ck[kb + i]); },
          [&](std::size_t i) { return to_f(s[1].ck[kb + i]); }, tol);
    check("v_cache", vslots, [&](std::size_t i) { return to_f(s[0].cv[vb + i]); },
          [&](std::size_t i) { return to_f(s[1].cv[vb + i]); }, 0.0);
    EXPECT_TRUE(std::isnan(to_f(s[1].ck[kb + kslots]))) << "the slot after the step was written";
    if (L.gated) {
      const std::size_t gb = static_cast<std::size_t>(b * cap * L.HQ), gs = static_cast<std::size_t>((L.n0 + L.n) * L.HQ);
      check("gates", gs, [&](std::size_t i) { return s[0].cG[gb + i]; }, [&](std::size_t i) { return s[1].cG[gb + i]; },
            0.0);
    }
  }
}

// Both steps agree to a few units of the input type: 8 for the 8-bit bf16 mantissa and the 11-bit
// fp16 one; fp32 differs by the fp32 arithmetic's order (logits of a few units, exp amplifies).
template <class In>
double tolerance() {
  return std::is_same_v<In, float> ? 2e-4 : std::is_same_v<In, __half> ? 8.0 * 0x1p-11 : 8.0 * 0x1p-8;
}

template <class In, class KC>
void run_all() {
  const std::vector<Layout> layouts = {
      {2, 4, 2, 16, 32, 70, 1, true, false},   // GQA, paper gate, 3 splits
      {1, 2, 1, 32, 16, 45, 2, true, true},    // fla gate
      {1, 2, 2, 16, 16, 0, 5, false, false},   // an empty cache: only the chunk's keys
      {1, 4, 2, 16, 16, 100, 5, true, false},  // a chunk inside a split
      {1, 2, 1, 64, 64, 40, 16, true, true},   // a 16-token chunk crossing a split boundary
      {1, 1, 1, 128, 128, 33, 3, false, false},
      {1, 1, 1, 64, 64, 300, 1, true, false},  // 10 tiles of 32 keys: with one split, the ring wraps
  };
  unsigned seed = 1234;
  for (const Layout& L : layouts)
    for (const Splits splits : {Splits::shortest, Splits::one}) {
      SCOPED_TRACE("n0=" + std::to_string(L.n0) + " n=" + std::to_string(L.n) + " D=" + std::to_string(L.D) +
                   (splits == Splits::one ? " one split" : " shortest splits"));
      compare_step<In, KC>(L, tolerance<In>(), seed++, splits);
    }
}

TEST(HostFusedDecode, Bf16AgreesWithThePlainStep) { run_all<__nv_bfloat16, __nv_bfloat16>(); }
TEST(HostFusedDecode, Fp16AgreesWithThePlainStep) { run_all<__half, __half>(); }
TEST(HostFusedDecode, Fp32AgreesWithThePlainStep) { run_all<float, float>(); }
TEST(HostFusedDecode, Bf16WithAnFp32CacheAgreesWithThePlainStep) { run_all<__nv_bfloat16, float>(); }
TEST(HostFusedDecode, Fp16WithAnFp32CacheAgreesWithThePlainStep) { run_all<__half, float>(); }

// Every plan the fused step accepts launches within the H200's opt-in shared memory (227 KiB; the
// launcher refuses more on a smaller device), sizes its ring for the cache type the kernel
// instantiates (the host derives it from in_type and cache_type, the kernel from KC), covers every
// key with its splits, and keeps the per-group P*V within its registers and its reduction within the
// ring. What this does not check: that the kernel reads only within the ring (the GPU's memcheck does).
template <class In, class KC>
void check_plans() {
  const std::size_t h200_optin = 227 * 1024;
  int accepted = 0, grouped = 0;
  for (long long D : {16, 32, 64, 128})
    for (long long Dv : {16, 32, 64, 128})
      for (long long n : {1, 2, 5, 16, 64})
        for (long long G : {1, 2, 4, 8})
          for (long long n0 : {0, 31, 4096}) {
            gpu::decode_detail::DecodeKernelArgs a;
            a.in_type = dtype_of<In>();
            a.cache_type = dtype_of<KC>();
            a.batch = 3;
            a.H = 2;
            a.HQ = 2 * G;
            a.D = D;
            a.Dv = Dv;
            a.n0 = n0;
            a.n = n;
            fdk::FusedPlan f;
            if (!fdk::plan_fused(a, 8 * 132, f, nullptr)) continue;
            ++accepted;
            grouped += f.group_pv;
            SCOPED_TRACE("D " + std::to_string(D) + " Dv " + std::to_string(Dv) + " n " + std::to_string(n) + " G " +
                         std::to_string(G) + " n0 " + std::to_string(n0));
            const int row_bytes = static_cast<int>((D + Dv) / fdk::kLanes * sizeof(KC));
            const std::size_t ring = fdk::ring_bytes(row_bytes);
            EXPECT_EQ(f.shared_bytes, fdk::ring_offset(n, f.pairs, D, Dv) + ring);
            EXPECT_LE(f.shared_bytes, h200_optin);
            EXPECT_GE(f.splits * f.split_len, n0 + n);
            EXPECT_LT((f.splits - 1) * f.split_len, n0 + n);
            EXPECT_EQ(f.split_len % fdk::kGroups, 0);
            if (f.group_pv) {
              EXPECT_LE(f.pairs, fdk::group_pv_pairs(static_cast<int>(Dv / fdk::kLanes)));
              EXPECT_LE(static_cast<std::size_t>(fdk::kGroups) * f.pairs * Dv * sizeof(float), ring);
            }
          }
  EXPECT_GT(accepted, 100);  // the loops reach the plans they are meant to check, both P*V paths
  EXPECT_GT(grouped, 10);
  EXPECT_LT(grouped, accepted);
}

TEST(HostFusedDecode, PlansFitTheDeviceAndCoverEveryKey) {
  check_plans<__nv_bfloat16, __nv_bfloat16>();
  check_plans<__half, __half>();
  check_plans<float, float>();
  check_plans<__nv_bfloat16, float>();
  check_plans<__half, float>();
}

// ---------------------------------------------------------------------------------------------
// Judged: decode cases with prefill 0 (batch rows decoded together), every step fused.
namespace conf = conformance;

template <class In, class KC>
conf::Outputs run_fused_on_host(const conf::CaseInput& in, long long chunk) {
  const Problem<double>& p = in.problem;
  const Shape& s = p.shape;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto as = [](const std::vector<double>& xs, auto tag) {
    using T = decltype(tag);
    std::vector<T> out;
    for (double x : xs) out.push_back(to_t<T>(static_cast<float>(x)));  // the case's inputs are exact in T
    return out;
  };
  const std::vector<In> q = as(p.q, In{}), k = as(p.k, In{}), v = as(p.v, In{});
  const std::vector<float> w = as(p.w, 0.0f), beta = as(p.beta, 0.0f), g = as(p.g, 0.0f);
  std::vector<KC> ck(s.k_size(), to_t<KC>(nan)), cv(s.v_size(), to_t<KC>(nan));
  std::vector<float> cG(p.has_gate() ? s.g_size() : 0, nan);
  std::vector<double> o(s.o_size(), std::nan("")), lse(s.lse_size(), std::nan(""));
  auto slice = [&](const auto& x, index_t heads, index_t dim, index_t t0, index_t n) {
    std::remove_cv_t<std::remove_reference_t<decltype(x)>> out;
    for (index_t b = 0; b < s.B; ++b)
      for (index_t t = t0; t < t0 + n; ++t)
        for (index_t h = 0; h < heads; ++h)
          for (index_t d = 0; d < dim; ++d) out.push_back(x[flat_index(b, t, h, d, s.T, heads, dim)]);
    return out;
  };
  HostLauncher launch;
  for (index_t t0 = 0; t0 < s.T; t0 += chunk) {
    const index_t n = std::min<index_t>(chunk, s.T - t0);
    const std::vector<In> qs = slice(q, s.HQ, s.D, t0, n), ks = slice(k, s.H, s.D, t0, n), vs = slice(v, s.H, s.Dv, t0, n);
    const std::vector<float> ws = slice(w, s.H, s.D, t0, n), bs = slice(beta, s.H, 1, t0, n);
    const std::vector<float> gs = p.has_gate() ? slice(g, s.HQ, 1, t0, n) : std::vector<float>();
    std::vector<In> os(static_cast<std::size_t>(s.B * n * s.HQ * s.Dv), to_t<In>(nan));
    std::vector<float> ls(static_cast<std::size_t>(s.B * n * s.HQ), nan);
    gpu::decode_detail::DecodeKernelArgs a;
    a.in_type = dtype_of<In>();
    a.cache_type = dtype_of<KC>();
    a.batch = s.B;
    a.n0 = t0;
    a.n = n;
    a.capacity = s.T;
    a.HQ = s.HQ;
    a.H = s.H;
    a.D = s.D;
    a.Dv = s.Dv;
    a.scale = static_cast<float>(p.scale);
    a.gate_fla = p.gate_convention == GateConvention::fla;
    a.q = qs.data();
    a.k = ks.data();
    a.v = vs.data();
    a.w = ws.data();
    a.beta = bs.data();
    a.g = p.has_gate() ? gs.data() : nullptr;
    a.cache_k = ck.data();
    a.cache_v = cv.data();
    a.cache_G = p.has_gate() ? cG.data() : nullptr;
    a.o = os.data();
    a.lse = ls.data();
    fdk::FusedPlan f;
    std::string why;
    if (!fdk::plan_fused(a, 1 << 20, f, &why, fdk::kGroups)) throw std::logic_error(why);
    std::vector<float> partials(fdk::fused_workspace_floats(a, f), nan);
    a.partials = partials.data();
    fdk::enqueue_fused_step<In, KC>(a, f, launch);
    for (index_t b = 0; b < s.B; ++b)
      for (index_t c = 0; c < n; ++c)
        for (index_t hq = 0; hq < s.HQ; ++hq) {
          for (index_t d = 0; d < s.Dv; ++d)
            o[flat_index(b, t0 + c, hq, d, s.T, s.HQ, s.Dv)] = to_f(os[flat_index(b, c, hq, d, n, s.HQ, s.Dv)]);
          lse[flat_index(b, t0 + c, hq, 0, s.T, s.HQ, 1)] = ls[flat_index(b, c, hq, 0, n, s.HQ, 1)];
        }
  }
  std::vector<double> kc;
  for (const KC& x : ck) kc.push_back(to_f(x));
  conf::Outputs outputs = conf::poisoned_outputs(in.spec);
  conf::store_rounded(outputs.at("o"), o);
  conf::store_rounded(outputs.at("lse"), lse);
  conf::store_rounded(outputs.at("k_cache"), kc);
  return outputs;
}

conf::CaseSpec decode_spec(const std::string& name, Shape s, DType dtype, bool gated, GateConvention conv,
                           const std::string& distribution) {
  conf::CaseSpec c;
  c.name = name;
  c.shape = s;
  c.dtype = dtype;
  c.gated = gated;
  c.gate_convention = conv;
  c.mode = conf::Mode::decode;
  c.prefill_length = 0;
  c.gradients = false;
  c.distribution = distribution;
  return c;
}

template <class In, class KC>
void judge_fused(DType t) {
  conf::BuildOptions options;
  options.suite = "test_gpu_decode_fused_host";
  options.suite_seed = testing::session_seed();
  const std::string d(dtype_label(t));
  const std::vector<conf::CaseSpec> specs = {
      decode_spec("hfused_" + d + "_gqa_paper", {2, 37, 4, 2, 16, 32}, t, true, GateConvention::paper, "standard"),
      decode_spec("hfused_" + d + "_fla_D32_Dv16", {1, 40, 2, 1, 32, 16}, t, true, GateConvention::fla, "beta_near_two"),
      decode_spec("hfused_" + d + "_nogate", {1, 45, 1, 1, 16, 16}, t, false, GateConvention::paper, "colinear_w"),
  };
  for (const conf::CaseSpec& spec : specs) {
    const conf::Case c = conf::build_case(spec, options);
    for (long long chunk : {1LL, 2LL, 5LL, 16LL}) {
      const conf::CaseVerdict v = conf::judge(c, run_fused_on_host<In, KC>(c.input, chunk));
      std::cerr << "  chunk " << chunk << ": " << v.name << ": " << conf::to_string(v.verdict);
      for (const conf::OutputVerdict& o : v.outputs) std::cerr << "; " << o.output << " ratio " << o.ratio;
      std::cerr << "\n";
      EXPECT_EQ(v.verdict, conf::Verdict::pass) << v.name << " chunk " << chunk << " " << v.problem << "; "
                                                << testing::seed_note();
    }
  }
}

TEST(HostFusedDecodeJudged, Bf16) { judge_fused<__nv_bfloat16, __nv_bfloat16>(DType::BF16); }
TEST(HostFusedDecodeJudged, Fp16) { judge_fused<__half, __half>(DType::F16); }
TEST(HostFusedDecodeJudged, Fp32) { judge_fused<float, float>(DType::F32); }
TEST(HostFusedDecodeJudged, Bf16Fp32Cache) { judge_fused<__nv_bfloat16, float>(DType::BF16); }

}  // namespace
}  // namespace path
