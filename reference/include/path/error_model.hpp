#pragma once
// The forward error model of docs/error-model.md (unit regime: ||w|| = 1, beta in [0, 2]); the
// tests, the GPU oracle check and the conformance docs use it. path/error_model_general.hpp has
// the bound for any w and beta (docs/proofs.md §8).
// For ||w_t|| = 1 and beta_t in [0, 2] (every H_t a contraction), the naive products in a floating
// type with unit roundoff u give, to first order,
//   |r^ - r| <= (T (2D + 5) + D) u ||k||max ||q||max                 (raw logits, §2)
//   delta    := scale * that + 2 T u max|G|                           (final logits, §3)
//   |o^ - o| <= (2 delta + (T + 3) u) max|v|,  |lse^ - lse| <= delta + (T + 2) u   (§4)
#include <algorithm>
#include <cmath>

#include "path/problem.hpp"

namespace path::error_model {

struct ForwardBound {
  double logit = 0, o = 0, lse = 0;
};

inline double max_row_norm(const std::vector<double>& x, index_t dim) {
  double worst = 0;
  for (std::size_t r = 0; r * dim < x.size(); ++r) {
    double n2 = 0;
    for (index_t d = 0; d < dim; ++d) n2 += x[r * dim + d] * x[r * dim + d];
    worst = std::max(worst, std::sqrt(n2));
  }
  return worst;
}

inline ForwardBound forward_error_bound(const Problem<double>& p, double u) {
  const Shape& s = p.shape;
  const double T = static_cast<double>(s.T), D = static_cast<double>(s.D);
  double max_gate = 0, max_v = 0;
  for (double g : p.g) max_gate += std::abs(g);  // |G_i| <= sum |g|
  for (double v : p.v) max_v = std::max(max_v, std::abs(v));
  ForwardBound b;
  const double raw = (T * (2 * D + 5) + D) * u * max_row_norm(p.k, s.D) * max_row_norm(p.q, s.D);
  b.logit = std::abs(p.scale) * raw + 2 * T * u * max_gate;
  b.o = (2 * b.logit + (T + 3) * u) * max_v;
  b.lse = b.logit + (T + 2) * u;
  return b;
}

}  // namespace path::error_model
