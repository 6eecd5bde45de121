#pragma once
// Planted-bug implementations (mutants) for the validator's mutation tests: each is the CPU
// blockwise implementation with one realistic kernel bug, applied through the same
// implementation-under-test interface a real kernel uses. The validator must reject every one.
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "path/adapters/cpu_oracle.hpp"
#include "path/conformance/implementation.hpp"
#include "path/core/rounding.hpp"

namespace path::testing {

using conformance::CaseInput;
using adapters::CpuOracleImplementation;
using conformance::Outputs;

// A mutant made of hooks on the CPU blockwise implementation.
class Mutant : public CpuOracleImplementation {
 public:
  using Prepare = std::function<void(Problem<double>&)>;
  using Finish = std::function<void(const CaseInput&, std::map<std::string, std::vector<double>>&)>;

  Mutant(std::string name, Prepare prepare, Finish finish = {})
      : CpuOracleImplementation("mutant-" + name, ForwardOptions{Algorithm::blockwise, 16}),
        prepare_(std::move(prepare)), finish_(std::move(finish)) {}

 protected:
  Problem<double> prepare(const CaseInput& input) const override {
    Problem<double> p = input.problem;
    if (prepare_) prepare_(p);
    return p;
  }
  void finish(const CaseInput& input, std::map<std::string, std::vector<double>>& r) const override {
    if (finish_) finish_(input, r);
  }

 private:
  Prepare prepare_;
  Finish finish_;
};

// Leaves the last query block (16 rows) of every sequence unwritten in o, lse, dq and dg: the
// poisoned NaN stays there.
class LastQueryBlockUnwritten : public CpuOracleImplementation {
 public:
  LastQueryBlockUnwritten()
      : CpuOracleImplementation("mutant-last-query-block-unwritten", ForwardOptions{Algorithm::blockwise, 16}) {}

  void run(const CaseInput& input, Outputs& outputs) override {
    Outputs full = outputs;
    CpuOracleImplementation::run(input, full);
    const Shape& s = input.spec.shape;
    const index_t block = 16;
    for (auto& [name, tensor] : outputs) {
      const bool per_query = name == "o" || name == "lse" || name == "dq" || name == "dg";
      const std::size_t per_token = tensor.values.size() / static_cast<std::size_t>(s.B * s.T);
      for (std::size_t i = 0; i < tensor.values.size(); ++i) {
        const index_t token = static_cast<index_t>(i / per_token);  // b * T + t
        const index_t b = token / s.T, t = token % s.T;
        bool skip = false;
        if (per_query)
          for (const SequenceRange& seq : sequences_of(s, input.spec.cu_seqlens))
            if (seq.batch == b && t >= seq.begin && t < seq.begin + seq.length && seq.length > 0)
              skip = t - seq.begin >= ((seq.length - 1) / block) * block;
        if (!skip) tensor.values[i] = full.at(name).values[i];
      }
    }
  }
};

inline std::vector<std::unique_ptr<conformance::Implementation>> all_mutants() {
  std::vector<std::unique_ptr<conformance::Implementation>> m;
  auto add = [&](std::string name, Mutant::Prepare p, Mutant::Finish f = {}) {
    m.push_back(std::make_unique<Mutant>(std::move(name), std::move(p), std::move(f)));
  };
  // H = I: the position encoding dropped.
  add("no-position-encoding", [](Problem<double>& p) { std::fill(p.beta.begin(), p.beta.end(), 0.0); });
  // H_j included: k_j^T H_j H_{j+1} ... H_i q_i, i.e. every key transformed by its own H_j.
  add("householder-range-off-by-one", [](Problem<double>& p) {
    const Shape& s = p.shape;
    for (std::size_t row = 0; row < p.beta.size(); ++row) {
      double* k = &p.k[row * static_cast<std::size_t>(s.D)];
      const double* w = &p.w[row * static_cast<std::size_t>(s.D)];
      double dot = 0;
      for (index_t d = 0; d < s.D; ++d) dot += w[d] * k[d];
      for (index_t d = 0; d < s.D; ++d) k[d] -= p.beta[row] * dot * w[d];
    }
  });
  // beta applied twice: H = I - beta^2 w w^T.
  add("beta-applied-twice", [](Problem<double>& p) { for (double& b : p.beta) b *= b; });
  // w rounded to bf16 (a kernel that loads w in the input type).
  add("w-rounded-to-bf16", [](Problem<double>& p) { for (double& x : p.w) x = round_to(x, io::DType::BF16); });
  // The other gate convention.
  add("wrong-gate-convention", [](Problem<double>& p) {
    p.gate_convention = p.gate_convention == GateConvention::paper ? GateConvention::fla : GateConvention::paper;
  });
  // g negated.
  add("gate-sign-flipped", [](Problem<double>& p) { for (double& g : p.g) g = -g; });
  // lse in log2 (a kernel that keeps exp2-domain statistics and forgets to convert).
  add("lse-in-log2", {}, [](const CaseInput&, std::map<std::string, std::vector<double>>& r) {
    for (double& x : r.at("lse")) x /= std::log(2.0);
  });
  // Query head h' reads kv head (h'/G + 1) mod H.
  add("gqa-head-mapping-rotated", [](Problem<double>& p) {
    const Shape& s = p.shape;
    auto rotate = [&](std::vector<double>& x, index_t dim) {
      const std::vector<double> old = x;
      for (index_t bt = 0; bt < s.B * s.T; ++bt)
        for (index_t h = 0; h < s.H; ++h)
          for (index_t d = 0; d < dim; ++d)
            x[static_cast<std::size_t>((bt * s.H + h) * dim + d)] =
                old[static_cast<std::size_t>((bt * s.H + (h + 1) % s.H) * dim + d)];
    };
    rotate(p.k, s.D);
    rotate(p.w, s.D);
    rotate(p.v, s.Dv);
    rotate(p.beta, 1);
  });
  // cu_seqlens ignored: the packed batch is one sequence.
  add("varlen-boundary-ignored", [](Problem<double>& p) { p.cu_seqlens.clear(); });
  m.push_back(std::make_unique<LastQueryBlockUnwritten>());
  // Every output uniformly 1% off (issue 12 item 3: model 1 passed it in bf16 with ratio 2.0).
  add("everything-scaled-1.01", {}, [](const CaseInput&, std::map<std::string, std::vector<double>>& r) {
    for (auto& [name, x] : r)
      for (double& v : x) v *= 1.01;
  });
  // dv of the last key of every sequence counted twice (a boundary bug: the last key block
  // accumulated twice): confined to rows of small magnitude, since few queries attend a late key.
  add("dv-last-key-doubled", {}, [](const CaseInput& in, std::map<std::string, std::vector<double>>& r) {
    const auto it = r.find("dv");
    if (it == r.end()) return;
    const Shape& s = in.spec.shape;
    for (const SequenceRange& seq : sequences_of(s, in.spec.cu_seqlens)) {
      if (seq.length < 2) continue;
      for (index_t h = 0; h < s.H; ++h)
        for (index_t d = 0; d < s.Dv; ++d)
          it->second[static_cast<std::size_t>(flat_index(seq.batch, seq.begin + seq.length - 1, h, d, s.T, s.H, s.Dv))] *= 2;
    }
  });
  // The gradient of one input scaled by 1.01.
  for (const char* g : {"dq", "dk", "dv", "dw", "dbeta", "dg"}) {
    const std::string name = g;
    add(std::string(g) + "-scaled-1.01", {}, [name](const CaseInput&, std::map<std::string, std::vector<double>>& r) {
      const auto it = r.find(name);
      if (it != r.end())
        for (double& x : it->second) x *= 1.01;
    });
  }
  return m;
}

}  // namespace path::testing

// ---- Mutants a small fixed suite misses (issue 13: property-based fuzzing) -------------------
// Kept apart from all_mutants(): the validator's fixed mutation suite (tests/test_mutants.cpp,
// T <= 40, beta ~ U(0, 2)) is not expected to see them; finding them is what pathcheck fuzz is
// for (tests/test_fuzz_mutants.cpp). Each is wrong only in a corner of the input space.
namespace path::testing {

inline std::vector<std::unique_ptr<conformance::Implementation>> corner_mutants() {
  std::vector<std::unique_ptr<conformance::Implementation>> m;
  // Wrong only for sequences longer than 64 tokens: a kernel whose 64-token key tiles drop the
  // Householder factor at a tile boundary (H_64 treated as I). Position 64 of a sequence exists
  // only when its length is at least 65, so every case of T <= 64 is right.
  m.push_back(std::make_unique<Mutant>("tile-boundary-64-drops-householder", [](Problem<double>& p) {
    const Shape& s = p.shape;
    for (const SequenceRange& seq : sequences_of(s, p.cu_seqlens))
      if (seq.length > 64)
        for (index_t h = 0; h < s.H; ++h)
          p.beta[static_cast<std::size_t>((seq.batch * s.T + seq.begin + 64) * s.H + h)] = 0.0;
  }));
  // Wrong only for beta > 1.9: a kernel that clamps beta "for stability" and so loses the
  // reflections (beta = 2) PaTH layers produce; beta <= 1.9 is untouched.
  m.push_back(std::make_unique<Mutant>("beta-clamped-to-1.9", [](Problem<double>& p) {
    for (double& b : p.beta) b = b > 1.9 ? 1.9 : b;
  }));
  return m;
}

}  // namespace path::testing
