#pragma once
// Dense matrix and vector types on a templated scalar (Eigen, row-major so that a token's vector
// is one contiguous row, as in the [T, dim] layout of the inputs).
#include <Eigen/Dense>
#include <cstdint>

#include "path/scalar.hpp"

namespace path {

using index_t = std::int64_t;

template <class S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class S>
using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;

template <class S>
Mat<S> zeros(Eigen::Index rows, Eigen::Index cols) {
  return Mat<S>::Constant(rows, cols, S(0));
}

}  // namespace path
