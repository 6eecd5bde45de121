// path_gpu_decode_bench: the decode step against the device's copy bandwidth (issue 17).
// Measures the copy bandwidth (cudaMemcpy device to device of a 2 GiB buffer, median of 20), then
// times decode_step (CUDA events, median of --reps >= 50, fresh random new tokens for every step)
// on caches prefilled (prefill_to_cache) with random keys and transforms, and prints ms, the bytes a
// step must move (read K + write K + read V + the new tokens and outputs), the achieved GB/s and the
// percentage of the copy bandwidth (which counts read + write bytes of the copy).
// Each timed step appends n tokens, so the cache is built with capacity T + reps * n and the step's
// cache length grows from T (the bytes are computed for the length each step sees).
// Usage: path_gpu_decode_bench [--reps N] [--kernel plain|fused|auto] [--dtype bf16|fp16|fp32]
//        [--cache f32] [--quick]
// (--kernel sets PATH_GPU_DECODE_KERNEL; --quick runs the smallest shape only.)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <execinfo.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "path/core/dtype.hpp"
#include "path/gpu/cuda_check.hpp"
#include "path/gpu/decode.hpp"
#include "path/gpu/device_buffer.hpp"

namespace {

using path::DType;
using path::gpu::detail::DeviceBuffer;

__device__ float hash_uniform(std::uint64_t i, std::uint64_t seed) {  // in [-1, 1)
  std::uint64_t x = i * 0x9E3779B97F4A7C15ull + seed * 0xD1B54A32D192ED03ull;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 32;
  return static_cast<float>(x & 0xFFFFFF) / 8388608.0f - 1.0f;
}

template <class T>
__device__ T convert(float x) {
  if constexpr (std::is_same_v<T, __half>) return __float2half_rn(x);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __float2bfloat16_rn(x);
  else return x;
}

template <class T>
__global__ void fill_kernel(T* p, std::size_t n, float lo, float hi, std::uint64_t seed) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    p[i] = convert<T>(lo + (hi - lo) * 0.5f * (hash_uniform(i, seed) + 1.0f));
}

void fill(void* p, std::size_t n, DType t, float lo, float hi, std::uint64_t seed) {
  if (n == 0) return;
  const unsigned blocks = 4096, threads = 256;
  switch (t) {
    case DType::BF16: fill_kernel<<<blocks, threads>>>(static_cast<__nv_bfloat16*>(p), n, lo, hi, seed); break;
    case DType::F16: fill_kernel<<<blocks, threads>>>(static_cast<__half*>(p), n, lo, hi, seed); break;
    default: fill_kernel<<<blocks, threads>>>(static_cast<float*>(p), n, lo, hi, seed); break;
  }
  PATH_CUDA_CHECK(cudaGetLastError());
}

float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double copy_bandwidth() {
  const std::size_t bytes = std::size_t(2) << 30;
  DeviceBuffer a(bytes), b(bytes);
  PATH_CUDA_CHECK(cudaMemset(a.get(), 1, bytes));
  PATH_CUDA_CHECK(cudaMemset(b.get(), 0, bytes));
  cudaEvent_t e0, e1;
  PATH_CUDA_CHECK(cudaEventCreate(&e0));
  PATH_CUDA_CHECK(cudaEventCreate(&e1));
  std::vector<float> ms;
  for (int r = 0; r < 21; ++r) {
    PATH_CUDA_CHECK(cudaEventRecord(e0));
    PATH_CUDA_CHECK(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice));
    PATH_CUDA_CHECK(cudaEventRecord(e1));
    PATH_CUDA_CHECK(cudaEventSynchronize(e1));
    float t = 0;
    PATH_CUDA_CHECK(cudaEventElapsedTime(&t, e0, e1));
    if (r > 0) ms.push_back(t);
  }
  PATH_CUDA_CHECK(cudaEventDestroy(e0));
  PATH_CUDA_CHECK(cudaEventDestroy(e1));
  return 2.0 * static_cast<double>(bytes) / (median(ms) * 1e-3);  // read + write
}

struct Shape {
  long long B, HQ, H, D, T;
};

// Token buffers for n tokens of every sequence.
struct Tokens {
  DeviceBuffer q, k, v, w, beta;
  path::gpu::DecodeTokens t;
};

Tokens make_tokens(const Shape& s, long long n, DType dt, std::uint64_t seed) {
  Tokens u;
  const std::size_t rows = static_cast<std::size_t>(s.B * n), es = path::dtype_size(dt);
  const std::size_t nq = rows * s.HQ * s.D, nk = rows * s.H * s.D, nb = rows * s.H;
  u.q = DeviceBuffer(nq * es);
  u.k = DeviceBuffer(nk * es);
  u.v = DeviceBuffer(nk * es);
  u.w = DeviceBuffer(nk * sizeof(float));
  u.beta = DeviceBuffer(nb * sizeof(float));
  const float wr = 1.7320508f / std::sqrt(static_cast<float>(s.D));  // |w| about 1
  fill(u.q.get(), nq, dt, -1, 1, seed * 7 + 1);
  fill(u.k.get(), nk, dt, -1, 1, seed * 7 + 2);
  fill(u.v.get(), nk, dt, -1, 1, seed * 7 + 3);
  fill(u.w.get(), nk, DType::F32, -wr, wr, seed * 7 + 4);
  fill(u.beta.get(), nb, DType::F32, 0, 1, seed * 7 + 5);
  path::gpu::DecodeTokens& t = u.t;
  t.batch = s.B;
  t.n = n;
  t.HQ = s.HQ;
  t.H = s.H;
  t.D = s.D;
  t.Dv = s.D;
  t.q = {u.q.get(), nq, dt};
  t.k = {u.k.get(), nk, dt};
  t.v = {u.v.get(), nk, dt};
  t.w = {u.w.get(), nk, DType::F32};
  t.beta = {u.beta.get(), nb, DType::F32};
  return u;
}

}  // namespace

int run(int argc, char** argv) {
  int reps = 50;
  DType dt = DType::BF16;
  bool f32_cache = false, quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--reps") reps = std::max(1, std::atoi(next().c_str()));
    else if (a == "--kernel") setenv("PATH_GPU_DECODE_KERNEL", next().c_str(), 1);
    else if (a == "--dtype") {
      const std::string d = next();
      dt = d == "fp16" ? DType::F16 : d == "fp32" ? DType::F32 : DType::BF16;
    } else if (a == "--cache") f32_cache = next() == "f32";
    else if (a == "--quick") quick = true;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  cudaDeviceProp prop{};
  PATH_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  const double bw = copy_bandwidth();
  const char* kernel = std::getenv("PATH_GPU_DECODE_KERNEL");
  std::printf("device %s; copy bandwidth (D2D memcpy, read + write) %.1f GB/s; kernel %s; dtype %s; cache %s\n",
              prop.name, bw * 1e-9, kernel ? kernel : "auto", std::string(path::dtype_label(dt)).c_str(),
              f32_cache ? "fp32" : "input");  // dtype_label is a string_view: never straight into %s
  std::printf("%-34s %4s %9s %10s %9s %7s\n", "shape", "n", "ms", "MB moved", "GB/s", "% copy");
  std::vector<Shape> shapes = {{64, 32, 32, 64, 4096}, {64, 32, 32, 64, 8192}, {16, 32, 32, 128, 16384}};
  if (quick) shapes = {{8, 32, 32, 64, 4096}};
  const DType kc = f32_cache ? DType::F32 : dt;
  for (const Shape& s : shapes) {
    for (long long n : {1LL, 2LL, 4LL, 8LL, 16LL}) {
      path::gpu::DecodeCacheLayout layout;
      layout.batch = s.B;
      layout.capacity = s.T + static_cast<long long>(reps + 3) * n;
      layout.HQ = s.HQ;
      layout.H = s.H;
      layout.D = s.D;
      layout.Dv = s.D;
      layout.dtype = dt;
      if (f32_cache) layout.cache_dtype = DType::F32;
      layout.gated = false;
      layout.scale = 1.0 / std::sqrt(static_cast<double>(s.D));
      std::fprintf(stderr, "[decode bench] B=%lld D=%lld T=%lld n=%lld: allocate and prefill\n", s.B, s.D, s.T, n);
      path::gpu::DeviceDecodeCache cache(layout);
      {
        Tokens pre = make_tokens(s, s.T, dt, 1000 + n);
        path::gpu::prefill_to_cache(cache, pre.t);
        PATH_CUDA_CHECK(cudaDeviceSynchronize());
      }
      const std::size_t orows = static_cast<std::size_t>(s.B * n);
      DeviceBuffer o(orows * s.HQ * s.D * path::dtype_size(dt)), lse(orows * s.HQ * sizeof(float));
      path::gpu::DecodeOutputs out;
      out.o = {o.get(), orows * s.HQ * s.D, dt};
      out.lse = {lse.get(), orows * s.HQ, DType::F32};
      cudaEvent_t e0, e1;
      PATH_CUDA_CHECK(cudaEventCreate(&e0));
      PATH_CUDA_CHECK(cudaEventCreate(&e1));
      std::vector<float> ms;
      double bytes_sum = 0;
      std::fprintf(stderr, "[decode bench] steps\n");
      for (int r = 0; r < reps + 2; ++r) {
        Tokens tok = make_tokens(s, n, dt, 77 + r);  // fresh random tokens every step
        PATH_CUDA_CHECK(cudaDeviceSynchronize());
        const long long len = cache.length();
        PATH_CUDA_CHECK(cudaEventRecord(e0));
        path::gpu::decode_step(cache, tok.t, out);
        PATH_CUDA_CHECK(cudaEventRecord(e1));
        PATH_CUDA_CHECK(cudaEventSynchronize(e1));
        PATH_CUDA_CHECK(cudaGetLastError());
        float t = 0;
        PATH_CUDA_CHECK(cudaEventElapsedTime(&t, e0, e1));
        if (r < 2) continue;  // warm-up (workspace allocation)
        ms.push_back(t);
        const double per_key = static_cast<double>(s.H) * s.D * path::dtype_size(kc);
        const double cache_bytes = static_cast<double>(s.B) * len * per_key * 3.0;  // read K, write K, read V
        const double small = static_cast<double>(orows) *
                             (s.HQ * s.D * path::dtype_size(dt) * 2.0 /* q, o */ + s.H * s.D * path::dtype_size(dt) * 2.0 /* k, v */ +
                              s.H * s.D * 4.0 + s.H * 4.0 + s.HQ * 4.0 /* w, beta, lse */ + 2.0 * s.H * s.D * path::dtype_size(kc) /* appended k, v */);
        bytes_sum += cache_bytes + small;
      }
      const float med = median(ms);
      const double bytes = bytes_sum / static_cast<double>(ms.size());
      const double gbs = bytes / (med * 1e-3) * 1e-9;
      char name[96];
      std::snprintf(name, sizeof name, "B=%lld HQ=%lld H=%lld D=%lld T=%lld", s.B, s.HQ, s.H, s.D, s.T);
      std::printf("%-34s %4lld %9.4f %10.1f %9.1f %6.1f%%\n", name, n, med, bytes * 1e-6, gbs, 100.0 * gbs / (bw * 1e-9));
      std::fflush(stdout);
      PATH_CUDA_CHECK(cudaEventDestroy(e0));
      PATH_CUDA_CHECK(cudaEventDestroy(e1));
    }
  }
  return 0;
}

// A segmentation fault of this program on the H200 (2026-12-02) left no output and no clue: print
// the stack (binary(+offset) frames, for addr2line against the unstripped build) before dying.
void on_fatal_signal(int sig) {
  void* frames[64];
  const int n = backtrace(frames, 64);
  const char msg[] = "path_gpu_decode_bench: fatal signal, stack:\n";
  (void)!write(2, msg, sizeof msg - 1);
  backtrace_symbols_fd(frames, n, 2);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // every row out at once, whatever happens later
  std::signal(SIGSEGV, on_fatal_signal);
  std::signal(SIGBUS, on_fatal_signal);
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "path_gpu_decode_bench: %s\n", e.what());
    return 1;
  }
}
