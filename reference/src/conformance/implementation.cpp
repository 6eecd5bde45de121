// The registry and the CPU oracles as implementations under test.
#include "path/conformance/implementation.hpp"

#include <limits>
#include <mutex>
#include <stdexcept>

#include "path/backward.hpp"
#include "path/decode.hpp"

namespace path::conformance {

Outputs poisoned_outputs(const CaseSpec& spec) {
  Outputs out;
  for (const std::string& name : output_names(spec)) {
    io::Tensor t;
    t.dtype = output_dtype(spec, name);
    t.shape = output_shape(spec, name);
    t.values.assign(t.numel(), std::numeric_limits<double>::quiet_NaN());
    out[name] = std::move(t);
  }
  return out;
}

void store_rounded(io::Tensor& out, const std::vector<double>& values) {
  if (values.size() != out.values.size())
    throw std::invalid_argument("store_rounded: " + std::to_string(values.size()) + " values for a tensor of " +
                                std::to_string(out.values.size()) + " elements");
  for (std::size_t i = 0; i < values.size(); ++i) out.values[i] = io::round_to_dtype(values[i], out.dtype);
}

// ---- CPU oracles -----------------------------------------------------------------------------

CpuOracleImplementation::CpuOracleImplementation(std::string name, ForwardOptions options)
    : name_(std::move(name)), options_(options) {}

std::string CpuOracleImplementation::description() const {
  std::string d = "CPU " + std::string(path::to_string(options_.algorithm));
  if (options_.algorithm == Algorithm::blockwise) d += " (block " + std::to_string(options_.block_size) + ")";
  return d + " in double on the rounded inputs, outputs rounded to their dtypes; backward: closed form; "
             "decode: prefill-to-cache + decode steps";
}

void CpuOracleImplementation::run(const CaseInput& input, Outputs& outputs) {
  const CaseSpec& spec = input.spec;
  const Problem<double> p = prepare(input);
  std::map<std::string, std::vector<double>> r;
  if (spec.mode == Mode::decode) {
    DecodeOptions opt;
    opt.prefill = spec.prefill_length;
    opt.forward = options_;
    opt.prefill_block = options_.algorithm == Algorithm::blockwise ? options_.block_size : 64;
    DecodeResult<double> d = decode(p, opt);
    r["o"] = std::move(d.o);
    r["lse"] = std::move(d.lse);
    r["k_cache"] = std::move(d.k_cache);
  } else {
    ForwardResult<double> f = forward(p, options_);
    r["o"] = std::move(f.o);
    r["lse"] = std::move(f.lse);
    if (spec.gradients) {
      BackwardResult<double> b = backward(p, prepare_do(input));
      r["dq"] = std::move(b.dq);
      r["dk"] = std::move(b.dk);
      r["dv"] = std::move(b.dv);
      r["dw"] = std::move(b.dw);
      r["dbeta"] = std::move(b.dbeta);
      if (spec.gated) r["dg"] = std::move(b.dg);
    }
  }
  finish(input, r);
  for (auto& [name, tensor] : outputs) {
    const auto it = r.find(name);
    if (it != r.end()) store_rounded(tensor, it->second);
  }
}

// ---- registry --------------------------------------------------------------------------------

namespace {

struct Entry {
  std::string name, description;
  ImplementationFactory factory;
};

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

std::vector<Entry>& registry() {
  static std::vector<Entry> r = [] {
    std::vector<Entry> e;
    e.push_back({"cpu-blockwise", CpuOracleImplementation("cpu-blockwise", {Algorithm::blockwise, 16}).description(),
                 [] { return std::make_unique<CpuOracleImplementation>("cpu-blockwise", ForwardOptions{Algorithm::blockwise, 16}); }});
    e.push_back({"cpu-naive", CpuOracleImplementation("cpu-naive", {Algorithm::naive, 1}).description(),
                 [] { return std::make_unique<CpuOracleImplementation>("cpu-naive", ForwardOptions{Algorithm::naive, 1}); }});
    return e;
  }();
  return r;
}

}  // namespace

void register_implementation(const std::string& name, const std::string& description, ImplementationFactory f) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  for (Entry& e : registry())
    if (e.name == name) {
      e = {name, description, std::move(f)};
      return;
    }
  registry().push_back({name, description, std::move(f)});
}

std::vector<std::pair<std::string, std::string>> registered_implementations() {
  std::lock_guard<std::mutex> lock(registry_mutex());
  std::vector<std::pair<std::string, std::string>> out;
  for (const Entry& e : registry()) out.emplace_back(e.name, e.description);
  return out;
}

std::unique_ptr<Implementation> make_implementation(const std::string& name) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  for (const Entry& e : registry())
    if (e.name == name) return e.factory();
  return nullptr;
}

}  // namespace path::conformance
