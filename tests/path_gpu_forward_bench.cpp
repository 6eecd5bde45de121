// path_gpu_forward_bench: times the low-precision forward (path::gpu::lowp_forward_device) on fresh
// random inputs, CUDA events around each call (the gate scan, the tensor-core kernel's
// preprocessing, its scratch allocation and the main kernel are all inside), median of --iters
// runs after --warmup runs. Prints ms and TFLOP/s with the convention
//   flops = 4 GEMMs x 2 x (T^2 / 2) x D per (sequence, query head) = 4 T^2 D B HQ
// (QK~^T, PV, U = X W^T, X -= U W'; causal half; the split-operand MMAs and the preprocessing are
// not counted). Defaults: B*T = 65536, HQ = H = 32, D in {64, 128}, T in {1K, 2K, 4K, 8K, 16K}, bf16.
//   path_gpu_forward_bench [--dtype bf16|fp16] [--kernel tensor-core|plain|auto] [--D 64,128]
//                          [--T 1024,...] [--tokens 65536] [--hq 32] [--h 32] [--gate none|paper|fla]
//                          [--iters 20] [--warmup 3]
// PATH_GPU_FORWARD_TC_SPLIT (1, 2, 3) picks the tensor-core kernel's operand split.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "path/gpu/cuda_check.hpp"
#include "path/gpu/forward.hpp"

namespace {

using namespace path;

std::vector<long long> parse_list(const std::string& s) {
  std::vector<long long> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stoll(item));
  return out;
}

struct Gen {
  std::uint64_t s;
  float uniform() {  // [0, 1)
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<float>(s >> 40) * (1.0f / 16777216.0f);
  }
  float normal() {
    const float u1 = std::max(uniform(), 1e-7f), u2 = uniform();
    return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853f * u2);
  }
};

void* device_copy(const void* host, std::size_t bytes) {
  void* d = nullptr;
  PATH_CUDA_CHECK(cudaMalloc(&d, bytes));
  PATH_CUDA_CHECK(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice));
  return d;
}

// A pool of normal values drawn once; each tensor takes its values from a fresh random offset and
// odd stride into it (drawing 10^8 normals per tensor on the host would take longer than the timing).
const std::vector<float>& pool() {
  static const std::vector<float> p = [] {
    Gen gen{0x2545F4914F6CDD1Dull};
    std::vector<float> v(1u << 24);
    for (float& x : v) x = gen.normal();
    return v;
  }();
  return p;
}

template <class F>
void fill_from_pool(std::size_t n, Gen& gen, F&& put) {
  const std::vector<float>& p = pool();
  const std::size_t mask = p.size() - 1;
  std::size_t at = static_cast<std::size_t>(gen.uniform() * static_cast<float>(p.size()));
  const std::size_t stride = 2 * static_cast<std::size_t>(gen.uniform() * 1000.0f) + 1;
  for (std::size_t i = 0; i < n; ++i, at = (at + stride) & mask) put(i, p[at]);
}

void* random_input(std::size_t n, DType dt, Gen& gen) {
  if (dt == DType::BF16) {
    std::vector<__nv_bfloat16> h(n);
    fill_from_pool(n, gen, [&](std::size_t i, float x) { h[i] = __float2bfloat16_rn(x); });
    return device_copy(h.data(), n * 2);
  }
  std::vector<__half> h(n);
  fill_from_pool(n, gen, [&](std::size_t i, float x) { h[i] = __float2half_rn(x); });
  return device_copy(h.data(), n * 2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dtype = "bf16", kernel = "tensor-core", gate = "none";
  std::vector<long long> Ds = {64, 128}, Ts = {1024, 2048, 4096, 8192, 16384};
  long long tokens = 65536, HQ = 32, H = 32;
  int iters = 20, warmup = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--dtype") dtype = v;
    else if (k == "--kernel") kernel = v;
    else if (k == "--gate") gate = v;
    else if (k == "--D") Ds = parse_list(v);
    else if (k == "--T") Ts = parse_list(v);
    else if (k == "--tokens") tokens = std::stoll(v);
    else if (k == "--hq") HQ = std::stoll(v);
    else if (k == "--h") H = std::stoll(v);
    else if (k == "--iters") iters = std::stoi(v);
    else if (k == "--warmup") warmup = std::stoi(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  const DType dt = dtype == "fp16" ? DType::F16 : DType::BF16;
  const gpu::ForwardKernel fk = kernel == "plain"         ? gpu::ForwardKernel::plain
                                : kernel == "tensor-core" ? gpu::ForwardKernel::tensor_core
                                                          : gpu::ForwardKernel::automatic;
  std::printf("# dtype %s, kernel %s, gate %s, B*T = %lld, HQ = %lld, H = %lld, median of %d (after %d warmup)\n",
              dtype.c_str(), kernel.c_str(), gate.c_str(), tokens, HQ, H, iters, warmup);
  std::printf("# flops = 4 T^2 D B HQ (4 GEMMs, causal half, split MMAs not counted)\n");
  std::printf("%6s %6s %4s %10s %10s %10s  %s\n", "T", "B", "D", "median_ms", "min_ms", "TFLOP/s", "kernel");
  Gen gen{0x9E3779B97F4A7C15ull};
  for (long long D : Ds)
    for (long long T : Ts) {
      const long long B = std::max(1LL, tokens / T);
      Shape s{B, T, HQ, H, D, D};
      void* q = random_input(s.q_size(), dt, gen);
      void* k = random_input(s.k_size(), dt, gen);
      void* v = random_input(s.v_size(), dt, gen);
      std::vector<float> w(s.k_size()), beta(s.beta_size()), g(s.g_size());
      fill_from_pool(w.size(), gen, [&](std::size_t i, float x) { w[i] = x; });
      for (std::size_t r = 0; r < s.beta_size(); ++r) {
        float n2 = 0;
        for (long long d = 0; d < D; ++d) n2 += w[r * D + d] * w[r * D + d];
        const float inv = 1.0f / std::sqrt(std::max(n2, 1e-20f));
        for (long long d = 0; d < D; ++d) w[r * D + d] *= inv;
        beta[r] = 2.0f * gen.uniform();
      }
      for (float& x : g) x = -0.05f * gen.uniform();
      void* dw = device_copy(w.data(), w.size() * 4);
      void* dbeta = device_copy(beta.data(), beta.size() * 4);
      void* dg = gate == "none" ? nullptr : device_copy(g.data(), g.size() * 4);
      void *o = nullptr, *lse = nullptr;
      PATH_CUDA_CHECK(cudaMalloc(&o, s.o_size() * 2));
      PATH_CUDA_CHECK(cudaMalloc(&lse, s.lse_size() * 4));
      gpu::ForwardArgs a;
      a.shape = s;
      a.scale = 1.0 / std::sqrt(static_cast<double>(D));
      a.gate_convention = gate == "fla" ? GateConvention::fla : GateConvention::paper;
      a.q = {q, s.q_size(), dt};
      a.k = {k, s.k_size(), dt};
      a.v = {v, s.v_size(), dt};
      a.w = {dw, s.k_size(), DType::F32};
      a.beta = {dbeta, s.beta_size(), DType::F32};
      if (dg) a.g = {dg, s.g_size(), DType::F32};
      a.o = {o, s.o_size(), dt};
      a.lse = {lse, s.lse_size(), DType::F32};
      a.kernel = fk;
      const char* ran = gpu::forward_kernel_label(gpu::resolve_forward_kernel(a));
      cudaEvent_t e0, e1;
      PATH_CUDA_CHECK(cudaEventCreate(&e0));
      PATH_CUDA_CHECK(cudaEventCreate(&e1));
      std::vector<float> ms;
      for (int it = 0; it < warmup + iters; ++it) {
        PATH_CUDA_CHECK(cudaEventRecord(e0));
        gpu::lowp_forward_device(a);
        PATH_CUDA_CHECK(cudaEventRecord(e1));
        PATH_CUDA_CHECK(cudaEventSynchronize(e1));
        float t = 0;
        PATH_CUDA_CHECK(cudaEventElapsedTime(&t, e0, e1));
        if (it >= warmup) ms.push_back(t);
      }
      PATH_CUDA_CHECK(cudaDeviceSynchronize());
      std::sort(ms.begin(), ms.end());
      const double med = ms[ms.size() / 2];
      const double flops = 4.0 * static_cast<double>(T) * T * D * B * HQ;
      std::printf("%6lld %6lld %4lld %10.3f %10.3f %10.1f  %s\n", T, B, D, med, ms.front(), flops / (med * 1e-3) / 1e12,
                  ran);
      std::fflush(stdout);
      PATH_CUDA_CHECK(cudaEventDestroy(e0));
      PATH_CUDA_CHECK(cudaEventDestroy(e1));
      for (void* p : {q, k, v, dw, dbeta, dg, o, lse})
        if (p) PATH_CUDA_CHECK(cudaFree(p));
    }
  return 0;
}
