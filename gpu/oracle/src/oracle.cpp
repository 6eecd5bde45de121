// The fp64 GPU oracle's host side (path/gpu/oracle.hpp): validate, copy, launch, check, copy back.
#include "path/gpu/oracle.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>

#include "oracle_backward_launch.hpp"
#include "oracle_launch.hpp"
#include "path/gpu/cuda_check.hpp"
#include "path/gpu/device_buffer.hpp"
#include "path/validate.hpp"

namespace path::gpu {

static_assert(kOracleMaxHeadDim <= oracle_detail::kOracleKernelMaxHeadDim, "the sweep must cover every accepted head dim");

namespace {

// A pair of CUDA events, destroyed on every path out.
class EventPair {
 public:
  EventPair() {
    PATH_CUDA_CHECK(cudaEventCreate(&start_));
    try {
      PATH_CUDA_CHECK(cudaEventCreate(&stop_));
    } catch (...) {
      cudaEventDestroy(start_);
      throw;
    }
  }
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;
  ~EventPair() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  cudaEvent_t start() const { return start_; }
  cudaEvent_t stop() const { return stop_; }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace

namespace {

// path::validate plus the oracle's limits (head dims, grid); returns the longest sequence.
index_t validate_for_oracle(const Problem<double>& p) {
  validate(p);
  const Shape& s = p.shape;
  if (s.D > kOracleMaxHeadDim)
    path::detail::reject("q", "head dim D = " + std::to_string(s.D) + " is above the GPU oracle's limit of " +
                                  std::to_string(kOracleMaxHeadDim));
  if (s.Dv > kOracleMaxHeadDim)
    path::detail::reject("v", "value dim Dv = " + std::to_string(s.Dv) + " is above the GPU oracle's limit of " +
                                  std::to_string(kOracleMaxHeadDim));
  const std::vector<SequenceRange> seqs = sequences_of(s, p.cu_seqlens);
  if (s.HQ > 65535) path::detail::reject("q", "query heads HQ = " + std::to_string(s.HQ) + " exceed the grid's 65535");
  if (seqs.size() > 65535)
    path::detail::reject(p.is_varlen() ? "cu_seqlens" : "q",
                         std::to_string(seqs.size()) + " sequences exceed the grid's 65535");
  index_t max_len = 0;
  for (const SequenceRange& r : seqs) max_len = std::max(max_len, r.length);
  return max_len;
}

// The forward's device state: inputs uploaded, G scanned, o and lse computed (all in double).
struct OracleForwardState {
  detail::DeviceBuffer q, k, v, w, beta, g, G, cu, o, lse;
  oracle_detail::OracleSweepArgs args;
};

void run_forward(const Problem<double>& p, index_t max_len, OracleForwardState& f) {
  const Shape& s = p.shape;
  f.q = detail::upload(p.q);
  f.k = detail::upload(p.k);
  f.v = detail::upload(p.v);
  f.w = detail::upload(p.w);
  f.beta = detail::upload(p.beta);
  if (p.has_gate()) {
    f.g = detail::upload(p.g);
    f.G = detail::poisoned(s.g_size() * sizeof(double));
  }
  if (p.is_varlen()) f.cu = detail::upload(p.cu_seqlens);
  f.o = detail::poisoned(s.o_size() * sizeof(double));
  f.lse = detail::poisoned(s.lse_size() * sizeof(double));
  oracle_detail::OracleSweepArgs& a = f.args;
  a.q = f.q.as<const double>();
  a.k = f.k.as<const double>();
  a.v = f.v.as<const double>();
  a.w = f.w.as<const double>();
  a.beta = f.beta.as<const double>();
  a.G = f.G.as<const double>();
  a.cu_seqlens = f.cu.as<const std::int64_t>();
  a.num_seqs = static_cast<std::int64_t>(sequences_of(s, p.cu_seqlens).size());
  a.max_seq_len = max_len;
  a.B = s.B;
  a.T = s.T;
  a.HQ = s.HQ;
  a.H = s.H;
  a.D = s.D;
  a.Dv = s.Dv;
  a.scale = p.scale;
  a.gate_fla = p.gate_convention == GateConvention::fla;
  a.o = f.o.as<double>();
  a.lse = f.lse.as<double>();
  if (p.has_gate())
    oracle_detail::launch_oracle_gate_scan(f.g.as<const double>(), f.G.as<double>(), a.cu_seqlens, a.num_seqs, s.T, s.HQ,
                                           nullptr);
  oracle_detail::launch_oracle_sweep(a, nullptr);
}

void record_stats(OracleStats* stats, const EventPair& events, std::chrono::steady_clock::time_point t0) {
  if (!stats) return;
  float ms = 0;
  PATH_CUDA_CHECK(cudaEventElapsedTime(&ms, events.start(), events.stop()));
  stats->kernel_ms = ms;
  stats->total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

ForwardResult<double> gpu_oracle_forward(const Problem<double>& p, OracleStats* stats) {
  const index_t max_len = validate_for_oracle(p);
  const Shape& s = p.shape;
  const auto t0 = std::chrono::steady_clock::now();
  EventPair events;
  OracleForwardState f;
  PATH_CUDA_CHECK(cudaEventRecord(events.start(), nullptr));
  run_forward(p, max_len, f);
  PATH_CUDA_CHECK(cudaEventRecord(events.stop(), nullptr));
  PATH_CUDA_CHECK(cudaDeviceSynchronize());  // errors of the running kernels surface here
  ForwardResult<double> r{s, detail::download<double>(f.o, s.o_size()), detail::download<double>(f.lse, s.lse_size())};
  record_stats(stats, events, t0);
  return r;
}

BackwardResult<double> gpu_oracle_backward(const Problem<double>& p, const std::vector<double>& dO, OracleStats* stats) {
  const index_t max_len = validate_for_oracle(p);
  validate_output_gradient(p, dO);
  const Shape& s = p.shape;
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<SequenceRange> seqs = sequences_of(s, p.cu_seqlens);
  std::vector<std::int64_t> bases;
  std::int64_t total = 0;
  for (const SequenceRange& r : seqs) {
    bases.push_back(total);
    total += r.length * (r.length + 1) / 2;
  }
  const std::size_t packed = static_cast<std::size_t>(total * s.HQ);
  using detail::DeviceBuffer;
  EventPair events;
  OracleForwardState f;
  const DeviceBuffer d_o = detail::upload(dO), dbases = detail::upload(bases);
  const DeviceBuffer dr = detail::poisoned(packed * sizeof(double)), xw = detail::poisoned(packed * sizeof(double)),
                     yw = detail::poisoned(packed * sizeof(double));
  const DeviceBuffer dq = detail::poisoned(s.q_size() * sizeof(double)), dk = detail::poisoned(s.k_size() * sizeof(double)),
                     dv = detail::poisoned(s.v_size() * sizeof(double)), dw = detail::poisoned(s.k_size() * sizeof(double)),
                     dbeta = detail::poisoned(s.beta_size() * sizeof(double));
  const DeviceBuffer dG = p.has_gate() ? detail::poisoned(s.g_size() * sizeof(double)) : DeviceBuffer(),
                     dg = p.has_gate() ? detail::poisoned(s.g_size() * sizeof(double)) : DeviceBuffer();
  PATH_CUDA_CHECK(cudaEventRecord(events.start(), nullptr));
  run_forward(p, max_len, f);
  for (const DeviceBuffer* b : {&dk, &dv, &dw, &dbeta, &dG})
    oracle_detail::launch_oracle_zero(b->as<double>(), static_cast<std::int64_t>(b->bytes() / sizeof(double)), nullptr);
  oracle_detail::OracleBackwardArgs a;
  a.q = f.args.q;
  a.k = f.args.k;
  a.v = f.args.v;
  a.w = f.args.w;
  a.beta = f.args.beta;
  a.G = f.args.G;
  a.o = f.args.o;
  a.lse = f.args.lse;
  a.dO = d_o.as<const double>();
  a.cu_seqlens = f.args.cu_seqlens;
  a.packed_base = dbases.as<const std::int64_t>();
  a.num_seqs = f.args.num_seqs;
  a.max_seq_len = max_len;
  a.B = s.B;
  a.T = s.T;
  a.HQ = s.HQ;
  a.H = s.H;
  a.D = s.D;
  a.Dv = s.Dv;
  a.scale = p.scale;
  a.gate_fla = f.args.gate_fla;
  a.dr = dr.as<double>();
  a.xw = xw.as<double>();
  a.yw = yw.as<double>();
  a.dq = dq.as<double>();
  a.dk = dk.as<double>();
  a.dv = dv.as<double>();
  a.dw = dw.as<double>();
  a.dbeta = dbeta.as<double>();
  a.dG = dG.as<double>();
  a.dg = dg.as<double>();
  oracle_detail::launch_oracle_backward(a, nullptr);
  PATH_CUDA_CHECK(cudaEventRecord(events.stop(), nullptr));
  PATH_CUDA_CHECK(cudaDeviceSynchronize());  // errors of the running kernels surface here
  BackwardResult<double> r;
  r.shape = s;
  r.dq = detail::download<double>(dq, s.q_size());
  r.dk = detail::download<double>(dk, s.k_size());
  r.dv = detail::download<double>(dv, s.v_size());
  r.dw = detail::download<double>(dw, s.k_size());
  r.dbeta = detail::download<double>(dbeta, s.beta_size());
  if (p.has_gate()) r.dg = detail::download<double>(dg, s.g_size());
  record_stats(stats, events, t0);
  return r;
}

std::vector<double> gpu_oracle_key_cache(const Problem<double>& p, OracleStats* stats) {
  const index_t max_len = validate_for_oracle(p);
  const Shape& s = p.shape;
  const auto t0 = std::chrono::steady_clock::now();
  using detail::DeviceBuffer;
  const DeviceBuffer k = detail::upload(p.k), w = detail::upload(p.w), beta = detail::upload(p.beta);
  const DeviceBuffer cu = p.is_varlen() ? detail::upload(p.cu_seqlens) : DeviceBuffer();
  const DeviceBuffer out = detail::poisoned(s.k_size() * sizeof(double));
  oracle_detail::OracleKeyCacheArgs a;
  a.k = k.as<const double>();
  a.w = w.as<const double>();
  a.beta = beta.as<const double>();
  a.cu_seqlens = cu.as<const std::int64_t>();
  a.num_seqs = static_cast<std::int64_t>(sequences_of(s, p.cu_seqlens).size());
  a.max_seq_len = max_len;
  a.B = s.B;
  a.T = s.T;
  a.H = s.H;
  a.D = s.D;
  a.k_cache = out.as<double>();
  EventPair events;
  PATH_CUDA_CHECK(cudaEventRecord(events.start(), nullptr));
  oracle_detail::launch_oracle_key_cache(a, nullptr);
  PATH_CUDA_CHECK(cudaEventRecord(events.stop(), nullptr));
  PATH_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<double> r = detail::download<double>(out, s.k_size());
  record_stats(stats, events, t0);
  return r;
}

}  // namespace path::gpu
