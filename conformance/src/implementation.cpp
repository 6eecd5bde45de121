// The helpers every implementation under test shares: poisoned outputs, rounded stores.
#include "path/conformance/implementation.hpp"

#include <limits>
#include <stdexcept>

#include "path/core/rounding.hpp"

namespace path::conformance {

Outputs poisoned_outputs(const CaseSpec& spec) {
  Outputs out;
  for (const std::string& name : output_names(spec)) {
    Tensor t;
    t.dtype = output_dtype(spec, name);
    t.shape = output_shape(spec, name);
    t.values.assign(t.numel(), std::numeric_limits<double>::quiet_NaN());
    out[name] = std::move(t);
  }
  return out;
}

void store_rounded(Tensor& out, const std::vector<double>& values) {
  if (values.size() != out.values.size())
    throw std::invalid_argument("store_rounded: " + std::to_string(values.size()) + " values for a tensor of " +
                                std::to_string(out.values.size()) + " elements");
  for (std::size_t i = 0; i < values.size(); ++i) out.values[i] = round_to(values[i], out.dtype);
}

}  // namespace path::conformance
