// path_gpu_drift: the numerical drift of the GPU decode over long decodes (issue 17: "the error of the
// cache and of each step's output against the exact decode after 1K, 16K and 64K steps, for bf16,
// fp16 and fp32 caches"; docs/decode.md section 7).
//
// One random problem (B sequences of T tokens, the suites' "standard" values: tests/support/
// random_problem.hpp, seeded, the seed printed). Per config (an input dtype, and the cache in it or in
// fp32, DecodeCacheLayout::cache_dtype):
//  - the problem the kernels see: q, k, v rounded to the input dtype, w, beta, g and the scale to fp32.
//    The exact decode is THAT problem's, in fp64 on the GPU (gpu/oracle): step t's output is the
//    forward's row t (docs/decode.md (1): the decode's logits are the forward's), and the key cache
//    after L tokens is gpu_oracle_key_cache of the L-token prefix (each key carried through every later
//    transformation, O(L^2 D): called at the checkpoints only). So what is measured is the kernels'
//    error, not the inputs' rounding.
//  - our decode: prefill_to_cache with token 0, then T - 1 one-token decode_step calls (the fused step
//    where it runs; PATH_GPU_DECODE_KERNEL=plain forces the plain one). Every input is uploaded once,
//    step-major ([T, B, heads, dim]: a step's B rows are then one contiguous [B, 1, heads, dim] view),
//    every output stays on the device (also step-major), nothing synchronizes between checkpoints.
//  - at each checkpoint L (the cache holds L tokens, L - 1 steps done): the cached keys and the outputs
//    of tokens 0 .. L-1 are downloaded and compared (drift_stats.hpp: relative L2 and max errors, the
//    floor of rounding the exact values to the stored dtype, the ratio error / floor; o over the last
//    --window steps and over all steps so far).
// Prints a row per (config, checkpoint) as it comes and writes them to a CSV (scripts/plot-drift.py).
// --dump FILE writes the rounded inputs and the exact o and key caches (safetensors) for a script
// that runs another implementation (FLA) on the same problem.
// Exit status: 0 done, 1 an error (no GPU, a CUDA or library error: the message says which), 2 bad
// options.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "drift_stats.hpp"
#include "host_support.hpp"  // upload_as, download_as: the kernels' own host-device conversions
#include "path/gpu/cuda_check.hpp"
#include "path/gpu/decode.hpp"
#include "path/gpu/device.hpp"
#include "path/gpu/device_buffer.hpp"
#include "path/gpu/forward.hpp"
#include "path/gpu/oracle.hpp"
#include "path/io/safetensors.hpp"
#include "support/random_problem.hpp"

namespace {

using namespace path;

struct Config {
  std::string label;
  DType input = DType::BF16;
  std::optional<DType> cache;  // unset: the input dtype
  DType cache_dtype() const { return cache.value_or(input); }
};

struct Options {
  index_t T = 65536, B = 1, H = 1, HQ = 1, D = 64, window = 1024;
  std::vector<index_t> checkpoints;
  std::uint64_t seed = 0;
  bool seeded = false;
  std::vector<Config> configs;
  std::string gate = "none";  // none, paper, fla
  std::string out = "drift.csv", dump;
  double beta_lo = -1, beta_hi = -1;  // --beta LO,HI: every beta redrawn uniformly in [LO, HI]; unset: (0, 2)
};

[[noreturn]] void usage(const std::string& why, int status = 2) {
  (status == 0 ? std::cout : std::cerr) << "path_gpu_drift: " << why << "\n"
            << "usage: path_gpu_drift [--T 65536] [--checkpoints 1024,16384,65536] [--window 1024]\n"
            << "                      [--B 1] [--H 1] [--HQ 1] [--D 64] [--gate none|paper|fla] [--seed S]\n"
            << "                      [--configs bf16,fp16,bf16+f32cache,fp16+f32cache,fp32] [--out drift.csv]\n"
            << "                      [--dump FILE.safetensors] [--beta LO,HI]\n"
            << "  checkpoints: cache lengths L in [2, T] (L - 1 decode steps after one prefilled token); by default\n"
            << "  those of 1024, 16384, 65536 that are <= T, and T. D in {16, 32, 64, 128}, Dv = D.\n"
            << "  beta: uniform in [LO, HI] within [0, 2] (e.g. 1.98,2: near reflections, where the transforms\n"
            << "  may stop contracting past errors, docs/decode.md section 7); default the generator's (0, 2).\n";
  std::exit(status);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> parts;
  for (std::size_t begin = 0; begin <= s.size();) {
    const std::size_t end = std::min(s.find(',', begin), s.size());
    if (end > begin) parts.push_back(s.substr(begin, end - begin));
    begin = end + 1;
  }
  return parts;
}

index_t number(const std::string& option, const std::string& v) {
  std::size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &used);
  } catch (const std::exception&) {
    usage(option + ": not a number: '" + v + "'");
  }
  if (used != v.size() || x < 1) usage(option + ": expected a positive integer, got '" + v + "'");
  return static_cast<index_t>(x);
}

// "bf16", "fp16", "fp32", or one of them + "+f32cache" (the fp32 cache of DecodeCacheLayout).
Config config_of(const std::string& label) {
  Config c;
  c.label = label;
  const std::size_t plus = label.find('+');
  const std::optional<DType> in = parse_input_dtype(label.substr(0, plus));
  if (!in) usage("--configs: unknown input dtype in '" + label + "' (bf16, fp16, fp32)");
  c.input = *in;
  if (plus != std::string::npos) {
    if (label.substr(plus + 1) != "f32cache") usage("--configs: '" + label + "': the only suffix is +f32cache");
    c.cache = DType::F32;
  }
  return c;
}

Options parse(int argc, char** argv) {
  Options o;
  bool checkpoints_given = false;
  std::string configs = "bf16,fp16,bf16+f32cache,fp16+f32cache,fp32";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") usage("the numerical drift of the GPU decode (docs/decode.md section 7)", 0);
    if (i + 1 >= argc) usage("missing value for " + a);
    const std::string v = argv[++i];
    if (a == "--T") o.T = number(a, v);
    else if (a == "--B") o.B = number(a, v);
    else if (a == "--H") o.H = number(a, v);
    else if (a == "--HQ") o.HQ = number(a, v);
    else if (a == "--D") o.D = number(a, v);
    else if (a == "--window") o.window = number(a, v);
    else if (a == "--gate") o.gate = v;
    else if (a == "--configs") configs = v;
    else if (a == "--out") o.out = v;
    else if (a == "--dump") o.dump = v;
    else if (a == "--beta") {
      const std::vector<std::string> r = split(v);
      try {
        if (r.size() != 2) throw std::invalid_argument(v);
        o.beta_lo = std::stod(r[0]);
        o.beta_hi = std::stod(r[1]);
      } catch (const std::exception&) {
        usage("--beta: expected LO,HI, got '" + v + "'");
      }
      if (!(0 <= o.beta_lo && o.beta_lo <= o.beta_hi && o.beta_hi <= 2))
        usage("--beta: need 0 <= LO <= HI <= 2, got '" + v + "'");
    }
    else if (a == "--checkpoints") {
      checkpoints_given = true;
      o.checkpoints.clear();
      for (const std::string& c : split(v)) o.checkpoints.push_back(number(a, c));
    } else if (a == "--seed") {
      try {
        std::size_t used = 0;
        o.seed = std::stoull(v, &used);
        if (used != v.size()) throw std::invalid_argument(v);
      } catch (const std::exception&) {
        usage("--seed: expected an unsigned integer, got '" + v + "'");
      }
      o.seeded = true;
    } else {
      usage("unknown option " + a);
    }
  }
  if (o.T < 2) usage("--T must be at least 2 (one prefilled token and one step)");
  if (o.gate != "none" && o.gate != "paper" && o.gate != "fla") usage("unknown gate " + o.gate);
  if (o.D != 16 && o.D != 32 && o.D != 64 && o.D != 128) usage("--D must be 16, 32, 64 or 128");
  if (o.HQ % o.H != 0) usage("--HQ must be a multiple of --H");
  if (o.B > 65535 || o.HQ > 65535) usage("--B and --HQ must be at most 65535");
  if (!checkpoints_given) {
    for (index_t L : {1024, 16384, 65536})
      if (L < o.T) o.checkpoints.push_back(L);
    o.checkpoints.push_back(o.T);
  }
  if (o.checkpoints.empty()) usage("--checkpoints: none given");
  std::sort(o.checkpoints.begin(), o.checkpoints.end());
  o.checkpoints.erase(std::unique(o.checkpoints.begin(), o.checkpoints.end()), o.checkpoints.end());
  if (o.checkpoints.front() < 2 || o.checkpoints.back() > o.T)
    usage("--checkpoints must lie in [2, T = " + std::to_string(o.T) + "]");
  for (const std::string& c : split(configs)) o.configs.push_back(config_of(c));
  if (o.configs.empty()) usage("--configs: none given");
  return o;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// [outer, inner, width] -> [inner, outer, width]: [B, T, ...] to step-major [T, B, ...] and back.
std::vector<double> transpose(const std::vector<double>& x, index_t outer, index_t inner, index_t width) {
  std::vector<double> r(x.size());
  for (index_t a = 0; a < outer; ++a)
    for (index_t b = 0; b < inner; ++b)
      std::copy_n(&x[static_cast<std::size_t>((a * inner + b) * width)], width,
                  &r[static_cast<std::size_t>((b * outer + a) * width)]);
  return r;
}

// The drawn problem, in double; each config rounds it as the kernels take it (gpu::rounded_problem:
// q, k, v to the input dtype, w, beta, g and the scale to fp32).
Problem<double> draw(const Options& opt, std::uint64_t seed) {
  testing::ProblemSpec spec;
  spec.shape = Shape{opt.B, opt.T, opt.HQ, opt.H, opt.D, opt.D};
  spec.gate = opt.gate != "none";
  spec.convention = opt.gate == "fla" ? GateConvention::fla : GateConvention::paper;
  random::Rng rng(seed);
  Problem<double> p = testing::random_problem(spec, rng);
  if (opt.beta_lo >= 0)  // after the problem's own draws, so the rest of the problem is the default's
    for (double& b : p.beta) b = opt.beta_lo + (opt.beta_hi - opt.beta_lo) * random::uniform01(rng);
  return p;
}

// Tokens [0, L) of every sequence.
Problem<double> prefix(const Problem<double>& p, index_t L) {
  const Shape& s = p.shape;
  Problem<double> r;
  r.shape = s;
  r.shape.T = L;
  r.scale = p.scale;
  r.gate_convention = p.gate_convention;
  auto take = [&](const std::vector<double>& x, std::vector<double>& out, index_t width) {
    for (index_t b = 0; b < s.B; ++b) {
      const auto first = x.begin() + static_cast<std::ptrdiff_t>(b * s.T * width);
      out.insert(out.end(), first, first + static_cast<std::ptrdiff_t>(L * width));
    }
  };
  take(p.q, r.q, s.HQ * s.D);
  take(p.k, r.k, s.H * s.D);
  take(p.v, r.v, s.H * s.Dv);
  take(p.w, r.w, s.H * s.D);
  take(p.beta, r.beta, s.H);
  if (p.has_gate()) take(p.g, r.g, s.HQ);
  return r;
}

// The exact decode of one rounded problem: every step's o (step-major [T, B * HQ * Dv]) and the key
// cache [B, L, H, D] at each checkpoint L.
struct Exact {
  std::vector<double> o;
  std::map<index_t, std::vector<double>> cache;
};

void require_finite(const std::vector<double>& x, const std::string& what) {
  for (double e : x)
    if (!std::isfinite(e)) throw std::runtime_error("the fp64 GPU oracle's " + what + " is not finite");
}

Exact exact_decode(const Problem<double>& p, const std::vector<index_t>& checkpoints, DType input) {
  const Shape& s = p.shape;
  Exact e;
  gpu::OracleStats fs;
  const ForwardResult<double> f = gpu::gpu_oracle_forward(p, &fs);
  require_finite(f.o, "o");
  e.o = transpose(f.o, s.B, s.T, s.HQ * s.Dv);
  std::printf("exact %s inputs: fp64 oracle forward %.1f ms; key caches", std::string(dtype_label(input)).c_str(),
              fs.total_ms);
  for (index_t L : checkpoints) {
    gpu::OracleStats ks;
    e.cache[L] = gpu::gpu_oracle_key_cache(prefix(p, L), &ks);
    require_finite(e.cache[L], "key cache (L = " + std::to_string(L) + ")");
    std::printf(" L=%lld %.1f ms", static_cast<long long>(L), ks.total_ms);
  }
  std::printf("\n");
  std::fflush(stdout);
  return e;
}

// A tensor on the device, step-major: `row` elements (B x heads x dim) per token.
struct StepArray {
  gpu::detail::DeviceBuffer buf;
  DType dtype = DType::F32;
  std::size_t row = 0;
  const void* at(index_t t) const {
    return static_cast<const unsigned char*>(buf.get()) + static_cast<std::size_t>(t) * row * dtype_size(dtype);
  }
  gpu::DeviceTensor step(index_t t) const { return {at(t), row, dtype}; }
};

StepArray upload_step_major(const std::vector<double>& x, const Shape& s, index_t width, DType t) {
  StepArray a;
  a.buf = gpu::kernel_host::upload_as(transpose(x, s.B, s.T, width), t);
  a.dtype = t;
  a.row = static_cast<std::size_t>(s.B * width);
  return a;
}

void print_header(index_t window) {
  std::printf("%-15s %6s | %-29s | %-29s | %-29s | %-19s | %8s\n", "config", "L", "cache rel L2 (floor, ratio)",
              "cache max rel (floor, ratio)", ("o last " + std::to_string(window) + " (floor, ratio)").c_str(),
              "o all steps (ratio)", "decode s");
  std::fflush(stdout);
}

void print_row(const Config& c, const drift::CheckpointStats& s, double decode_s) {
  using drift::ratio;
  std::printf("%-15s %6lld | %9.2e (%9.2e, %6.2f) | %9.2e (%9.2e, %6.2f) | %9.2e (%9.2e, %6.2f) | "
              "%10.2e (%6.2f) | %8.2f\n",
              c.label.c_str(), static_cast<long long>(s.length), s.cache.rel_l2, s.cache_floor.rel_l2,
              ratio(s.cache.rel_l2, s.cache_floor.rel_l2), s.cache.max_rel, s.cache_floor.max_rel,
              ratio(s.cache.max_rel, s.cache_floor.max_rel), s.o_window.rel_l2, s.o_window_floor.rel_l2,
              ratio(s.o_window.rel_l2, s.o_window_floor.rel_l2), s.o_all.rel_l2,
              ratio(s.o_all.rel_l2, s.o_all_floor.rel_l2), decode_s);
  std::fflush(stdout);
}

// Our decode of one config, compared at every checkpoint.
void run_config(const Options& opt, const Config& c, const Problem<double>& p, const Exact& exact,
                const drift::RunInfo& info, std::ofstream& csv) {
  const Shape& s = p.shape;
  const DType in = c.input;
  gpu::DecodeCacheLayout layout;
  layout.batch = s.B;
  layout.capacity = s.T;
  layout.HQ = s.HQ;
  layout.H = s.H;
  layout.D = s.D;
  layout.Dv = s.Dv;
  layout.dtype = in;
  layout.cache_dtype = c.cache;
  layout.gated = p.has_gate();
  layout.scale = p.scale;
  layout.gate_convention = p.gate_convention;
  gpu::DeviceDecodeCache cache(layout);

  const StepArray q = upload_step_major(p.q, s, s.HQ * s.D, in), k = upload_step_major(p.k, s, s.H * s.D, in),
                  v = upload_step_major(p.v, s, s.H * s.Dv, in), w = upload_step_major(p.w, s, s.H * s.D, DType::F32),
                  beta = upload_step_major(p.beta, s, s.H, DType::F32);
  const StepArray g = p.has_gate() ? upload_step_major(p.g, s, s.HQ, DType::F32) : StepArray{};
  // Every step's outputs, step-major; poisoned, so a row no step wrote (row 0: the prefilled token)
  // reads NaN.
  const std::size_t o_row = static_cast<std::size_t>(s.B * s.HQ * s.Dv);
  const std::size_t lse_row = static_cast<std::size_t>(s.B * s.HQ);
  const gpu::detail::DeviceBuffer o = gpu::detail::poisoned(static_cast<std::size_t>(s.T) * o_row * dtype_size(in));
  const gpu::detail::DeviceBuffer lse = gpu::detail::poisoned(static_cast<std::size_t>(s.T) * lse_row * sizeof(float));

  auto tokens = [&](index_t t) {
    gpu::DecodeTokens tk;
    tk.batch = s.B;
    tk.n = 1;
    tk.HQ = s.HQ;
    tk.H = s.H;
    tk.D = s.D;
    tk.Dv = s.Dv;
    tk.q = q.step(t);
    tk.k = k.step(t);
    tk.v = v.step(t);
    tk.w = w.step(t);
    tk.beta = beta.step(t);
    if (p.has_gate()) tk.g = g.step(t);
    return tk;
  };
  auto outputs = [&](index_t t) {
    gpu::DecodeOutputs out;
    out.o = {static_cast<unsigned char*>(o.get()) + static_cast<std::size_t>(t) * o_row * dtype_size(in), o_row, in};
    out.lse = {lse.as<float>() + static_cast<std::size_t>(t) * lse_row, lse_row, DType::F32};
    return out;
  };

  PATH_CUDA_CHECK(cudaDeviceSynchronize());
  double decode_s = 0;
  auto t0 = std::chrono::steady_clock::now();
  gpu::prefill_to_cache(cache, tokens(0));
  std::size_t next = 0;
  for (index_t t = 1; t < s.T && next < opt.checkpoints.size(); ++t) {
    gpu::decode_step(cache, tokens(t), outputs(t));
    const index_t L = cache.length();
    if (L != opt.checkpoints[next]) continue;
    PATH_CUDA_CHECK(cudaDeviceSynchronize());  // errors of the running kernels surface here
    decode_s += seconds_since(t0);
    const std::vector<double> keys = cache.download_keys();
    const std::vector<double> got_o = gpu::kernel_host::download_as(o, static_cast<std::size_t>(L) * o_row, in);
    const drift::CheckpointStats st = drift::checkpoint_stats(keys, exact.cache.at(L), got_o, exact.o,
                                                              static_cast<index_t>(o_row), L, opt.window, in,
                                                              c.cache_dtype());
    print_row(c, st, decode_s);
    csv << drift::csv_row(info, st, decode_s) << std::endl;  // flushed: a run cut short keeps its rows
    ++next;
    t0 = std::chrono::steady_clock::now();
  }
}

// The rounded inputs and the exact outputs of one input dtype, into the dump.
void add_to_dump(io::TensorFile& f, DType in, const Problem<double>& p, const Exact& e) {
  const Shape& s = p.shape;
  const std::string dt(dtype_label(in));
  f.tensors[dt + ".q"] = {in, {s.B, s.T, s.HQ, s.D}, p.q};
  f.tensors[dt + ".k"] = {in, {s.B, s.T, s.H, s.D}, p.k};
  f.tensors[dt + ".v"] = {in, {s.B, s.T, s.H, s.Dv}, p.v};
  f.tensors[dt + ".o"] = {DType::F64, {s.B, s.T, s.HQ, s.Dv}, transpose(e.o, s.T, s.B, s.HQ * s.Dv)};
  for (const auto& [L, keys] : e.cache)
    f.tensors[dt + ".k_cache." + std::to_string(L)] = {DType::F64, {s.B, L, s.H, s.D}, keys};
  f.tensors["w"] = {DType::F32, {s.B, s.T, s.H, s.D}, p.w};
  f.tensors["beta"] = {DType::F32, {s.B, s.T, s.H}, p.beta};
  if (p.has_gate()) f.tensors["g"] = {DType::F32, {s.B, s.T, s.HQ}, p.g};
}

std::uint64_t fresh_seed() {
  std::random_device rd;
  return ((static_cast<std::uint64_t>(rd()) << 32) ^ rd()) & ((std::uint64_t{1} << 53) - 1);  // exact in a double
}

int run(const Options& opt) {
  std::string why;
  if (!gpu::device_available(&why)) {
    std::cerr << "path_gpu_drift: " << why << "\n";
    return 1;
  }
  const std::uint64_t seed = opt.seeded ? opt.seed : fresh_seed();
  std::string checkpoints;
  for (index_t L : opt.checkpoints) checkpoints += (checkpoints.empty() ? "" : ",") + std::to_string(L);
  const char* kernel = std::getenv("PATH_GPU_DECODE_KERNEL");
  std::printf("device: %s\n", gpu::device_description().c_str());
  std::printf("problem: B=%lld T=%lld H=%lld HQ=%lld D=Dv=%lld gate=%s checkpoints=%s window=%lld seed=%llu "
              "(--seed %llu reproduces it); decode kernel: PATH_GPU_DECODE_KERNEL=%s\n",
              static_cast<long long>(opt.B), static_cast<long long>(opt.T), static_cast<long long>(opt.H),
              static_cast<long long>(opt.HQ), static_cast<long long>(opt.D), opt.gate.c_str(), checkpoints.c_str(),
              static_cast<long long>(opt.window), static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed), kernel ? kernel : "auto");
  if (opt.beta_lo >= 0) std::printf("beta: uniform in [%.17g, %.17g] (--beta)\n", opt.beta_lo, opt.beta_hi);
  std::fflush(stdout);
  std::ofstream csv(opt.out);
  if (!csv) throw std::runtime_error("cannot write " + opt.out);
  csv << drift::csv_header() << std::endl;

  const auto t_start = std::chrono::steady_clock::now();
  const Problem<double> drawn = draw(opt, seed);
  // The exact decode once per input dtype (the fp32-cache configs share their input dtype's).
  std::map<DType, Exact> exact;
  io::TensorFile dump;
  for (const Config& c : opt.configs) {
    if (exact.count(c.input)) continue;
    const Problem<double> p = gpu::rounded_problem(drawn, c.input);
    exact[c.input] = exact_decode(p, opt.checkpoints, c.input);
    if (!opt.dump.empty()) add_to_dump(dump, c.input, p, exact[c.input]);
  }
  if (!opt.dump.empty()) {
    dump.metadata = {{"tool", "path_gpu_drift"}, {"seed", std::to_string(seed)}, {"gate", opt.gate},
                     {"checkpoints", checkpoints},
                     {"layout", "FLA's [B, T, heads, dim]; <dtype>.o row t = the exact decode step output at token t; "
                                "<dtype>.k_cache.<L> = the exact cache after L tokens, row j = k_j^(L-1) "
                                "(docs/decode.md (1)); all from the rounded inputs in this file, in fp64"}};
    if (opt.beta_lo >= 0) dump.metadata["beta"] = std::to_string(opt.beta_lo) + "," + std::to_string(opt.beta_hi);
    char scale[32];
    std::snprintf(scale, sizeof scale, "%.17g", drawn.scale);
    dump.metadata["scale"] = scale;
    io::write_safetensors(opt.dump, dump, true);
    std::printf("wrote %s\n", opt.dump.c_str());
  }

  print_header(opt.window);
  for (const Config& c : opt.configs) {
    drift::RunInfo info;
    info.config = c.label;
    info.input_dtype = c.input;
    info.cache_dtype = c.cache_dtype();
    info.gate = opt.gate;
    info.B = opt.B;
    info.T = opt.T;
    info.H = opt.H;
    info.HQ = opt.HQ;
    info.D = opt.D;
    info.seed = seed;
    run_config(opt, c, gpu::rounded_problem(drawn, c.input), exact.at(c.input), info, csv);
  }
  std::printf("wrote %s (%.1f s in all)\n", opt.out.c_str(), seconds_since(t_start));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);  // exits 2 on bad options
  try {
    return run(opt);
  } catch (const std::exception& e) {
    std::cerr << "path_gpu_drift: " << e.what() << "\n";
    return 1;
  }
}
