// The fused decode step (gpu/kernels/decode/src/fused_decode_kernel.cuh, issue 17) on a GPU:
//  - judged like any implementation: decode cases (hand-made inputs through build_case_from_inputs:
//    mp100 expected outputs, the same-precision baseline) run through the "cuda" implementation
//    (adapters/cuda, which calls path::gpu::lowp_decode and so decode_step) and the conformance
//    judge's verdict must be a pass, in bf16, fp16 and fp32, for steps of 1, 2, 5 and 16 tokens,
//    with PATH_GPU_DECODE_KERNEL=fused and =plain (both implementations stay tested), and the fp32
//    cache of bf16/fp16 inputs (PATH_GPU_DECODE_CACHE_DTYPE=f32);
//  - a long cache crossing many splits (judging it would need the mp100 oracle on a long sequence):
//    the fused step's errors against the CPU double decode oracle are at most twice the plain
//    step's (plus one unit of the input type), for o, lse and the final key cache; every output
//    finite (outputs start poisoned);
//  - forcing the fused step on a step it cannot run is an InvalidProblem.
// Without a usable GPU the tests skip with the reason; PATH_GPU_REQUIRE_DEVICE=1 makes that a failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include "path/adapters/cuda_kernels.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/runner.hpp"
#include "path/conformance/suite.hpp"
#include "path/core/rounding.hpp"
#include "path/decode.hpp"
#include "path/gpu/decode.hpp"
#include "path/gpu/device.hpp"
#include "path/gpu/forward.hpp"
#include "support/gpu_device.hpp"
#include "support/stored_cases.hpp"
#include "support/random_problem.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

using testing::ProblemSpec;
namespace conf = conformance;


// Sets an environment variable for a scope, restoring the previous value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    if (value) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_) setenv(name_.c_str(), old_.c_str(), 1);
    else unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_, old_;
  bool had_ = false;
};

// Decode cases after `prefill` tokens, rounded and built as a case file is
// (tests/support/stored_cases.hpp).
conf::CaseInput case_input(const std::string& name, Problem<double> p, DType dtype, index_t prefill) {
  return testing::stored_case_input(name, std::move(p), dtype, {conf::Mode::decode, false, prefill},
                                    "tests/test_gpu_decode_fused.cpp");
}

std::vector<conf::Case> build_all(std::vector<conf::CaseInput> inputs) {
  return testing::build_stored_cases(std::move(inputs), "test_gpu_decode_fused");
}

void expect_all_pass(conf::Implementation& impl, const std::vector<conf::Case>& cases, const std::string& what) {
  conf::Report r = conf::run_cases(impl, cases, {});
  r.command = "run";
  r.suite = "test_gpu_decode_fused";
  r.implementation = impl.name();
  for (const conf::CaseVerdict& v : r.cases) testing::log_verdict(v, what);
  const std::string report = testing::report_text(r);
  EXPECT_EQ(r.count(conf::Verdict::fail), 0u) << what << "\n" << report << testing::seed_note();
  EXPECT_EQ(r.count(conf::Verdict::skip), 0u) << what << "\n" << report << testing::seed_note();
}

// GQA with the paper gate and a prefill; varlen (empty and length-1 segments) with the fla gate
// from an empty cache; no gate, B = 2, D != Dv; a GQA group of 4 (more pairs per kv head; at
// D = 128 a chunk of 16 such tokens exceeds the fused step's accumulators, so there the group is 1).
// Every step of these cases can run fused (PATH_GPU_DECODE_KERNEL=fused would reject one that
// cannot).
std::vector<ProblemSpec> layouts(index_t D) {
  return {ProblemSpec{{1, 40, 4, 2, D, D}, true, GateConvention::paper, {}},
          ProblemSpec{{1, 45, 2, 1, D, D}, true, GateConvention::fla, {0, 0, 1, 20, 20, 45}},
          ProblemSpec{{2, 23, 1, 1, D, D == 128 ? 16 : 2 * D}, false, GateConvention::paper, {}},
          ProblemSpec{{1, 30, D == 128 ? 2 : 8, 2, D, D}, true, GateConvention::fla, {}}};
}

std::vector<conf::Case> judged_cases(DType dtype) {
  auto rng = testing::rng_for(std::string("gpu-decode-fused/") + std::string(dtype_label(dtype)));
  std::vector<conf::CaseInput> inputs;
  for (index_t D : gpu::kSupportedHeadDims) {
    const std::vector<ProblemSpec> ls = layouts(D);
    for (std::size_t l = 0; l < ls.size(); ++l) {
      const ProblemSpec& spec = ls[l];
      const index_t prefill = l == 0 ? 17 : l == 1 ? 0 : l == 2 ? 5 : 11;
      Problem<double> p = testing::random_problem(spec, rng);
      const std::string name = "fdec_" + std::string(dtype_label(dtype)) + "_D" + std::to_string(spec.shape.D) +
                               "_Dv" + std::to_string(spec.shape.Dv) + "_HQ" + std::to_string(spec.shape.HQ) + "_P" +
                               std::to_string(prefill) + (spec.cu_seqlens.empty() ? "" : "_varlen");
      inputs.push_back(case_input(name, std::move(p), dtype, prefill));
    }
  }
  return build_all(std::move(inputs));
}

class GpuFusedDecode : public ::testing::TestWithParam<DType> {};

TEST_P(GpuFusedDecode, PassesTheConformanceJudgeFusedAndPlain) {
  PATH_REQUIRE_GPU();
  const DType dtype = GetParam();
  const std::vector<conf::Case> cases = judged_cases(dtype);
  for (const char* kernel : {"fused", "plain"})
    for (long long chunk : {1LL, 2LL, 5LL, 16LL}) {
      const ScopedEnv env("PATH_GPU_DECODE_KERNEL", kernel);
      adapters::CudaKernelImplementation cuda(chunk);
      expect_all_pass(cuda, cases, std::string(kernel) + ", chunk " + std::to_string(chunk));
    }
}

TEST_P(GpuFusedDecode, Fp32CachePassesTheConformanceJudge) {
  PATH_REQUIRE_GPU();
  const DType dtype = GetParam();
  if (dtype == DType::F32) GTEST_SKIP() << "an fp32 cache is the plain one for fp32 inputs";
  const std::vector<conf::Case> cases = judged_cases(dtype);
  const ScopedEnv cache("PATH_GPU_DECODE_CACHE_DTYPE", "f32");
  for (const char* kernel : {"fused", "plain"})
    for (long long chunk : {1LL, 5LL}) {
      const ScopedEnv env("PATH_GPU_DECODE_KERNEL", kernel);
      adapters::CudaKernelImplementation cuda(chunk);
      expect_all_pass(cuda, cases, std::string(kernel) + ", fp32 cache, chunk " + std::to_string(chunk));
    }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, GpuFusedDecode, ::testing::Values(DType::BF16, DType::F16, DType::F32),
                         [](const ::testing::TestParamInfo<DType>& info) { return std::string(dtype_label(info.param)); });

double max_error(const std::vector<double>& got, const std::vector<double>& want, std::size_t& nonfinite) {
  double e = 0;
  for (std::size_t i = 0; i < got.size() && i < want.size(); ++i) {
    if (!std::isfinite(got[i])) {
      ++nonfinite;
      continue;
    }
    e = std::max(e, std::abs(got[i] - want[i]));
  }
  return e;
}

// A long cache (many splits: with B = 1 and 2 kv heads the split count is bounded by the cache
// length / 128 keys), the last 40 tokens decoded.
class GpuFusedDecodeLong : public ::testing::TestWithParam<DType> {};

TEST_P(GpuFusedDecodeLong, NoWorseThanThePlainStepAgainstTheDoubleOracle) {
  PATH_REQUIRE_GPU();
  const DType dtype = GetParam();
  auto rng = testing::rng_for(std::string("gpu-decode-fused-long/") + std::string(dtype_label(dtype)));
  for (index_t D : {index_t(64), index_t(128)}) {
    Problem<double> p = testing::random_problem({{1, 2100, 4, 2, D, D}, true, GateConvention::paper, {}}, rng);
    for (auto* t : {&p.q, &p.k, &p.v})
      for (double& x : *t) x = round_to(x, dtype);
    for (auto* t : {&p.w, &p.beta, &p.g})
      for (double& x : *t) x = round_to(x, DType::F32);
    p.scale = round_to(p.scale, DType::F32);
    const index_t prefill = 2060;
    DecodeOptions opt;
    opt.prefill = prefill;
    const DecodeResult<double> want = decode(p, opt);
    const double unit = std::pow(2.0, dtype == DType::F32 ? -24 : dtype == DType::F16 ? -11 : -8);
    for (long long chunk : {1LL, 16LL}) {
      gpu::DecodeRunResult r[2];
      const char* kernels[2] = {"plain", "fused"};
      for (int i = 0; i < 2; ++i) {
        const ScopedEnv env("PATH_GPU_DECODE_KERNEL", kernels[i]);
        r[i] = gpu::lowp_decode(p, prefill, dtype, chunk);
      }
      const std::size_t first_o = static_cast<std::size_t>(prefill * p.shape.HQ * p.shape.Dv);
      const std::size_t first_l = static_cast<std::size_t>(prefill * p.shape.HQ);
      auto tail = [](const std::vector<double>& x, std::size_t from) { return std::vector<double>(x.begin() + from, x.end()); };
      struct Out {
        const char* name;
        std::vector<double> plain, fused, want;
      } outs[3] = {{"o", tail(r[0].o, first_o), tail(r[1].o, first_o), tail(want.o, first_o)},
                   {"lse", tail(r[0].lse, first_l), tail(r[1].lse, first_l), tail(want.lse, first_l)},
                   {"k_cache", r[0].k_cache, r[1].k_cache, want.k_cache}};
      for (const Out& o : outs) {
        std::size_t nf_plain = 0, nf_fused = 0;
        const double ep = max_error(o.plain, o.want, nf_plain), ef = max_error(o.fused, o.want, nf_fused);
        double scale = 1;
        for (double x : o.want) scale = std::max(scale, std::abs(x));
        std::cerr << "  D=" << D << " chunk " << chunk << " " << o.name << ": plain error " << ep << ", fused error "
                  << ef << "\n";
        EXPECT_EQ(nf_plain, 0u) << o.name;
        EXPECT_EQ(nf_fused, 0u) << o.name;
        EXPECT_LE(ef, 2 * ep + unit * scale) << o.name << " D=" << D << " chunk " << chunk << "; " << testing::seed_note();
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, GpuFusedDecodeLong, ::testing::Values(DType::BF16, DType::F16, DType::F32),
                         [](const ::testing::TestParamInfo<DType>& info) { return std::string(dtype_label(info.param)); });

// A chunk too large for the fused step (n * Dv beyond the accumulators) runs plain under auto and
// is refused under fused.
TEST(GpuFusedDecodeChoice, ForcedFusedOnAStepItCannotRunIsRejected) {
  PATH_REQUIRE_GPU();
  auto rng = testing::rng_for("gpu-decode-fused-choice");
  const Problem<double> p = testing::random_problem({{1, 80, 8, 1, 16, 128}, false, GateConvention::paper, {}}, rng);
  {
    const ScopedEnv env("PATH_GPU_DECODE_KERNEL", "fused");
    EXPECT_THROW(gpu::lowp_decode(p, 10, DType::BF16, 64), InvalidProblem);
  }
  {
    const ScopedEnv env("PATH_GPU_DECODE_KERNEL", "auto");
    const gpu::DecodeRunResult r = gpu::lowp_decode(p, 10, DType::BF16, 64);
    for (double x : r.o) ASSERT_TRUE(std::isfinite(x));
  }
  {
    const ScopedEnv env("PATH_GPU_DECODE_KERNEL", "bogus");
    EXPECT_THROW(gpu::lowp_decode(p, 10, DType::BF16, 2), InvalidProblem);
  }
}

// The cache dtype option (no GPU needed): the input dtype or fp32, nothing else.
TEST(GpuDecodeCacheDtype, InputDtypeOrFp32Only) {
  gpu::DecodeCacheLayout c;
  c.batch = 1;
  c.capacity = 4;
  c.HQ = c.H = 1;
  c.D = c.Dv = 16;
  c.dtype = DType::BF16;
  EXPECT_NO_THROW(gpu::validate_cache_layout(c));
  c.cache_dtype = DType::BF16;
  EXPECT_NO_THROW(gpu::validate_cache_layout(c));
  c.cache_dtype = DType::F32;
  EXPECT_NO_THROW(gpu::validate_cache_layout(c));
  c.cache_dtype = DType::F16;
  EXPECT_THROW(gpu::validate_cache_layout(c), InvalidProblem);
  c.cache_dtype = DType::F64;
  EXPECT_THROW(gpu::validate_cache_layout(c), InvalidProblem);
}

}  // namespace
}  // namespace path
