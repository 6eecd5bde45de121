// The conformance suites and how a case is built (docs/conformance.md).
#include "path/conformance/suite.hpp"

#include "path/core/random.hpp"
#include "path/core/rounding.hpp"

#include <algorithm>
#include <cmath>
#include <atomic>
#include <exception>
#include <mutex>
#include <random>
#include <thread>
#include <stdexcept>

#include "path/io/safetensors.hpp"
#include "path/validate.hpp"

// Cases are written with designated initializers that leave the other fields at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace path::conformance {

namespace {

// ---- case specs ------------------------------------------------------------------------------

enum class Gate { none, paper, fla };

struct Make {
  index_t T = 16, D = 16, Dv = 0, HQ = 1, H = 1, B = 1;
  Gate gate = Gate::none;
  std::string dist = "standard";
  bool grad = true;
  bool decode = false;
  index_t prefill = 0;
  std::vector<index_t> cu;
};

CaseSpec spec_of(const Make& m, io::DType dtype, const std::string& prefix, std::size_t index) {
  CaseSpec s;
  s.dtype = dtype;
  index_t T = m.T;
  if (!m.cu.empty()) T = m.cu.back();
  s.shape = Shape{m.cu.empty() ? m.B : 1, T, m.HQ, m.H, m.D, m.Dv ? m.Dv : m.D};
  s.gated = m.gate != Gate::none;
  s.gate_convention = m.gate == Gate::fla ? GateConvention::fla : GateConvention::paper;
  s.cu_seqlens = m.cu;
  s.mode = m.decode ? Mode::decode : Mode::prefill;
  s.prefill_length = m.decode ? m.prefill : 0;
  s.gradients = m.grad && !m.decode;
  s.distribution = m.dist;
  char idx[32];
  std::snprintf(idx, sizeof idx, "%03zu", index);
  std::string name = prefix + idx + "_T" + std::to_string(T) + "_D" + std::to_string(m.D);
  if (s.shape.Dv != m.D) name += "_Dv" + std::to_string(s.shape.Dv);
  name += "_h" + std::to_string(m.HQ) + "x" + std::to_string(m.H);
  if (s.shape.B > 1) name += "_B" + std::to_string(s.shape.B);
  if (!m.cu.empty()) name += "_varlen" + std::to_string(m.cu.size() - 1);
  name += m.gate == Gate::none ? "_nogate" : m.gate == Gate::paper ? "_paper" : "_fla";
  if (m.dist != "standard") name += "_" + m.dist;
  if (m.decode) name += "_decode" + std::to_string(m.prefill);
  if (s.gradients) name += "_grad";
  s.name = name;
  return s;
}

std::vector<Make> quick_cases() {
  std::vector<Make> c;
  auto add = [&](Make m) { c.push_back(std::move(m)); };
  add({.T = 1, .D = 16, .gate = Gate::paper});                                          // T = 1
  add({.T = 7, .D = 32, .Dv = 16, .HQ = 2, .H = 1, .gate = Gate::fla});                 // prime, GQA, Dv != D
  add({.T = 17, .D = 64});                                                              // prime, D = 64
  add({.T = 31, .D = 16, .gate = Gate::paper, .dist = "beta_near_zero"});
  add({.T = 33, .D = 16, .gate = Gate::fla, .dist = "beta_near_two"});
  add({.T = 65, .D = 32, .gate = Gate::paper});                                         // block + 1
  add({.T = 63, .D = 16, .grad = false});                                               // block - 1
  add({.T = 64, .D = 16, .HQ = 2, .H = 2});                                             // block multiple
  add({.T = 24, .D = 16, .HQ = 2, .H = 2, .dist = "colinear_w"});
  add({.T = 24, .D = 16, .gate = Gate::paper, .dist = "zero_w"});
  add({.T = 32, .D = 32, .gate = Gate::fla, .dist = "large_logits"});
  add({.T = 20, .D = 16, .HQ = 2, .H = 1, .gate = Gate::fla, .dist = "gate_near_zero"});
  add({.T = 20, .D = 16, .gate = Gate::paper, .dist = "gate_strong_negative"});
  add({.T = 16, .D = 16, .HQ = 4, .H = 2, .gate = Gate::fla});                          // GQA 2 groups
  add({.D = 16, .HQ = 2, .H = 2, .gate = Gate::paper, .cu = {0, 1, 1, 6, 7, 20}});     // varlen: 1, empty
  add({.T = 9, .D = 128, .gate = Gate::paper});                                         // D = 128
  add({.T = 13, .D = 16, .HQ = 2, .H = 1, .B = 2, .gate = Gate::fla});                  // batch
  add({.T = 12, .D = 32, .HQ = 2, .H = 1, .gate = Gate::paper, .decode = true, .prefill = 5});
  add({.T = 8, .D = 16, .decode = true, .prefill = 0});                                 // decode from empty
  add({.D = 16, .HQ = 2, .H = 2, .gate = Gate::fla, .decode = true, .prefill = 2, .cu = {0, 1, 5, 9}});
  add({.T = 129, .D = 32, .gate = Gate::paper});                                        // block 128 + 1
  add({.T = 127, .D = 16, .gate = Gate::fla, .dist = "beta_near_two", .grad = false});   // block 128 - 1
  add({.T = 65, .D = 64, .HQ = 2, .H = 2, .gate = Gate::fla, .decode = true, .prefill = 33});
  return c;
}

std::vector<Make> standard_cases() {
  std::vector<Make> c;
  const index_t dims[] = {16, 32, 64, 128};
  const Gate gates[] = {Gate::none, Gate::paper, Gate::fla};
  // Shapes: T = 1, small primes, block multiples +-1 (block sizes 16, 32, 64, 128).
  const index_t lengths[] = {1, 2, 3, 5, 13, 31, 32, 33, 63, 64, 65, 127, 128, 129};
  std::size_t n = 0;
  for (index_t T : lengths) {
    const index_t D = dims[n % 4];
    c.push_back({.T = T, .D = D, .HQ = 2, .H = 1, .gate = gates[n % 3], .grad = T <= 65 || D <= 32});
    ++n;
  }
  // Every distribution with both gate conventions.
  for (const char* dist : {"standard", "beta_near_zero", "beta_near_two", "colinear_w", "zero_w", "large_logits",
                           "gate_near_zero", "gate_strong_negative"})
    for (Gate g : {Gate::paper, Gate::fla}) c.push_back({.T = 48, .D = 32, .HQ = 2, .H = 1, .gate = g, .dist = dist});
  // Every head dim with an uneven value dim.
  for (index_t D : dims) c.push_back({.T = 40, .D = D, .Dv = D == 16 ? 32 : D / 2, .gate = Gate::fla});
  // GQA ratios.
  c.push_back({.T = 40, .D = 32, .HQ = 4, .H = 1, .gate = Gate::paper});
  c.push_back({.T = 40, .D = 32, .HQ = 4, .H = 2, .gate = Gate::fla});
  c.push_back({.T = 24, .D = 16, .HQ = 8, .H = 2});
  c.push_back({.T = 24, .D = 16, .HQ = 3, .H = 3, .gate = Gate::paper});
  // Batches and varlen (empty and length-1 sequences, a long one).
  c.push_back({.T = 37, .D = 32, .HQ = 2, .H = 2, .B = 3, .gate = Gate::fla});
  c.push_back({.D = 32, .HQ = 2, .H = 1, .gate = Gate::paper, .cu = {0, 1, 2, 3, 4, 5}});
  c.push_back({.D = 32, .HQ = 2, .H = 2, .gate = Gate::fla, .cu = {0, 0, 17, 17, 18, 83, 84}});
  c.push_back({.D = 64, .HQ = 2, .H = 1, .cu = {0, 64, 65, 129}});
  // Decode: from empty, mid, all but one, everything prefilled; gated, GQA, varlen.
  c.push_back({.T = 40, .D = 32, .HQ = 2, .H = 1, .gate = Gate::paper, .decode = true, .prefill = 0});
  c.push_back({.T = 40, .D = 64, .HQ = 4, .H = 2, .gate = Gate::fla, .decode = true, .prefill = 20});
  c.push_back({.T = 40, .D = 16, .decode = true, .prefill = 39});
  c.push_back({.T = 40, .D = 128, .gate = Gate::paper, .decode = true, .prefill = 40});
  c.push_back({.D = 32, .HQ = 2, .H = 2, .gate = Gate::fla, .decode = true, .prefill = 3, .cu = {0, 1, 1, 9, 30}});
  c.push_back({.T = 33, .D = 32, .gate = Gate::paper, .dist = "beta_near_two", .decode = true, .prefill = 16});
  // Longer sequences.
  c.push_back({.T = 257, .D = 64, .HQ = 2, .H = 1, .gate = Gate::paper});
  c.push_back({.T = 200, .D = 128, .gate = Gate::fla, .dist = "large_logits", .grad = false});
  return c;
}

std::vector<Make> full_cases() {
  std::vector<Make> c = standard_cases();
  const Gate gates[] = {Gate::none, Gate::paper, Gate::fla};
  std::size_t n = 0;
  // Every distribution at a longer length and the widest head dim.
  for (const char* dist : {"standard", "beta_near_zero", "beta_near_two", "colinear_w", "zero_w", "large_logits",
                           "gate_near_zero", "gate_strong_negative"})
    for (Gate g : {Gate::paper, Gate::fla}) c.push_back({.T = 191, .D = 128, .HQ = 2, .H = 1, .gate = g, .dist = dist});
  // Long sequences, several heads.
  for (index_t T : {255, 256, 511, 512, 513, 1024}) {
    c.push_back({.T = T, .D = 64, .HQ = 4, .H = 2, .gate = gates[n % 3], .grad = T <= 512});
    ++n;
  }
  c.push_back({.T = 2048, .D = 64, .gate = Gate::paper, .grad = false});
  c.push_back({.T = 1024, .D = 128, .gate = Gate::fla, .grad = true});
  c.push_back({.D = 64, .HQ = 4, .H = 1, .gate = Gate::fla, .cu = {0, 1, 1, 300, 301, 557, 1024}});
  c.push_back({.T = 600, .D = 64, .HQ = 4, .H = 2, .gate = Gate::paper, .decode = true, .prefill = 300});
  c.push_back({.T = 1024, .D = 128, .HQ = 2, .H = 1, .gate = Gate::fla, .decode = true, .prefill = 1000});
  return c;
}

// ---- values ----------------------------------------------------------------------------------

// log sigmoid(x) = -log(1 + e^-x), from portable operations (path/core/random.hpp) so that the
// drawn gates are the same bits on every standard library.
double log_sigmoid(double x) {
  using random::portable_exp, random::portable_log;
  return x >= 0 ? -portable_log(1 + portable_exp(-x)) : x - portable_log(1 + portable_exp(x));
}

void unit(double* x, index_t n) {
  double n2 = 0;
  for (index_t i = 0; i < n; ++i) n2 += x[i] * x[i];
  const double norm = std::sqrt(n2);
  if (norm > 0)
    for (index_t i = 0; i < n; ++i) x[i] /= norm;
}

}  // namespace

std::vector<std::string> suite_names() { return {"quick", "standard", "full"}; }

std::vector<std::string> distribution_names() {
  return {"standard", "beta_near_zero", "beta_near_two", "colinear_w", "zero_w", "large_logits",
          "gate_near_zero", "gate_strong_negative"};
}

bool is_suite_name(std::string_view s) { return s == "quick" || s == "standard" || s == "full"; }

std::vector<CaseSpec> suite_specs(std::string_view suite, io::DType dtype) {
  std::vector<Make> makes;
  std::string prefix;
  if (suite == "quick") makes = quick_cases(), prefix = "q";
  else if (suite == "standard") makes = standard_cases(), prefix = "s";
  else if (suite == "full") makes = full_cases(), prefix = "f";
  else throw std::invalid_argument("unknown suite '" + std::string(suite) + "' (expected quick, standard or full)");
  std::vector<CaseSpec> specs;
  for (std::size_t i = 0; i < makes.size(); ++i) specs.push_back(spec_of(makes[i], dtype, prefix, i));
  return specs;
}

std::vector<CaseSpec> filter_specs(std::vector<CaseSpec> specs, std::string_view filter) {
  std::vector<std::string> parts;
  for (std::size_t begin = 0; begin <= filter.size();) {
    const std::size_t end = std::min(filter.find(',', begin), filter.size());
    if (end > begin) parts.emplace_back(filter.substr(begin, end - begin));
    begin = end + 1;
  }
  std::erase_if(specs, [&](const CaseSpec& s) {
    for (const std::string& p : parts)
      if (s.name.find(p) != std::string::npos) return false;
    return true;
  });
  return specs;
}

std::uint64_t case_seed(std::uint64_t suite_seed, std::string_view name) { return random::derive_seed(suite_seed, name); }

std::uint64_t random_seed() {
  std::random_device rd;
  return ((static_cast<std::uint64_t>(rd()) << 32) ^ rd()) & ((std::uint64_t{1} << 53) - 1);
}

CaseInput draw_inputs(const CaseSpec& spec, std::uint64_t seed) {
  const std::vector<std::string> dists = distribution_names();
  if (std::find(dists.begin(), dists.end(), spec.distribution) == dists.end())
    throw std::invalid_argument("unknown distribution '" + spec.distribution + "'");
  // Portable draws (path/core/random.hpp): a seed gives the same suite on every standard library.
  random::Rng rng(seed);
  const auto normal = [](random::Rng& r) { return random::normal(r); };
  const auto uniform = [](random::Rng& r) { return random::uniform01(r); };
  const Shape& s = spec.shape;
  const std::string& dist = spec.distribution;
  CaseInput in;
  in.spec = spec;
  Problem<double>& p = in.problem;
  p.shape = s;
  p.gate_convention = spec.gate_convention;
  p.cu_seqlens = spec.cu_seqlens;
  p.scale = round_to(1.0 / std::sqrt(static_cast<double>(s.D)), io::DType::F32);
  const double qk_sigma = dist == "large_logits" ? 4.0 : 1.0;
  p.q.resize(s.q_size());
  p.k.resize(s.k_size());
  p.v.resize(s.v_size());
  p.w.resize(s.k_size());
  p.beta.resize(s.beta_size());
  for (double& x : p.q) x = qk_sigma * normal(rng);
  for (double& x : p.k) x = qk_sigma * normal(rng);
  for (double& x : p.v) x = normal(rng);
  // w: one unit row per (token, kv head).
  std::vector<double> base(static_cast<std::size_t>(s.H * s.D));
  for (double& x : base) x = normal(rng);
  for (index_t h = 0; h < s.H; ++h) unit(&base[static_cast<std::size_t>(h * s.D)], s.D);
  for (std::size_t row = 0; row < p.beta.size(); ++row) {
    double* w = &p.w[row * static_cast<std::size_t>(s.D)];
    const index_t h = static_cast<index_t>(row % static_cast<std::size_t>(s.H));
    const std::size_t t = row / static_cast<std::size_t>(s.H);
    for (index_t d = 0; d < s.D; ++d) w[d] = normal(rng);
    if (dist == "colinear_w")
      for (index_t d = 0; d < s.D; ++d) w[d] = base[static_cast<std::size_t>(h * s.D + d)] + 1e-3 * w[d];
    unit(w, s.D);
    if (dist == "zero_w" && t % 2 == 0) std::fill(w, w + s.D, 0.0);
    double b = 2.0 * uniform(rng);
    if (dist == "beta_near_zero") b = t % 4 == 0 ? 0.0 : 1e-3 * uniform(rng);
    if (dist == "beta_near_two") b = t % 4 == 0 ? 2.0 : 2.0 - 1e-3 * uniform(rng);
    p.beta[row] = b;
  }
  if (spec.gated) {
    p.g.resize(s.g_size());
    for (std::size_t i = 0; i < p.g.size(); ++i) {
      const std::size_t t = i / static_cast<std::size_t>(s.HQ);
      double g = log_sigmoid(normal(rng) + 2.0);
      if (dist == "gate_near_zero") g = t % 4 == 0 ? 0.0 : -1e-3 * uniform(rng);
      if (dist == "gate_strong_negative") g = -5.0 - 15.0 * uniform(rng);
      p.g[i] = g;
    }
  }
  if (spec.gradients) {
    in.dO.resize(s.o_size());
    for (double& x : in.dO) x = normal(rng);
  }
  for (auto* t : {&p.q, &p.k, &p.v, &in.dO})
    for (double& x : *t) x = round_to(x, spec.dtype);
  for (auto* t : {&p.w, &p.beta, &p.g})
    for (double& x : *t) x = round_to(x, io::DType::F32);
  validate(p);
  return in;
}

Case build_case_from_inputs(CaseInput input, const BuildOptions& options, std::uint64_t seed) {
  Case c;
  c.input = std::move(input);
  const CaseSpec& spec = c.input.spec;
  const OutputValues expected = oracle_outputs(c.input, options.oracle);
  for (const std::string& name : output_names(spec)) {
    const std::vector<double>& e = expected.at(name);
    for (double x : e)
      if (!std::isfinite(x)) throw std::runtime_error("case " + spec.name + ": the oracle's " + name + " is not finite");
    c.expected[name] = e;
  }
  derive_tolerances(c, options.tolerance);  // docs/tolerance.md
  c.provenance["suite"] = options.suite;
  c.provenance["seed"] = std::to_string(options.suite_seed);
  c.provenance["case_seed"] = std::to_string(seed);
  c.provenance["oracle"] = "blockwise";
  c.provenance["oracle_block"] = std::to_string(options.oracle.block);
  c.provenance["oracle_precision"] = "mp100";
  c.provenance["oracle_description"] = oracle_description(options.oracle);
  c.provenance["generator"] = "pathcheck gen (format " + std::to_string(kCaseFormatVersion) + ")";
  return c;
}

void derive_tolerances(Case& c, const ToleranceModel& model) {
  c.tolerances = case_tolerances(c.input, c.expected, model);
  c.provenance["baseline"] = baseline_description(c.spec());
  c.provenance["tolerance_model"] = tolerance_model_description();
}

Case build_case(const CaseSpec& spec, const BuildOptions& options) {
  const std::uint64_t seed = case_seed(options.suite_seed, spec.name);
  return build_case_from_inputs(draw_inputs(spec, seed), options, seed);
}

void build_cases(const std::vector<CaseSpec>& specs, const BuildOptions& options, unsigned jobs,
                 const std::function<void(std::size_t, Case&&)>& on_done) {
  // Largest first, so the long cases do not end up alone at the end.
  std::vector<std::size_t> order(specs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return estimated_cost(specs[a]) > estimated_cost(specs[b]); });
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::exception_ptr error;
  auto worker = [&] {
    while (!stop) {
      const std::size_t n = next++;
      if (n >= order.size()) return;
      try {
        Case c = build_case(specs[order[n]], options);
        std::lock_guard<std::mutex> lock(mutex);
        if (!stop) on_done(order[n], std::move(c));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        stop = true;
      }
    }
  };
  const unsigned n_threads = std::max(1u, std::min<unsigned>(jobs, static_cast<unsigned>(specs.size())));
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < n_threads; ++t) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

double estimated_cost(const CaseSpec& spec) {
  const Shape& s = spec.shape;
  double cost = 0;
  for (const SequenceRange& seq : sequences_of(s, spec.cu_seqlens)) {
    const double L = static_cast<double>(seq.length);
    cost += static_cast<double>(s.HQ) * (L * L * static_cast<double>(s.D + s.Dv) + 64.0 * L * static_cast<double>(s.D));
  }
  if (spec.gradients) cost *= 4;
  return cost + 1e4;
}

}  // namespace path::conformance
