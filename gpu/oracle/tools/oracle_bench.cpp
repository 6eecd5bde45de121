// Times the fp64 GPU oracle at long T (CUDA events around the gate scan and the sweep; one warm-up,
// then the median of --reps runs, each on fresh random inputs) and spot-checks some output rows of
// every run against an independent CPU sweep in double (a few rows cost O(T D) each), within
// twice the forward error model of docs/error-model.md.
//
//   path_gpu_bench [--T 16384] [--B 1] [--HQ 2] [--H 1] [--D 64] [--Dv 64] [--gate paper|fla|none]
//                  [--reps 3] [--rows 6] [--seed N]
// Prints one human line and one machine line starting with "RESULT"; exits 0 only when every
// spot check passed, 2 when no device is available, 1 on any error.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "path/error_model.hpp"
#include "path/gpu/device.hpp"
#include "path/gpu/oracle.hpp"
#include "support/random_problem.hpp"

namespace {

using path::index_t;

struct Options {
  index_t T = 16384, B = 1, HQ = 2, H = 1, D = 64, Dv = 64;
  std::string gate = "paper";
  int reps = 3, rows = 6;
  std::uint64_t seed = 0;
};

Options parse(int argc, char** argv) {
  Options o;
  o.seed = std::random_device{}();
  for (int a = 1; a < argc; ++a) {
    const std::string key = argv[a];
    if (a + 1 >= argc) throw std::invalid_argument("option " + key + " needs a value");
    const std::string val = argv[++a];
    if (key == "--T") o.T = std::stoll(val);
    else if (key == "--B") o.B = std::stoll(val);
    else if (key == "--HQ") o.HQ = std::stoll(val);
    else if (key == "--H") o.H = std::stoll(val);
    else if (key == "--D") o.D = std::stoll(val);
    else if (key == "--Dv") o.Dv = std::stoll(val);
    else if (key == "--gate") o.gate = val;
    else if (key == "--reps") o.reps = std::stoi(val);
    else if (key == "--rows") o.rows = std::stoi(val);
    else if (key == "--seed") o.seed = std::stoull(val);
    else throw std::invalid_argument("unknown option " + key);
  }
  if (o.gate != "paper" && o.gate != "fla" && o.gate != "none") throw std::invalid_argument("--gate: paper, fla or none");
  if (o.reps < 1) throw std::invalid_argument("--reps must be at least 1");
  return o;
}

// Row i of (batch b, query head hq) by the plain sweep, written independently of reference/.
void cpu_row(const path::Problem<double>& p, index_t b, index_t hq, index_t i, std::vector<double>& o, double& lse) {
  const path::Shape& s = p.shape;
  const index_t kv = s.kv_head_of(hq);
  auto at = [&](index_t t, index_t head, index_t heads, index_t dim) { return ((b * s.T + t) * heads + head) * dim; };
  std::vector<double> G(i + 1, 0.0);
  double acc = 0;
  for (index_t t = 0; t <= i; ++t) G[t] = p.has_gate() ? (acc += p.g[at(t, hq, s.HQ, 1)]) : 0.0;
  std::vector<double> x(p.q.begin() + at(i, hq, s.HQ, s.D), p.q.begin() + at(i, hq, s.HQ, s.D) + s.D);
  std::vector<double> logit(i + 1);
  for (index_t j = i; j >= 0; --j) {
    const double* k = &p.k[at(j, kv, s.H, s.D)];
    const double* w = &p.w[at(j, kv, s.H, s.D)];
    double dk = 0, dw = 0;
    for (index_t d = 0; d < s.D; ++d) {
      dk += k[d] * x[d];
      dw += w[d] * x[d];
    }
    const double along = p.beta[at(j, kv, s.H, 1)] * dw;
    for (index_t d = 0; d < s.D; ++d) x[d] -= along * w[d];
    const double gd = G[i] - G[j];
    logit[j] = p.gate_convention == path::GateConvention::fla ? p.scale * (dk + gd) : p.scale * dk + gd;
  }
  const double m = *std::max_element(logit.begin(), logit.end());
  double l = 0;
  o.assign(s.Dv, 0.0);
  for (index_t j = 0; j <= i; ++j) {
    const double e = std::exp(logit[j] - m);
    l += e;
    for (index_t d = 0; d < s.Dv; ++d) o[d] += e * p.v[at(j, kv, s.H, s.Dv) + d];
  }
  for (double& y : o) y /= l;
  lse = m + std::log(l);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options opt = parse(argc, argv);
    std::string reason;
    if (!path::gpu::device_available(&reason)) {
      std::cerr << "path_gpu_bench: " << reason << "\n";
      return 2;
    }
    std::cout << "device: " << path::gpu::device_description() << "\n";
    path::testing::ProblemSpec spec;
    spec.shape = {opt.B, opt.T, opt.HQ, opt.H, opt.D, opt.Dv};
    spec.gate = opt.gate != "none";
    spec.convention = opt.gate == "fla" ? path::GateConvention::fla : path::GateConvention::paper;
    path::random::Rng rng(opt.seed);

    std::vector<double> kernel_ms, total_ms;
    double worst_o = 0, worst_lse = 0, bound_o = 0, bound_lse = 0;
    bool ok = true;
    for (int rep = 0; rep <= opt.reps; ++rep) {  // rep 0: warm-up (also checked)
      const path::Problem<double> p = path::testing::random_problem(spec, rng);
      path::gpu::OracleStats st;
      const path::gpu::ForwardResult<double> r = path::gpu::gpu_oracle_forward(p, &st);
      if (rep > 0) {
        kernel_ms.push_back(st.kernel_ms);
        total_ms.push_back(st.total_ms);
      }
      const path::error_model::ForwardBound b = path::error_model::forward_error_bound(p, std::pow(2.0, -53));
      bound_o = 2 * b.o;
      bound_lse = 2 * b.lse;
      std::vector<index_t> rows = {opt.T - 1, opt.T / 2, 0};
      while (static_cast<int>(rows.size()) < opt.rows) rows.push_back(path::random::integer(rng, 0, opt.T - 1));
      for (index_t hq : {index_t(0), opt.HQ - 1}) {
        const index_t b_row = opt.B - 1;
        for (index_t i : rows) {
          std::vector<double> o;
          double lse = 0;
          cpu_row(p, b_row, hq, i, o, lse);
          for (index_t d = 0; d < opt.Dv; ++d) {
            const double got = r.o[path::flat_index(b_row, i, hq, d, opt.T, opt.HQ, opt.Dv)];
            const double e = std::abs(got - o[d]);
            if (!(e <= bound_o)) ok = false;
            worst_o = std::max(worst_o, std::isfinite(e) ? e : INFINITY);
          }
          const double e = std::abs(r.lse[path::flat_index(b_row, i, hq, 0, opt.T, opt.HQ, 1)] - lse);
          if (!(e <= bound_lse)) ok = false;
          worst_lse = std::max(worst_lse, std::isfinite(e) ? e : INFINITY);
        }
      }
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    const double med = median(kernel_ms), lo = *std::min_element(kernel_ms.begin(), kernel_ms.end()),
                 hi = *std::max_element(kernel_ms.begin(), kernel_ms.end());
    const double pairs = static_cast<double>(opt.B * opt.HQ) * opt.T * (opt.T + 1) / 2;
    std::printf(
        "GPU oracle fp64 T=%lld B=%lld HQ=%lld H=%lld D=%lld Dv=%lld gate=%s: kernel median %.2f ms (min %.2f, max %.2f, "
        "%d runs), total median %.2f ms, %.3g query-key steps/s; spot check max|do|=%.3g (bound %.3g), "
        "max|dlse|=%.3g (bound %.3g): %s\n",
        static_cast<long long>(opt.T), static_cast<long long>(opt.B), static_cast<long long>(opt.HQ),
        static_cast<long long>(opt.H), static_cast<long long>(opt.D), static_cast<long long>(opt.Dv), opt.gate.c_str(),
        med, lo, hi, opt.reps, median(total_ms), pairs / (med * 1e-3), worst_o, bound_o, worst_lse, bound_lse,
        ok ? "PASS" : "FAIL");
    std::printf("RESULT T=%lld kernel_ms=%.3f total_ms=%.3f max_do=%.3g max_dlse=%.3g check=%s seed=%llu\n",
                static_cast<long long>(opt.T), med, median(total_ms), worst_o, worst_lse, ok ? "PASS" : "FAIL",
                static_cast<unsigned long long>(opt.seed));
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "path_gpu_bench: " << e.what() << "\n";
    return 1;
  }
}
