// The forward error bound of the floating-point oracles for ANY w and beta (docs/proofs.md §8),
// per (query i, key j) pair, to first order in the unit roundoff u. It extends docs/error-model.md
// (||w|| = 1, beta in [0, 2]) by the growth of the products of H:
//
//   ||H_t|| = max(1, |1 - beta_t ||w_t||^2|)                 (spectral norm: eigenvalues 1 and 1 - beta||w||^2)
//   c_t     = (D + 2) |beta_t| ||w_t||^2 + ||H_t||            (one naive step: ||fl(H x) - H x|| <= c_t u ||x||)
//   Gamma_ij = prod_{t=j+1..i} ||H_t||
//   naive:     |r^_ij - r_ij| <= u ||k_j|| ||q_i|| Gamma_ij (D + sum_{t=j+1..i} c_t / ||H_t||)
//
// For the blockwise oracle (and the masked UT form) the block's triangular factor enters through
// its magnitude, not only through ||P||: per block p of size b, with N = |Dg| strictUpper(|W||W|^T),
// X = T^{-1}, E_A = ((b + D + 2) |X| N |X| + |X|) |Dg| (first-order error of A, in units of u):
//   c_p = (D + 2b) || |W|^T |A| |W| ||_F + || |W|^T E_A |W| ||_F + g_p,   g_p = prod_{t in p} ||H_t||
//   blockwise: |r^_ij - r_ij| <= u ||k_j|| ||q_i|| (prod_{p=m..n} g_p) (D + sum_{p=m..n} c_p / g_p)
// with m, n the blocks of j and i. That one is a model (first order, Higham's componentwise bound
// for the triangular inverse); the naive one is a proof (first order).
//
// Final logits (G_i - G_j from prefix sums S_i = sum_{t<=i} |g_t|):
//   dG = u ((i + j) S_i + |G_i - G_j|)
//   paper: ds <= |scale| dr + u |scale r| + dG + u |s|;   fla: ds <= |scale| (dr + dG + u |r + G_i - G_j|) + u |s|
// Softmax (row i, n = i + 1 keys, N tiles of the online softmax, 0 for the two-pass one):
//   rho = max_j (ds_ij + u |s_ij - m_i|) + 2u + N (3u + u max_j |s_ij - m_i|)
//   |o^ - o|_max <= max|v| (expm1(2 rho) + (2n + 2N + 1) u)
//   |lse^ - lse| <= rho + (n + N) u + u log(n) + u |lse|
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "path/head_slice.hpp"

namespace path::error_model::general {

using path::index_t;
using Md = path::Mat<double>;
using Vd = path::Vec<double>;

struct Options {
  bool drop_growth = false;  // planted: pretend every ||H_t|| is 1 (the bound of the unit regime)
};

inline double h_norm(double beta, double w2, const Options& o) {
  return o.drop_growth ? 1.0 : std::max(1.0, std::abs(1.0 - beta * w2));
}

// Per-pair raw-logit bounds [i, j] (j <= i) of the naive sweep, in units of nothing (absolute).
inline Md naive_raw(const path::HeadSlice<double>& h, double u, const Options& o = {}) {
  const index_t L = h.length(), D = h.q.cols();
  std::vector<long double> log_g(static_cast<std::size_t>(L + 1), 0), sum_c(static_cast<std::size_t>(L + 1), 0);
  for (index_t t = 0; t < L; ++t) {
    const double w2 = h.w.row(t).squaredNorm(), hn = h_norm(h.beta(t), w2, o);
    const double c = (D + 2) * std::abs(h.beta(t)) * w2 + hn;
    log_g[static_cast<std::size_t>(t + 1)] = log_g[static_cast<std::size_t>(t)] + std::log(static_cast<long double>(hn));
    sum_c[static_cast<std::size_t>(t + 1)] = sum_c[static_cast<std::size_t>(t)] + c / hn;
  }
  Md b = Md::Zero(L, L);
  for (index_t i = 0; i < L; ++i)
    for (index_t j = 0; j <= i; ++j) {
      const long double growth = std::exp(log_g[static_cast<std::size_t>(i + 1)] - log_g[static_cast<std::size_t>(j + 1)]);
      const long double steps = sum_c[static_cast<std::size_t>(i + 1)] - sum_c[static_cast<std::size_t>(j + 1)];
      b(i, j) = static_cast<double>(u * h.k.row(j).norm() * h.q.row(i).norm() * growth * (D + steps));
    }
  return b;
}

// Per-pair raw-logit bounds of the blockwise algorithm with block size B (the model above).
inline Md blockwise_raw(const path::HeadSlice<double>& h, index_t B, double u, const Options& o = {}) {
  const index_t L = h.length(), D = h.q.cols();
  const index_t blocks = (L + B - 1) / B;
  std::vector<long double> log_g(static_cast<std::size_t>(blocks), 0), c_over_g(static_cast<std::size_t>(blocks), 0);
  for (index_t p = 0; p < blocks; ++p) {
    const index_t s = p * B, b = std::min(B, L - s);
    const Md W = h.w.middleRows(s, b).cwiseAbs();
    const Md gram = W * W.transpose();
    // The exact factor's magnitude is what matters; the computed one is as good to first order.
    Md X = Md::Zero(b, b), N = Md::Zero(b, b);
    const Md g = h.w.middleRows(s, b) * h.w.middleRows(s, b).transpose();
    for (index_t a = b - 1; a >= 0; --a) {
      X(a, a) = 1;
      for (index_t c = a + 1; c < b; ++c) {
        N(a, c) = std::abs(h.beta(s + a)) * gram(a, c);
        double acc = 0;
        for (index_t d = a + 1; d <= c; ++d) acc += g(a, d) * X(d, c);
        X(a, c) = -h.beta(s + a) * acc;
      }
    }
    Md Xa = X.cwiseAbs();
    Md absA = Xa, EA = (b + D + 2) * Xa * N * Xa + Xa;
    for (index_t c = 0; c < b; ++c) {
      absA.col(c) *= std::abs(h.beta(s + c));
      EA.col(c) *= std::abs(h.beta(s + c));
    }
    double lg = 0;
    for (index_t t = s; t < s + b; ++t) lg += std::log(h_norm(h.beta(t), h.w.row(t).squaredNorm(), o));
    const double gp = std::exp(lg);
    const double cp = (D + 2 * b) * (W.transpose() * absA * W).norm() + (W.transpose() * EA * W).norm() + gp;
    log_g[static_cast<std::size_t>(p)] = lg;
    c_over_g[static_cast<std::size_t>(p)] = cp / gp;
  }
  Md out = Md::Zero(L, L);
  for (index_t i = 0; i < L; ++i)
    for (index_t j = 0; j <= i; ++j) {
      const index_t n = i / B, m = j / B;
      long double lg = 0, steps = 0;
      for (index_t p = m; p <= n; ++p) {
        lg += log_g[static_cast<std::size_t>(p)];
        steps += c_over_g[static_cast<std::size_t>(p)];
      }
      out(i, j) = static_cast<double>(u * h.k.row(j).norm() * h.q.row(i).norm() * std::exp(lg) * (D + steps));
    }
  return out;
}

// Final-logit bounds from raw-logit bounds dr; r and s are (accurate) values of the raw and final
// logits, used for the magnitudes of the rounding terms.
inline Md final_logits(const path::HeadSlice<double>& h, const Md& dr, const Md& r, const Md& s, double u) {
  const index_t L = h.length();
  const Vd G = path::cumulative_gate(h);
  Vd S = Vd::Zero(L);
  double acc = 0;
  for (index_t t = 0; t < L; ++t) {
    if (h.has_gate()) acc += std::abs(h.g(t));
    S(t) = acc;
  }
  const double scale = std::abs(h.scale);
  Md out = Md::Zero(L, L);
  for (index_t i = 0; i < L; ++i)
    for (index_t j = 0; j <= i; ++j) {
      const double gd = G(i) - G(j);
      const double dG = h.has_gate() ? u * ((i + j) * S(i) + std::abs(gd)) : 0.0;
      if (h.gate_convention == path::GateConvention::paper)
        out(i, j) = scale * dr(i, j) + u * scale * std::abs(r(i, j)) + dG + u * std::abs(s(i, j));
      else
        out(i, j) = scale * (dr(i, j) + dG + u * std::abs(r(i, j) + gd)) + u * std::abs(s(i, j));
    }
  return out;
}

struct SoftmaxBound {
  Vd o, lse;  // per row: bound on max_d |o^_id - o_id| and on |lse^_i - lse_i|
};

// tiles_per_row(i) = N of the online softmax (0 for the two-pass softmax of the naive oracle).
template <class Tiles>
SoftmaxBound softmax(const Md& ds, const Md& s, const Vd& lse, double max_v, double u, Tiles tiles_per_row) {
  const index_t L = s.rows();
  SoftmaxBound b{Vd::Zero(L), Vd::Zero(L)};
  for (index_t i = 0; i < L; ++i) {
    double m = s(i, 0);
    for (index_t j = 1; j <= i; ++j) m = std::max(m, s(i, j));
    double rho = 0, spread = 0;
    for (index_t j = 0; j <= i; ++j) {
      rho = std::max(rho, ds(i, j) + u * std::abs(s(i, j) - m));
      spread = std::max(spread, std::abs(s(i, j) - m));
    }
    const double n = static_cast<double>(i + 1), N = static_cast<double>(tiles_per_row(i));
    rho += 2 * u + N * (3 * u + u * spread);
    b.o(i) = max_v * (std::expm1(2 * rho) + (2 * n + 2 * N + 1) * u);
    b.lse(i) = rho + (n + N) * u + u * std::log(n) + u * std::abs(lse(i));
  }
  return b;
}

}  // namespace path::error_model::general
