#pragma once
// A tensor as the project exchanges it: a dtype, a shape and row-major values held as double
// (every supported dtype converts to double exactly). Files (io/), case inputs and outputs
// (conformance/) and implementations under test use it. Standard library only.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "path/core/dtype.hpp"

namespace path {

struct Tensor {
  DType dtype = DType::F64;      // the dtype as stored in a file (and as it will be written)
  std::vector<int64_t> shape;    // empty shape = scalar with one element
  std::vector<double> values;    // every element converted exactly to double
  // Product of the dims (1 for a scalar). Assumes a valid shape: non-negative dims whose
  // product fits in size_t, which the file reader guarantees and the writer checks.
  std::size_t numel() const {
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    return n;
  }
};

// "[2, 3, 4]": how messages and reports print a shape.
inline std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace path
