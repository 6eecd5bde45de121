// host_replay: a stored decode case through the decode kernels' own source on the CPU (the host
// shim, path/gpu/host_shim.hpp, as tests/test_gpu_decode_fused_host.cpp runs them): prefill of the
// case's prefill length (prefill_keys_kernel), then one-token steps by the fused step
// (fused_decode_kernel.cuh) or the plain one (decode_kernel.cuh), as `pathcheck run --impl cuda`
// drives them on a GPU (lowp_decode, chunk 1; the cache in the input dtype). Writes o then lse
// row-major as text (the format of emulate_decode.py and `stages.py --out`; the prefilled rows,
// which the GPU takes from its forward kernel, from the case's expected values), for family_errors
// and for comparison with stages.py. The host shim computes in the same fp32 operations as the
// device code (exp_rn, log_rn in double; fma by std::fma); it is not the GPU (nvcc may contract a * b + c).
//
// Build (one compile, from the repository root; one line):
//   c++ -O1 -std=c++20 -DBOOST_ALL_NO_LIB -DPATH_HAVE_GMP=1 -Igpu/kernels/common/src -Igpu/kernels/decode/src
//     -Igpu/common/include -Iconformance/include -Icore/include -Iio/include -Ireference/include
//     -isystem /usr/local/cuda/include -isystem /usr/include/eigen3
//     tests/data/gpu-fuzz-2026-12-02-c/kernel-emulated/host_replay.cpp build/gpu/common/libpath_gpu_common.a
//     build/conformance/libpath_conformance.a build/io/libpath_io.a -lgmp -o /tmp/host_replay
// Usage: host_replay CASE.safetensors fused|plain OUT.txt
// clang-format off
#include "path/gpu/host_shim.hpp"
#include "decode_kernel.cuh"
#include "fused_decode_kernel.cuh"
// clang-format on

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "path/conformance/case.hpp"

namespace {

using namespace path;
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

template <class In>
void replay(const conformance::Case& c, bool fused, const std::string& out_path) {
  const Problem<double>& p = c.input.problem;
  const Shape& s = p.shape;
  if (s.B != 1 || p.is_varlen()) throw std::invalid_argument("one sequence (B = 1, no cu_seqlens) only");
  const index_t P = c.input.spec.prefill_length;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto as_in = [](const std::vector<double>& xs, index_t t0, index_t n, index_t row) {
    std::vector<In> r;
    for (index_t i = t0 * row; i < (t0 + n) * row; ++i) r.push_back(gpu::lowp_math::from_acc<In>(static_cast<float>(xs[i])));
    return r;
  };
  auto as_f = [](const std::vector<double>& xs, index_t t0, index_t n, index_t row) {
    std::vector<float> r;
    for (index_t i = t0 * row; i < (t0 + n) * row; ++i) r.push_back(static_cast<float>(xs[i]));
    return r;
  };
  std::vector<In> ck(static_cast<std::size_t>(s.T * s.H * s.D), gpu::lowp_math::from_acc<In>(nan));
  std::vector<In> cv(static_cast<std::size_t>(s.T * s.H * s.Dv), gpu::lowp_math::from_acc<In>(nan));
  std::vector<float> cG(p.has_gate() ? static_cast<std::size_t>(s.T * s.HQ) : 0, nan);
  std::vector<double> o = c.expected.at("o"), lse = c.expected.at("lse");  // prefilled rows: as expected
  HostLauncher launch;
  auto args = [&](index_t t0, index_t n, const std::vector<In>& q, const std::vector<In>& k, const std::vector<In>& v,
                  const std::vector<float>& w, const std::vector<float>& beta, const std::vector<float>& g) {
    gpu::decode_detail::DecodeKernelArgs a;
    a.in_type = a.cache_type = c.input.spec.dtype;
    a.batch = 1;
    a.n0 = t0;
    a.n = n;
    a.capacity = s.T;
    a.HQ = s.HQ;
    a.H = s.H;
    a.D = s.D;
    a.Dv = s.Dv;
    a.scale = static_cast<float>(p.scale);
    a.gate_fla = p.gate_convention == GateConvention::fla;
    a.q = q.empty() ? nullptr : q.data();
    a.k = k.data();
    a.v = v.data();
    a.w = w.data();
    a.beta = beta.data();
    a.g = p.has_gate() ? g.data() : nullptr;
    a.cache_k = ck.data();
    a.cache_v = cv.data();
    a.cache_G = p.has_gate() ? cG.data() : nullptr;
    return a;
  };
  if (P > 0) {
    const auto k = as_in(p.k, 0, P, s.H * s.D), v = as_in(p.v, 0, P, s.H * s.Dv);
    const auto w = as_f(p.w, 0, P, s.H * s.D), beta = as_f(p.beta, 0, P, s.H);
    const auto g = p.has_gate() ? as_f(p.g, 0, P, s.HQ) : std::vector<float>();
    dk::enqueue_decode<In>(args(0, P, {}, k, v, w, beta, g), true, launch);
  }
  for (index_t t = P; t < s.T; ++t) {
    const auto q = as_in(p.q, t, 1, s.HQ * s.D), k = as_in(p.k, t, 1, s.H * s.D), v = as_in(p.v, t, 1, s.H * s.Dv);
    const auto w = as_f(p.w, t, 1, s.H * s.D), beta = as_f(p.beta, t, 1, s.H);
    const auto g = p.has_gate() ? as_f(p.g, t, 1, s.HQ) : std::vector<float>();
    std::vector<In> os(static_cast<std::size_t>(s.HQ * s.Dv), gpu::lowp_math::from_acc<In>(nan));
    std::vector<float> ls(static_cast<std::size_t>(s.HQ), nan);
    gpu::decode_detail::DecodeKernelArgs a = args(t, 1, q, k, v, w, beta, g);
    a.o = os.data();
    a.lse = ls.data();
    if (fused) {
      fdk::FusedPlan f;
      std::string why;
      if (!fdk::plan_fused(a, 8 * 132, f, &why)) throw std::logic_error("fused step cannot run: " + why);  // ~8 blocks per H200 SM
      std::vector<float> partials(fdk::fused_workspace_floats(a, f), nan);
      a.partials = partials.data();
      fdk::enqueue_fused_step<In, In>(a, f, launch);
    } else {
      dk::enqueue_decode<In>(a, false, launch);
    }
    for (index_t i = 0; i < s.HQ * s.Dv; ++i) o[static_cast<std::size_t>(t * s.HQ * s.Dv + i)] = gpu::lowp_math::to_acc(os[i]);
    for (index_t i = 0; i < s.HQ; ++i) lse[static_cast<std::size_t>(t * s.HQ + i)] = ls[i];
  }
  std::ofstream f(out_path);
  f << "# o then lse, row-major: host_replay " << (fused ? "fused" : "plain") << " (kernel source through the host shim)\n";
  char b[40];
  for (const auto* xs : {&o, &lse}) {
    for (std::size_t i = 0; i < xs->size(); ++i) {
      std::snprintf(b, sizeof b, "%.17g", (*xs)[i]);
      f << (i ? " " : "") << b;
    }
    f << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 || (std::string(argv[2]) != "fused" && std::string(argv[2]) != "plain")) {
    std::cerr << "usage: host_replay CASE.safetensors fused|plain OUT.txt\n";
    return 2;
  }
  const conformance::Case c = conformance::read_case(argv[1]);
  const bool fused = std::string(argv[2]) == "fused";
  switch (c.input.spec.dtype) {
    case DType::F32: replay<float>(c, fused, argv[3]); break;
    case DType::F16: replay<__half>(c, fused, argv[3]); break;
    case DType::BF16: replay<__nv_bfloat16>(c, fused, argv[3]); break;
    default: std::cerr << "unsupported dtype\n"; return 1;
  }
  return 0;
}
