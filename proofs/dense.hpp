// Minimal dense vectors and matrices over any exact scalar (row-major, no aliasing tricks).
//
// The constructions are tiny (head dimension <= 6, residual width <= 21), so clarity beats
// speed here; zero entries are skipped so that the sparse construction weights cost little.
#pragma once

#include <cassert>
#include <cstddef>
#include <vector>

#include "scalar.hpp"

namespace proofs {

template <class S>
using Vec = std::vector<S>;

template <class S>
struct Mat {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<S> data;

  Mat() = default;
  Mat(std::size_t r, std::size_t c) : rows(r), cols(c), data(r * c, S(0)) {}
  S& operator()(std::size_t r, std::size_t c) { return data[r * cols + c]; }
  const S& operator()(std::size_t r, std::size_t c) const { return data[r * cols + c]; }
};

template <class S>
S dot(const Vec<S>& a, const Vec<S>& b) {
  assert(a.size() == b.size());
  S acc(0);
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!is_zero(a[i]) && !is_zero(b[i])) acc += a[i] * b[i];
  return acc;
}

template <class S>
Vec<S> matvec(const Mat<S>& m, const Vec<S>& x) {
  assert(m.cols == x.size());
  Vec<S> y(m.rows, S(0));
  for (std::size_t r = 0; r < m.rows; ++r)
    for (std::size_t c = 0; c < m.cols; ++c)
      if (!is_zero(m(r, c)) && !is_zero(x[c])) y[r] += m(r, c) * x[c];
  return y;
}

template <class S>
bool all_zero(const Vec<S>& v) {
  for (const S& x : v)
    if (!is_zero(x)) return false;
  return true;
}

template <class S>
Vec<S> unit(std::size_t dim, std::size_t i, S scale = S(1)) {
  Vec<S> v(dim, S(0));
  v[i] = scale;
  return v;
}

}  // namespace proofs
