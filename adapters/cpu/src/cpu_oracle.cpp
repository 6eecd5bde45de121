#include "path/adapters/cpu_oracle.hpp"

#include <memory>

#include "path/backward.hpp"
#include "path/decode.hpp"

namespace path::adapters {

using conformance::CaseInput;
using conformance::Mode;
using conformance::Outputs;

CpuOracleImplementation::CpuOracleImplementation(std::string name, ForwardOptions options)
    : name_(std::move(name)), options_(options) {}

std::string CpuOracleImplementation::description() const {
  std::string d = "CPU " + std::string(path::to_string(options_.algorithm));
  if (options_.algorithm == Algorithm::blockwise) d += " (block " + std::to_string(options_.block_size) + ")";
  return d + " in double on the rounded inputs, outputs rounded to their dtypes; backward: closed form; "
             "decode: prefill-to-cache + decode steps";
}

void CpuOracleImplementation::run(const CaseInput& input, Outputs& outputs) {
  const conformance::CaseSpec& spec = input.spec;
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
    if (it != r.end()) conformance::store_rounded(tensor, it->second);
  }
}

void register_cpu_implementations(conformance::Registry& registry) {
  const ForwardOptions blockwise{Algorithm::blockwise, 16}, naive{Algorithm::naive, 1};
  registry.add("cpu-blockwise", CpuOracleImplementation("cpu-blockwise", blockwise).description(),
               [=] { return std::make_unique<CpuOracleImplementation>("cpu-blockwise", blockwise); });
  registry.add("cpu-naive", CpuOracleImplementation("cpu-naive", naive).description(),
               [=] { return std::make_unique<CpuOracleImplementation>("cpu-naive", naive); });
}

}  // namespace path::adapters
