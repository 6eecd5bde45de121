// path_gpu_long: the long-sequence checks of issue 14 (docs/gpu.md): the kernels under test at
// T = 16K (forward, backward) and 64K (forward, decode), judged by the conformance judge through the
// "cuda" implementation (adapters/cuda, conformance::run_case), exactly as a suite case is judged,
// on a case built here whose
//   expected outputs come from the fp64 GPU oracle (gpu/oracle: forward, backward, key cache; the
//     mp100 CPU oracle is far too slow at this length), and whose
//   tolerances come from the tolerance model (conformance::make_tolerance, docs/tolerance.md): the
//     baseline error is that of the same-precision emulation against those expected outputs.
// The baseline: for backward checks conformance::baseline_outputs itself (emulate_forward and
// emulated_backward, single-threaded, run on a thread of its own while the GPU works); for forward
// and decode checks at these lengths the same emulation evaluated here row by row (and key by key)
// on every core, because emulate_forward holds the T x T logits (16 GB at 64K) and the decode
// emulation carries every prefilled key one transformation at a time (O(T^2 D)) on one core:
//   forward row i: x = q_i in fp32; for j = i..0: r_ij = k_j . x, x <- x - beta_j (w_j . x) w_j (fp32);
//     s_ij = gated(scale, r_ij, G_i - G_j) in fp32 (G summed in order in fp32); m = max_j s_ij;
//     p = exp(s - m) summed in fp32 and rounded to the input type before the fp32 P*V sum;
//     o = round(acc / l), lse = m + log l (fp32): path::emulate_forward's definition;
//   decode (P prefilled tokens, then one step per token): key j < P carried through H_{j+1} .. H_{P-1}
//     in fp32, rounded to the input type; at step t every key gets H_t in fp32 and is rounded again,
//     k_t appended; fp32 logits against the cache; the forward row's softmax: emulated_decode's
//     definition. The prefilled rows' o and lse are the forward rows'.
// Inputs are drawn as the suites draw them (conformance::draw_inputs, distribution "standard",
// seeded; the seed is printed and --seed reproduces it). Prints the judge's table and one line
//   RESULT check=... T=... dtype=... verdict=PASS|FAIL <output>=<ratio> ... oracle_ms=... kernel_s=...
// Exit status 0 only on a pass.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <future>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "path/adapters/cuda_kernels.hpp"
#include "path/conformance/case.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/reference_outputs.hpp"
#include "path/conformance/runner.hpp"
#include "path/conformance/suite.hpp"
#include "path/conformance/tolerance.hpp"
#include "path/core/rounding.hpp"
#include "path/gpu/device.hpp"
#include "path/gpu/oracle.hpp"

namespace {

using namespace path;
namespace conf = conformance;
using Values = std::map<std::string, std::vector<double>>;

struct Options {
  std::string check = "forward";  // forward, backward, decode
  index_t B = 1, T = 16384, HQ = 2, H = 1, D = 64, Dv = 64;
  DType dtype = DType::BF16;
  std::string gate = "paper";  // paper, fla, none
  index_t steps = 8;           // decode: tokens decoded after the prefill
  std::uint64_t seed = 0;
  bool seeded = false;
  bool baseline_only = false;  // --baseline-check: no GPU; compare this tool's emulation with the library's
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "path_gpu_long: " << why << "\n"
            << "usage: path_gpu_long --check forward|backward|decode [--T N] [--B N] [--HQ N] [--H N] [--D N] [--Dv N]\n"
            << "                     [--dtype bf16|fp16|fp32] [--gate paper|fla|none] [--steps N] [--seed S]\n"
            << "       path_gpu_long --baseline-check --check forward|decode [--T N] ... (no GPU: this tool's row-by-row\n"
            << "                     emulation against conformance::baseline_outputs, both measured against mp100)\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--baseline-check") {
      o.baseline_only = true;
      continue;
    }
    if (i + 1 >= argc) usage("missing value for " + a);
    const std::string v = argv[++i];
    auto num = [&] { return static_cast<index_t>(std::stoll(v)); };
    if (a == "--check") o.check = v;
    else if (a == "--T") o.T = num();
    else if (a == "--B") o.B = num();
    else if (a == "--HQ") o.HQ = num();
    else if (a == "--H") o.H = num();
    else if (a == "--D") o.D = num();
    else if (a == "--Dv") o.Dv = num();
    else if (a == "--steps") o.steps = num();
    else if (a == "--gate") o.gate = v;
    else if (a == "--seed") {
      o.seed = std::stoull(v);
      o.seeded = true;
    } else if (a == "--dtype") {
      if (v == "bf16") o.dtype = DType::BF16;
      else if (v == "fp16") o.dtype = DType::F16;
      else if (v == "fp32") o.dtype = DType::F32;
      else usage("unknown dtype " + v);
    } else {
      usage("unknown option " + a);
    }
  }
  if (o.check != "forward" && o.check != "backward" && o.check != "decode") usage("unknown check " + o.check);
  if (o.gate != "paper" && o.gate != "fla" && o.gate != "none") usage("unknown gate " + o.gate);
  if (o.check == "decode" && (o.steps < 1 || o.steps > o.T)) usage("--steps must be in [1, T]");
  return o;
}

// Runs f(i) for i in [0, n) on every core.
template <class F>
void parallel_for(index_t n, F&& f) {
  const unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<index_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < jobs; ++t)
    pool.emplace_back([&] {
      for (index_t i = next++; i < n; i = next++) f(i);
    });
  for (std::thread& t : pool) t.join();
}

// The inputs as fp32 arrays (the case's values are already of their types: exact conversions).
struct Fp32Inputs {
  std::vector<float> q, k, v, w, beta, G;  // G: cumulative gate [B, T, HQ] in fp32, in order
  float scale = 1;
};

Fp32Inputs fp32_inputs(const Problem<double>& p) {
  Fp32Inputs f;
  auto conv = [](const std::vector<double>& x) { return std::vector<float>(x.begin(), x.end()); };
  f.q = conv(p.q);
  f.k = conv(p.k);
  f.v = conv(p.v);
  f.w = conv(p.w);
  f.beta = conv(p.beta);
  f.scale = static_cast<float>(p.scale);
  const Shape& s = p.shape;
  f.G.assign(s.g_size(), 0.0f);
  if (p.has_gate())
    for (const SequenceRange& r : sequences_of(s, p.cu_seqlens))
      for (index_t hq = 0; hq < s.HQ; ++hq) {
        float acc = 0.0f;
        for (index_t t = 0; t < r.length; ++t) {
          const std::size_t at = flat_index(r.batch, r.begin + t, hq, 0, s.T, s.HQ, 1);
          acc += static_cast<float>(p.g[at]);
          f.G[at] = acc;
        }
      }
  return f;
}

float gated(float raw, float scale, float gate_difference, bool fla) {
  return fla ? scale * (raw + gate_difference) : scale * raw + gate_difference;
}

// The forward baseline's rows in parallel, in blocks of kRowBlock consecutive rows of one (sequence,
// query head): each key's k, w, v is read once per block rather than once per row (at 64K a row's
// sweep streams 50 MB, far more than any cache), while every row sees exactly the operations, in the
// order, of emulate_forward's definition above. Rows of sequence positions >= rows_below are skipped
// (decode steps' rows come from emulate_decode).
constexpr index_t kRowBlock = 64;

void emulate_forward_rows(const Problem<double>& p, const Fp32Inputs& f, DType prec, index_t rows_below, Values& out) {
  const Shape& s = p.shape;
  const bool fla = p.gate_convention == GateConvention::fla;
  std::vector<double>& o = out["o"];
  std::vector<double>& lse = out["lse"];
  o.assign(s.o_size(), 0.0);
  lse.assign(s.lse_size(), 0.0);
  struct Block {
    SequenceRange seq;
    index_t hq, i0, i1;  // rows [i0, i1)
  };
  std::vector<Block> blocks;
  for (const SequenceRange& r : sequences_of(s, p.cu_seqlens))
    for (index_t hq = 0; hq < s.HQ; ++hq)
      for (index_t i0 = 0; i0 < std::min(r.length, rows_below); i0 += kRowBlock)
        blocks.push_back({r, hq, i0, std::min({i0 + kRowBlock, r.length, rows_below})});
  // Largest blocks first, so that the long rows do not end up alone at the end.
  std::sort(blocks.begin(), blocks.end(), [](const Block& a, const Block& b) { return a.i1 > b.i1; });
  parallel_for(static_cast<index_t>(blocks.size()), [&](index_t n) {
    const Block& blk = blocks[static_cast<std::size_t>(n)];
    const SequenceRange& sq = blk.seq;
    const index_t kv = s.kv_head_of(blk.hq), D = s.D, Dv = s.Dv, R = blk.i1 - blk.i0;
    auto tok = [&](index_t t) { return sq.begin + t; };
    std::vector<float> x(static_cast<std::size_t>(R * D));
    std::vector<std::vector<float>> logits(static_cast<std::size_t>(R));
    std::vector<float> Gi(static_cast<std::size_t>(R));
    for (index_t r = 0; r < R; ++r) {
      const index_t i = blk.i0 + r;
      const std::size_t qi = flat_index(sq.batch, tok(i), blk.hq, 0, s.T, s.HQ, D);
      std::copy(&f.q[qi], &f.q[qi] + D, &x[static_cast<std::size_t>(r * D)]);
      logits[static_cast<std::size_t>(r)].resize(static_cast<std::size_t>(i + 1));
      Gi[static_cast<std::size_t>(r)] = f.G[flat_index(sq.batch, tok(i), blk.hq, 0, s.T, s.HQ, 1)];
    }
    // Raw logits: row i sweeps j = i .. 0 (naive products in fp32).
    for (index_t j = blk.i1 - 1; j >= 0; --j) {
      const std::size_t kj = flat_index(sq.batch, tok(j), kv, 0, s.T, s.H, D);
      const float beta = f.beta[flat_index(sq.batch, tok(j), kv, 0, s.T, s.H, 1)];
      const float Gj = f.G[flat_index(sq.batch, tok(j), blk.hq, 0, s.T, s.HQ, 1)];
      for (index_t r = std::max<index_t>(0, j - blk.i0); r < R; ++r) {
        float* xr = &x[static_cast<std::size_t>(r * D)];
        float dk = 0.0f, dw = 0.0f;
        for (index_t d = 0; d < D; ++d) {
          dk += f.k[kj + d] * xr[d];
          dw += f.w[kj + d] * xr[d];
        }
        const float along = beta * dw;
        for (index_t d = 0; d < D; ++d) xr[d] -= along * f.w[kj + d];
        logits[static_cast<std::size_t>(r)][static_cast<std::size_t>(j)] = gated(dk, f.scale, Gi[static_cast<std::size_t>(r)] - Gj, fla);
      }
    }
    // Softmax (emulate_forward: max, then p = exp(s - m) summed in order j = 0 .. i, p rounded to the
    // input type before the fp32 P*V sum, o = round(acc / l), lse = m + log l).
    std::vector<float> m(static_cast<std::size_t>(R)), l(static_cast<std::size_t>(R), 0.0f),
        acc(static_cast<std::size_t>(R * Dv), 0.0f);
    for (index_t r = 0; r < R; ++r) {
      const std::vector<float>& sr = logits[static_cast<std::size_t>(r)];
      float mr = sr[0];
      for (std::size_t j = 1; j < sr.size(); ++j) mr = std::max(mr, sr[j]);
      m[static_cast<std::size_t>(r)] = mr;
    }
    for (index_t j = 0; j < blk.i1; ++j) {
      const float* vj = &f.v[flat_index(sq.batch, tok(j), kv, 0, s.T, s.H, Dv)];
      for (index_t r = std::max<index_t>(0, j - blk.i0); r < R; ++r) {
        const float pr = std::exp(logits[static_cast<std::size_t>(r)][static_cast<std::size_t>(j)] - m[static_cast<std::size_t>(r)]);
        l[static_cast<std::size_t>(r)] += pr;
        const float pq = static_cast<float>(round_to(pr, prec));
        float* ar = &acc[static_cast<std::size_t>(r * Dv)];
        for (index_t d = 0; d < Dv; ++d) ar[d] += pq * vj[d];
      }
    }
    for (index_t r = 0; r < R; ++r) {
      const index_t i = blk.i0 + r;
      for (index_t d = 0; d < Dv; ++d)
        o[flat_index(sq.batch, tok(i), blk.hq, d, s.T, s.HQ, Dv)] =
            round_to(acc[static_cast<std::size_t>(r * Dv + d)] / l[static_cast<std::size_t>(r)], prec);
      lse[flat_index(sq.batch, tok(i), blk.hq, 0, s.T, s.HQ, 1)] =
          m[static_cast<std::size_t>(r)] + std::log(l[static_cast<std::size_t>(r)]);
    }
  });
}

// One row of the emulated softmax over the logits s[0..n) with values rows value(j) (emulate_forward).
template <class ValueRow>
void softmax_row(const std::vector<float>& s, index_t n, ValueRow&& value, index_t Dv, DType prec, double* o,
                 double* lse) {
  float m = s[0];
  for (index_t j = 1; j < n; ++j) m = std::max(m, s[j]);
  float l = 0.0f;
  std::vector<float> acc(static_cast<std::size_t>(Dv), 0.0f);
  for (index_t j = 0; j < n; ++j) {
    const float p = std::exp(s[j] - m);
    l += p;
    const float pr = static_cast<float>(round_to(p, prec));
    const float* vj = value(j);
    for (index_t d = 0; d < Dv; ++d) acc[d] += pr * vj[d];
  }
  for (index_t d = 0; d < Dv; ++d) o[d] = round_to(acc[d] / l, prec);
  *lse = m + std::log(l);
}

// The decode baseline (emulated_decode's definition), one sequence per batch row (no varlen here).
void emulate_decode(const Problem<double>& p, const Fp32Inputs& f, DType prec, index_t prefill, Values& out) {
  const Shape& s = p.shape;
  if (p.is_varlen()) throw std::invalid_argument("the long decode check takes batch rows, not varlen");
  emulate_forward_rows(p, f, prec, prefill, out);  // the prefilled rows
  const bool fla = p.gate_convention == GateConvention::fla;
  std::vector<double>& o = out["o"];
  std::vector<double>& lse = out["lse"];
  std::vector<double>& cache_out = out["k_cache"];
  cache_out.assign(s.k_size(), 0.0);
  const index_t D = s.D;
  for (index_t b = 0; b < s.B; ++b)
    for (index_t h = 0; h < s.H; ++h) {
      // The cache in fp32 holding values of the input type; keys appended as they come.
      std::vector<float> cache(static_cast<std::size_t>(s.T * D));
      auto key = [&](index_t j) { return &cache[static_cast<std::size_t>(j * D)]; };
      auto w_of = [&](index_t t) { return &f.w[flat_index(b, t, h, 0, s.T, s.H, D)]; };
      auto beta_of = [&](index_t t) { return f.beta[flat_index(b, t, h, 0, s.T, s.H, 1)]; };
      auto apply = [&](float* x, index_t t) {
        const float* w = w_of(t);
        float dw = 0.0f;
        for (index_t d = 0; d < D; ++d) dw += w[d] * x[d];
        const float along = beta_of(t) * dw;
        for (index_t d = 0; d < D; ++d) x[d] -= along * w[d];
      };
      // Prefill: each key carried in fp32 through H_{j+1} .. H_{P-1}, then rounded once. In blocks
      // of kRowBlock keys, so that each w_t is read once per block (the same operations per key).
      parallel_for((prefill + kRowBlock - 1) / kRowBlock, [&](index_t blk) {
        const index_t j0 = blk * kRowBlock, j1 = std::min(prefill, j0 + kRowBlock);
        for (index_t j = j0; j < j1; ++j) {
          const float* kj = &f.k[flat_index(b, j, h, 0, s.T, s.H, D)];
          std::copy(kj, kj + D, key(j));
        }
        for (index_t t = j0 + 1; t < prefill; ++t)
          for (index_t j = j0; j < std::min(j1, t); ++j) apply(key(j), t);
        for (index_t j = j0; j < j1; ++j)
          for (index_t d = 0; d < D; ++d) key(j)[d] = static_cast<float>(round_to(key(j)[d], prec));
      });
      for (index_t t = prefill; t < s.T; ++t) {  // one step per token
        parallel_for(t, [&](index_t j) {
          float* x = key(j);
          apply(x, t);
          for (index_t d = 0; d < D; ++d) x[d] = static_cast<float>(round_to(x[d], prec));
        });
        const float* kt = &f.k[flat_index(b, t, h, 0, s.T, s.H, D)];
        std::copy(kt, kt + D, key(t));
        for (index_t hq = 0; hq < s.HQ; ++hq) {
          if (s.kv_head_of(hq) != h) continue;
          const float* q = &f.q[flat_index(b, t, hq, 0, s.T, s.HQ, D)];
          const float Gt = f.G[flat_index(b, t, hq, 0, s.T, s.HQ, 1)];
          std::vector<float> logits(static_cast<std::size_t>(t + 1));
          parallel_for(t + 1, [&](index_t j) {
            float r = 0.0f;
            const float* x = key(j);
            for (index_t d = 0; d < D; ++d) r += x[d] * q[d];
            logits[static_cast<std::size_t>(j)] = gated(r, f.scale, Gt - f.G[flat_index(b, j, hq, 0, s.T, s.HQ, 1)], fla);
          });
          softmax_row(
              logits, t + 1, [&](index_t j) { return &f.v[flat_index(b, j, h, 0, s.T, s.H, s.Dv)]; }, s.Dv, prec,
              &o[flat_index(b, t, hq, 0, s.T, s.HQ, s.Dv)], &lse[flat_index(b, t, hq, 0, s.T, s.HQ, 1)]);
        }
      }
      for (index_t j = 0; j < s.T; ++j)
        for (index_t d = 0; d < D; ++d) cache_out[flat_index(b, j, h, d, s.T, s.H, D)] = key(j)[d];
    }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

conf::CaseSpec spec_of(const Options& opt) {
  conf::CaseSpec spec;
  spec.name = "long_" + opt.check + "_T" + std::to_string(opt.T) + "_" + std::string(dtype_label(opt.dtype));
  spec.shape = Shape{opt.B, opt.T, opt.HQ, opt.H, opt.D, opt.Dv};
  spec.dtype = opt.dtype;
  spec.gated = opt.gate != "none";
  spec.gate_convention = opt.gate == "fla" ? GateConvention::fla : GateConvention::paper;
  spec.mode = opt.check == "decode" ? conf::Mode::decode : conf::Mode::prefill;
  spec.prefill_length = opt.check == "decode" ? opt.T - opt.steps : 0;
  spec.gradients = opt.check == "backward";
  spec.distribution = "standard";
  return spec;
}

// The emulation of this tool (forward and decode) against the library's, on a length the mp100
// oracle handles: their errors against it are the baselines of the two; they must be the same
// computation up to the order of fp32 sums, so the two baseline errors should be close.
int baseline_check(const Options& opt) {
  if (opt.check == "backward") usage("--baseline-check: backward checks use the library's baseline itself");
  const conf::CaseSpec spec = spec_of(opt);
  const std::uint64_t seed = opt.seeded ? opt.seed : conf::random_seed();
  const conf::CaseInput in = conf::draw_inputs(spec, seed);
  const Values exact = conf::oracle_outputs(in);
  const Values library = conf::baseline_outputs(in);
  Values mine;
  const Fp32Inputs f = fp32_inputs(in.problem);
  if (opt.check == "forward") emulate_forward_rows(in.problem, f, opt.dtype, opt.T, mine);
  else emulate_decode(in.problem, f, opt.dtype, spec.prefill_length, mine);
  std::cout << "baseline check " << spec.name << " seed " << seed << ":\n";
  for (const std::string& name : conf::output_names(spec)) {
    const double e_lib = conf::compare(library.at(name), exact.at(name)).max_abs_error;
    const double e_mine = conf::compare(mine.at(name), exact.at(name)).max_abs_error;
    const double diff = conf::compare(mine.at(name), library.at(name)).max_abs_error;
    std::cout << "  " << name << ": baseline error, library " << e_lib << ", this tool " << e_mine
              << "; max |difference| " << diff << "\n";
  }
  return 0;
}

int run(const Options& opt) {
  if (opt.baseline_only) return baseline_check(opt);
  std::string why;
  if (!gpu::device_available(&why)) {
    std::cerr << "path_gpu_long: " << why << "\n";
    return 1;
  }
  std::cout << "device: " << gpu::device_description() << "\n";
  const conf::CaseSpec spec = spec_of(opt);
  const std::uint64_t seed = opt.seeded ? opt.seed : conf::random_seed();
  std::cout << "case " << spec.name << ": B=" << opt.B << " T=" << opt.T << " HQ=" << opt.HQ << " H=" << opt.H
            << " D=" << opt.D << " Dv=" << opt.Dv << " gate=" << opt.gate
            << (opt.check == "decode" ? " prefill=" + std::to_string(spec.prefill_length) : std::string()) << " seed=" << seed
            << " (--seed reproduces it)\n";
  conf::Case c;
  c.input = conf::draw_inputs(spec, seed);
  const Problem<double>& p = c.input.problem;

  // The baseline on the CPU, concurrently with the GPU oracle.
  const auto t_base = std::chrono::steady_clock::now();
  double baseline_s = 0;
  std::future<Values> baseline = std::async(std::launch::async, [&] {
    Values b;
    if (opt.check == "backward") {
      b = conf::baseline_outputs(c.input);
    } else {
      const Fp32Inputs f = fp32_inputs(p);
      if (opt.check == "forward") emulate_forward_rows(p, f, opt.dtype, opt.T, b);
      else emulate_decode(p, f, opt.dtype, spec.prefill_length, b);
    }
    baseline_s = seconds_since(t_base);
    return b;
  });

  Values expected;
  gpu::OracleStats fs, bs, ks;
  const ForwardResult<double> fwd = gpu::gpu_oracle_forward(p, &fs);
  expected["o"] = fwd.o;
  expected["lse"] = fwd.lse;
  double oracle_ms = fs.kernel_ms;
  if (opt.check == "backward") {
    const BackwardResult<double> g = gpu::gpu_oracle_backward(p, c.input.dO, &bs);
    oracle_ms += bs.kernel_ms;
    expected["dq"] = g.dq;
    expected["dk"] = g.dk;
    expected["dv"] = g.dv;
    expected["dw"] = g.dw;
    expected["dbeta"] = g.dbeta;
    if (spec.gated) expected["dg"] = g.dg;
  }
  if (opt.check == "decode") {
    expected["k_cache"] = gpu::gpu_oracle_key_cache(p, &ks);
    oracle_ms += ks.kernel_ms;
  }
  std::cout << "fp64 GPU oracle: " << oracle_ms << " ms of kernels (forward " << fs.kernel_ms << " ms"
            << (opt.check == "backward" ? ", backward " + std::to_string(bs.kernel_ms) + " ms" : std::string())
            << (opt.check == "decode" ? ", key cache " + std::to_string(ks.kernel_ms) + " ms" : std::string()) << ")\n";
  const Values base = baseline.get();
  std::cout << "baseline (same-precision emulation, CPU): " << baseline_s << " s\n";

  for (const std::string& name : conf::output_names(spec)) {
    const std::vector<double>& e = expected.at(name);
    for (double x : e)
      if (!std::isfinite(x)) throw std::runtime_error("the fp64 GPU oracle's " + name + " is not finite");
    const conf::Comparison cmp = conf::compare(base.at(name), e);
    if (cmp.nonfinite) throw std::runtime_error("the baseline's " + name + " is not finite");
    c.expected[name] = e;
    c.tolerances[name] = conf::make_tolerance(cmp.max_abs_error, conf::max_abs(e), conf::output_dtype(spec, name));
  }
  c.provenance["suite"] = "path_gpu_long";
  c.provenance["seed"] = std::to_string(seed);
  c.provenance["oracle"] = "fp64 GPU oracle (gpu/oracle)";

  adapters::CudaKernelImplementation cuda;
  const conf::CaseVerdict v = conf::run_case(cuda, c, {});
  conf::Report r{"run", "path_gpu_long", "cuda", std::string(dtype_label(opt.dtype)), {v}, v.seconds};
  conf::print_report(std::cout, r);
  std::cout << "RESULT check=" << opt.check << " T=" << opt.T << " dtype=" << dtype_label(opt.dtype)
            << " verdict=" << conf::to_string(v.verdict);
  for (const conf::OutputVerdict& o : v.outputs) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " %s=%.3g", o.output.c_str(), o.ratio);
    std::cout << buf;
  }
  char tail[160];
  std::snprintf(tail, sizeof tail, " oracle_ms=%.1f kernel_s=%.3f baseline_s=%.1f", oracle_ms, v.seconds, baseline_s);
  std::cout << tail << "\n";
  return v.verdict == conf::Verdict::pass ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "path_gpu_long: " << e.what() << "\n";
    return 1;
  }
}
