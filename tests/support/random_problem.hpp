#pragma once
// Random problems for the tests. Two value styles:
//  - dyadic: small multiples of 1/8 (exact in double, so the same problem converts exactly to
//    rationals), with the edge cases of the acceptance list mixed in: beta in {0, 2}, w = 0,
//    repeated and near-colinear w;
//  - gaussian: normal entries, w normalized, beta in (0, 2), gates log-sigmoid-like (<= 0).
#include <algorithm>
#include <cmath>
#include <random>

#include "path/core/random.hpp"
#include "path/problem.hpp"

namespace path::testing {

enum class ValueStyle { dyadic, gaussian };

struct ProblemSpec {
  Shape shape;
  bool gate = false;
  GateConvention convention = GateConvention::paper;
  std::vector<index_t> cu_seqlens;
  ValueStyle style = ValueStyle::gaussian;
};

inline double dyadic(path::random::Rng& rng, int max_eighths = 16) {
  return static_cast<int>(path::random::integer(rng, -max_eighths, max_eighths)) / 8.0;
}

namespace detail {

inline void fill_dyadic_w(std::vector<double>& w, std::vector<double>& beta, const Shape& s, path::random::Rng& rng) {
  // Per token and kv head, pick a pattern so that each edge case appears in most problems.
  const index_t D = s.D;
  for (std::size_t row = 0; row < beta.size(); ++row) {
    double* wr = &w[row * static_cast<std::size_t>(D)];
    const int pattern = static_cast<int>(path::random::integer(rng, 0, 9));
    const std::size_t prev = row >= static_cast<std::size_t>(s.H) ? row - static_cast<std::size_t>(s.H) : row;
    for (index_t d = 0; d < D; ++d) wr[d] = dyadic(rng, 8);
    if (pattern == 0) std::fill(wr, wr + D, 0.0);                       // w = 0
    if (pattern == 1 && prev != row)                                     // repeated w
      std::copy(&w[prev * D], &w[prev * D] + D, wr);
    if (pattern == 2 && prev != row) {                                   // near-colinear w
      std::copy(&w[prev * D], &w[prev * D] + D, wr);
      wr[static_cast<int>(path::random::integer(rng, 0, D - 1))] += 1.0 / 64;
    }
    const int b = static_cast<int>(path::random::integer(rng, 0, 5));
    beta[row] = b == 0 ? 0.0 : b == 1 ? 2.0 : static_cast<int>(path::random::integer(rng, 1, 15)) / 8.0;
  }
}

}  // namespace detail

inline Problem<double> random_problem(const ProblemSpec& spec, path::random::Rng& rng) {
  const Shape& s = spec.shape;
  Problem<double> p;
  p.shape = s;
  p.gate_convention = spec.convention;
  p.cu_seqlens = spec.cu_seqlens;
  p.q.resize(s.q_size());
  p.k.resize(s.k_size());
  p.v.resize(s.v_size());
  p.w.resize(s.k_size());
  p.beta.resize(s.beta_size());
  if (spec.gate) p.g.resize(s.g_size());
    if (spec.style == ValueStyle::dyadic) {
    p.scale = 0.5;
    for (auto* t : {&p.q, &p.k, &p.v}) for (double& x : *t) x = dyadic(rng);
    detail::fill_dyadic_w(p.w, p.beta, s, rng);
    for (double& x : p.g) x = -static_cast<int>(path::random::integer(rng, 0, 8)) / 8.0;
    return p;
  }
  p.scale = 1.0 / std::sqrt(static_cast<double>(s.D));
  for (auto* t : {&p.q, &p.k, &p.v}) for (double& x : *t) x = path::random::normal(rng);
  for (std::size_t row = 0; row < p.beta.size(); ++row) {
    double n2 = 0;
    for (index_t d = 0; d < s.D; ++d) n2 += std::pow(p.w[row * s.D + d] = path::random::normal(rng), 2);
    for (index_t d = 0; d < s.D; ++d) p.w[row * s.D + d] /= std::sqrt(n2);
    p.beta[row] = 2.0 * path::random::uniform01(rng);
  }
  // log-sigmoid of a normal: a log forget gate in (-inf, 0)
  for (double& x : p.g) x = -std::log1p(std::exp(-(path::random::normal(rng) + 2.0)));
  return p;
}

}  // namespace path::testing
