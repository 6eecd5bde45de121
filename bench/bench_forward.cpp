// Speed of the forward oracles (docs/performance.md). Rates are counted in the flops of the naive
// products: 6 D per causal (query, key) pair (two dot products and one axpy of length D), so
// that every algorithm is measured against the same work; the FMA peak of one core is measured in
// the same run (BM_FmaPeak) to state the naive rate as a fraction of it.
#include <benchmark/benchmark.h>

#include <random>

#include "path/core/random.hpp"
#include "path/algorithms/naive.hpp"
#include "path/forward.hpp"

#if defined(__FMA__) && defined(__AVX2__)
#include <immintrin.h>
#endif

namespace {

using path::index_t;

// Normal q, k, v; unit w; beta in (0, 2): generated in double, converted exactly to S.
template <class S>
path::HeadSlice<S> random_slice(index_t L, index_t D, index_t Dv) {
  path::random::Rng rng(12345);
    auto random_matrix = [&](index_t rows, index_t cols) {
    path::Mat<double> m(rows, cols);
    for (index_t i = 0; i < rows; ++i)
      for (index_t j = 0; j < cols; ++j) m(i, j) = path::random::normal(rng);
    return m;
  };
  path::Mat<double> w = random_matrix(L, D);
  w.rowwise().normalize();
  path::Vec<double> beta(L);
  for (index_t t = 0; t < L; ++t) beta(t) = path::random::uniform(rng, 0.0, 2.0);
  auto convert = [](const auto& m) { return m.unaryExpr([](double x) { return path::from_double<S>(x); }).eval(); };
  path::HeadSlice<S> h;
  h.q = convert(random_matrix(L, D));
  h.k = convert(random_matrix(L, D));
  h.v = convert(random_matrix(L, Dv));
  h.w = convert(w);
  h.beta = convert(beta);
  h.scale = S(0.125);
  return h;
}

double naive_flops(index_t L, index_t D) { return 6.0 * static_cast<double>(D) * static_cast<double>(L) * (L + 1) / 2; }

void set_rate(benchmark::State& state, index_t L, index_t D) {
  state.counters["GFLOP/s"] = benchmark::Counter(naive_flops(L, D) * static_cast<double>(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

// One core's double-precision FMA peak: 12 independent 4-wide FMA chains (enough to cover the FMA
// latency on two pipes), 2 flops per lane.
void BM_FmaPeak(benchmark::State& state) {
#if defined(__FMA__) && defined(__AVX2__)
  constexpr int chains = 12, steps = 1 << 16;
  for (auto _ : state) {
    __m256d acc[chains];
    for (int c = 0; c < chains; ++c) acc[c] = _mm256_set1_pd(1.0 + c * 1e-3);
    const __m256d a = _mm256_set1_pd(0.999999), b = _mm256_set1_pd(1e-7);
    for (int s = 0; s < steps; ++s)
      for (int c = 0; c < chains; ++c) acc[c] = _mm256_fmadd_pd(acc[c], a, b);
    for (int c = 1; c < chains; ++c) acc[0] = _mm256_add_pd(acc[0], acc[c]);
    benchmark::DoNotOptimize(acc[0]);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * 4 * chains * steps * static_cast<double>(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
#else
  state.SkipWithError("built without AVX2/FMA: no peak measurement");
#endif
}
BENCHMARK(BM_FmaPeak);

template <class S>
void BM_NaiveLogits(benchmark::State& state) {
  const index_t L = state.range(0), D = state.range(1);
  const auto h = random_slice<S>(L, D, D);
  for (auto _ : state) benchmark::DoNotOptimize(path::naive_raw_logits(h).data());
  set_rate(state, L, D);
}
BENCHMARK_TEMPLATE(BM_NaiveLogits, double)->Args({1024, 64})->Args({4096, 64})->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_NaiveLogits, path::quad)->Args({128, 16})->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_NaiveLogits, path::mp100)->Args({128, 16})->Unit(benchmark::kMillisecond);

template <class S>
void BM_Forward(benchmark::State& state, path::Algorithm a) {
  const index_t L = state.range(0), D = state.range(1), block = state.range(2);
  const auto h = random_slice<S>(L, D, D);
  for (auto _ : state) benchmark::DoNotOptimize(path::head_forward(h, path::ForwardOptions{a, block}).o.data());
  set_rate(state, L, D);
}
void BM_ForwardDouble(benchmark::State& state, path::Algorithm a) { BM_Forward<double>(state, a); }
void BM_ForwardMp100(benchmark::State& state, path::Algorithm a) { BM_Forward<path::mp100>(state, a); }
BENCHMARK_CAPTURE(BM_ForwardDouble, naive, path::Algorithm::naive)->Args({4096, 64, 0})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ForwardDouble, blockwise, path::Algorithm::blockwise)->Args({4096, 64, 64})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ForwardDouble, ut, path::Algorithm::ut)->Args({1024, 64, 0})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ForwardMp100, blockwise, path::Algorithm::blockwise)->Args({128, 16, 16})->Unit(benchmark::kMillisecond);

template <class S>
void BM_ExactLogits(benchmark::State& state, path::Algorithm a) {
  const index_t L = state.range(0), D = state.range(1);
  const auto h = random_slice<S>(L, D, D);
  for (auto _ : state) benchmark::DoNotOptimize(path::raw_logits(h, path::ForwardOptions{a, 8}).data());
  set_rate(state, L, D);
}
void BM_ExactLogitsRational(benchmark::State& state, path::Algorithm a) { BM_ExactLogits<path::rational>(state, a); }
BENCHMARK_CAPTURE(BM_ExactLogitsRational, naive, path::Algorithm::naive)->Args({32, 8})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ExactLogitsRational, ut, path::Algorithm::ut)->Args({32, 8})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ExactLogitsRational, blockwise, path::Algorithm::blockwise)->Args({32, 8})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
