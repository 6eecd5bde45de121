// The fp64 GPU oracle's host side (path/gpu/oracle.hpp): validate, copy, launch, check, copy back.
#include "path/gpu/oracle.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>

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

ForwardResult<double> gpu_oracle_forward(const Problem<double>& p, OracleStats* stats) {
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

  const auto t0 = std::chrono::steady_clock::now();
  using detail::DeviceBuffer;
  const DeviceBuffer dq = detail::upload(p.q), dk = detail::upload(p.k), dv = detail::upload(p.v),
                     dw = detail::upload(p.w), dbeta = detail::upload(p.beta);
  const DeviceBuffer dg = p.has_gate() ? detail::upload(p.g) : DeviceBuffer();
  const DeviceBuffer dG = p.has_gate() ? detail::poisoned(s.g_size() * sizeof(double)) : DeviceBuffer();
  const DeviceBuffer dcu = p.is_varlen() ? detail::upload(p.cu_seqlens) : DeviceBuffer();
  const DeviceBuffer dout = detail::poisoned(s.o_size() * sizeof(double));
  const DeviceBuffer dlse = detail::poisoned(s.lse_size() * sizeof(double));

  oracle_detail::OracleSweepArgs a;
  a.q = dq.as<const double>();
  a.k = dk.as<const double>();
  a.v = dv.as<const double>();
  a.w = dw.as<const double>();
  a.beta = dbeta.as<const double>();
  a.G = dG.as<const double>();
  a.cu_seqlens = dcu.as<const std::int64_t>();
  a.num_seqs = static_cast<std::int64_t>(seqs.size());
  a.max_seq_len = max_len;
  a.B = s.B;
  a.T = s.T;
  a.HQ = s.HQ;
  a.H = s.H;
  a.D = s.D;
  a.Dv = s.Dv;
  a.scale = p.scale;
  a.gate_fla = p.gate_convention == GateConvention::fla;
  a.o = dout.as<double>();
  a.lse = dlse.as<double>();

  EventPair events;
  PATH_CUDA_CHECK(cudaEventRecord(events.start(), nullptr));
  if (p.has_gate())
    oracle_detail::launch_oracle_gate_scan(dg.as<const double>(), dG.as<double>(), a.cu_seqlens, a.num_seqs, s.T, s.HQ,
                                           nullptr);
  oracle_detail::launch_oracle_sweep(a, nullptr);
  PATH_CUDA_CHECK(cudaEventRecord(events.stop(), nullptr));
  PATH_CUDA_CHECK(cudaDeviceSynchronize());  // errors of the running kernels surface here

  ForwardResult<double> r{s, detail::download<double>(dout, s.o_size()), detail::download<double>(dlse, s.lse_size())};
  if (stats) {
    float ms = 0;
    PATH_CUDA_CHECK(cudaEventElapsedTime(&ms, events.start(), events.stop()));
    stats->kernel_ms = ms;
    stats->total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  return r;
}

}  // namespace path::gpu
