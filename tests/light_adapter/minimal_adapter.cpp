// A minimal third-party adapter: what an outside kernel author writes against the light
// interface. tests/test_light_interface.cpp compiles it with only core/include and
// conformance/include on the include path and checks that it pulled in nothing but the C++
// standard library and the light headers; tests/install/ builds the same file against an
// installed pathcheck.
#include "path/conformance/implementation.hpp"

#include <cmath>

namespace {

// An "implementation" that fills every output with the inputs' scale (wrong, but complete): enough
// to exercise every type of the interface.
class ScaleEverywhere : public path::conformance::Implementation {
 public:
  std::string name() const override { return "scale-everywhere"; }
  std::string cannot_run(const path::conformance::CaseSpec& spec) const override {
    return spec.mode == path::conformance::Mode::decode ? "no decode" : "";
  }
  void run(const path::conformance::CaseInput& input, path::conformance::Outputs& outputs) override {
    for (auto& [name, tensor] : outputs)
      for (double& x : tensor.values) x = input.problem.scale * std::sqrt(static_cast<double>(input.spec.shape.D));
  }
};

}  // namespace

int minimal_adapter_entry() {
  ScaleEverywhere impl;
  path::conformance::CaseSpec spec;
  spec.dtype = path::DType::F32;
  return impl.cannot_run(spec).empty() ? 0 : 1;
}
