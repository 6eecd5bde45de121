// Speed of the closed-form backward and of prefill-to-cache (docs/backward.md §8, docs/decode.md).
// The backward is O(T^2 D): the time should grow about 4x per doubling of T. The run prints the
// time at T = 512, 1024, 2048 (D = Dv = 64, double, one head, with a gate) and Google Benchmark's
// fitted O(N^2) coefficient and its RMS misfit (small when the growth is quadratic).
//   bench_backward --benchmark_filter=Backward   the numbers that go into docs/backward.md
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "path/core/random.hpp"
#include "path/backward.hpp"
#include "path/decode.hpp"

namespace {

using path::index_t;

// Normal q, k, v, dO; unit w; beta in (0, 2); log-sigmoid gates; scale D^-1/2.
path::HeadSlice<double> random_slice(index_t L, index_t D, index_t Dv, path::random::Rng& rng) {
    auto random_matrix = [&](index_t rows, index_t cols) {
    path::Mat<double> m(rows, cols);
    for (index_t i = 0; i < rows; ++i)
      for (index_t j = 0; j < cols; ++j) m(i, j) = path::random::normal(rng);
    return m;
  };
  path::HeadSlice<double> h;
  h.q = random_matrix(L, D);
  h.k = random_matrix(L, D);
  h.v = random_matrix(L, Dv);
  h.w = random_matrix(L, D);
  h.w.rowwise().normalize();
  h.beta.resize(L);
  h.g.resize(L);
  for (index_t t = 0; t < L; ++t) {
    h.beta(t) = path::random::uniform(rng, 0.0, 2.0);
    h.g(t) = -std::log1p(std::exp(-(path::random::normal(rng) + 2.0)));
  }
  h.scale = 1.0 / std::sqrt(static_cast<double>(D));
  return h;
}

constexpr index_t kD = 64;

void BM_Backward(benchmark::State& state) {
  const index_t L = state.range(0);
  path::random::Rng rng(2024);
  const auto h = random_slice(L, kD, kD, rng);
  const path::Mat<double> dO = path::Mat<double>::Random(L, kD);
  for (auto _ : state) benchmark::DoNotOptimize(path::head_backward(h, dO).dq.data());
  state.SetComplexityN(L);
}
BENCHMARK(BM_Backward)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->Complexity(benchmark::oNSquared);

// The raw-logit layer alone (dq, dk, dw, dbeta from dr): the three sweeps of docs/backward.md §5.
void BM_RawLogitBackward(benchmark::State& state) {
  const index_t L = state.range(0);
  path::random::Rng rng(2025);
  const auto h = random_slice(L, kD, kD, rng);
  const path::Mat<double> dr = path::Mat<double>::Random(L, L);
  for (auto _ : state) benchmark::DoNotOptimize(path::raw_logit_backward(h, dr).dw.data());
  state.SetComplexityN(L);
}
BENCHMARK(BM_RawLogitBackward)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->Complexity(benchmark::oNSquared);

// Prefill-to-cache: linear in T (block 64), against applying the transformations one at a time
// (quadratic).
void BM_Prefill(benchmark::State& state) {
  const index_t L = state.range(0), block = state.range(1);
  path::random::Rng rng(2026);
  const auto h = random_slice(L, kD, kD, rng);
  for (auto _ : state) {
    if (block > 0) benchmark::DoNotOptimize(path::prefill_keys(h.k, h.w, h.beta, block).data());
    else benchmark::DoNotOptimize(path::prefill_keys_sequential(h.k, h.w, h.beta).data());
  }
  state.SetComplexityN(L);
}
BENCHMARK(BM_Prefill)->Args({1024, 64})->Args({2048, 64})->Args({4096, 64})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Prefill)->Args({1024, 0})->Args({2048, 0})->Args({4096, 0})->Unit(benchmark::kMillisecond);

}  // namespace

// The backward allocates a few arrays of T^2/2 doubles (16 MB each at T = 2048). With glibc's
// defaults, freed blocks that large go back to the system (mmap threshold, trim threshold), so every
// iteration at T = 2048 -- but not at 1024 -- would pay first-touch page faults for them: a property
// of the allocator, not of the algorithm, that would distort the growth per doubling. Keeping freed
// memory in the process measures the algorithm; a one-shot call pays the faults once.
int main(int argc, char** argv) {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
