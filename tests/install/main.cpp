// Built against an installed pathcheck (find_package): a third party's adapter judged by the
// installed judge. The wrong adapter (every output = 1) must fail, the CPU oracle must pass.
#include <iostream>
#include <string>

#include "path/adapters/cpu_oracle.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/runner.hpp"
#include "path/conformance/suite.hpp"

namespace {

class AllOnes : public path::conformance::Implementation {
 public:
  std::string name() const override { return "all-ones"; }
  void run(const path::conformance::CaseInput&, path::conformance::Outputs& outputs) override {
    for (auto& [name, t] : outputs)
      for (double& x : t.values) x = 1;
  }
};

}  // namespace

int main() {
  namespace pc = path::conformance;
  pc::CaseSpec spec = pc::suite_specs("quick", path::DType::F32).front();
  pc::BuildOptions options;
  options.suite_seed = 1;
  const pc::Case c = pc::build_case(spec, options);
  AllOnes wrong;
  path::adapters::CpuOracleImplementation right("cpu-blockwise", {path::Algorithm::blockwise, 16});
  const pc::CaseVerdict bad = pc::run_case(wrong, c, {}), good = pc::run_case(right, c, {});
  std::cout << "all-ones: " << pc::to_string(bad.verdict) << ", cpu-blockwise: " << pc::to_string(good.verdict) << "\n";
  return bad.verdict == pc::Verdict::fail && good.verdict == pc::Verdict::pass ? 0 : 1;
}
