#pragma once
// The first-order error bound the fp64 GPU oracle's backward is checked under (oracle against oracle:
// tests/test_gpu_backward_decode.cpp and tests/test_gpu_kernel_host.cpp compare it with the CPU
// closed form and with mp100). Derived below from the forward error model of docs/error-model.md
// (path/error_model.hpp), the way that model is derived: worst cases added, first order in u.
// Header-only, no CUDA.
#include <cmath>
#include <vector>

#include "path/error_model.hpp"
#include "path/problem.hpp"

namespace path::gpu {

// A first-order bound for the backward of docs/backward.md evaluated in a floating type of unit
// roundoff u, per gradient (max absolute error over its elements).
//
// The regime of the forward model (||w_t|| = 1, beta_t in [0, 2]: every product of H's is a
// contraction; tests/support/random_problem.hpp's gaussian problems). With K, Q, V, O the largest
// row norms of k, q, v and dO, L = T, and error_model::forward_error_bound's logit bound delta and o
// bound e_o (per element; sqrt(Dv) e_o in norm), to first order in u:
//   P_ij = exp(s_ij - lse_i): s errs by delta, lse by delta + (L+2) u, exp by u, so P errs by at most
//     P eps_P with eps_P = 2 delta + (L+3) u;
//   dP_ij = dO_i.v_j errs by Dv u O V; Delta_i = dO_i.o_i by Dv u O V + O sqrt(Dv) e_o; |dP - Delta| <= 2 O V
//     (o_i is a convex combination of the v_j), so dS_ij = P_ij (dP_ij - Delta_i) errs by P_ij E_S with
//     E_S = 2 O V (eps_P + u) + 2 Dv u O V + O sqrt(Dv) e_o;
//   a vector carried through at most L transformations (a, b, c of docs/backward.md) errs, relative
//     to its norm bound, by chain = (L (2D+5) + D) u (the forward model's chain);
//   sum_j P_ij = 1 and sum_i P_ij <= L, so sum_j |dr_ij| <= 2 |scale| O V and sum_i |dr_ij| <= 2 |scale| O V L.
// Then, each sum adding at most L u of its absolute terms:
//   dq_i = sum_j dr_ij a_{j,i+1}:      K |scale| (E_S + 2 O V (chain + L u))
//   dk_j = sum_i dr_ij b_{j,i}:        Q |scale| L (E_S + 2 O V (chain + L u))
//   dv_j = sum_i P_ij dO_i:            L O (eps_P + (L + 1) u)
//   c_{j,t} (|c| <= C = 2 |scale| O V L Q) errs by e_c = Q |scale| L (E_S + 2 O V (2 chain + L u));
//   (G_t + G_t^T) w_t = sum_{j<t} (a (c.w) + c (a.w)): 2 L K (e_c + C (chain + (L + D) u)) =: e_G;
//   dw = -beta (G + G^T) w: 2 e_G (beta <= 2); dbeta = -w^T G w: e_G / 2 + L K C D u;
//   dG_i = f (sum_j dS_ij - sum_k dS_ki), f = 1 or |scale|: f (E_S (L + 1) + 4 O V L u); dg_t sums at most
//     L of them: L (that + f 2 O V (L + 1) u).
// Loose (it adds worst cases everywhere) but first order and derived, never fitted; a wrong gradient
// (a dropped term, a wrong sign) errs by O(|grad|), orders of magnitude above it in double.
struct GradientBound {
  double dq = 0, dk = 0, dv = 0, dw = 0, dbeta = 0, dg = 0;
};

inline GradientBound gradient_error_bound(const Problem<double>& p, const std::vector<double>& dO, double u) {
  const Shape& s = p.shape;
  const error_model::ForwardBound f = error_model::forward_error_bound(p, u);
  const double L = static_cast<double>(s.T), D = static_cast<double>(s.D), Dv = static_cast<double>(s.Dv);
  const double K = error_model::max_row_norm(p.k, s.D), Q = error_model::max_row_norm(p.q, s.D);
  const double V = error_model::max_row_norm(p.v, s.Dv), O = error_model::max_row_norm(dO, s.Dv);
  const double sc = std::abs(p.scale), gf = p.gate_convention == GateConvention::paper ? 1.0 : sc;
  const double eps_P = 2 * f.logit + (L + 3) * u;
  const double E_S = 2 * O * V * (eps_P + u) + 2 * Dv * u * O * V + O * std::sqrt(Dv) * f.o;
  const double chain = (L * (2 * D + 5) + D) * u;
  GradientBound b;
  b.dq = K * sc * (E_S + 2 * O * V * (chain + L * u));
  b.dk = Q * sc * L * (E_S + 2 * O * V * (chain + L * u));
  b.dv = L * O * (eps_P + (L + 1) * u);
  const double C = 2 * sc * O * V * L * Q;
  const double e_c = Q * sc * L * (E_S + 2 * O * V * (2 * chain + L * u));
  const double e_G = 2 * L * K * (e_c + C * (chain + (L + D) * u));
  b.dw = 2 * e_G;
  b.dbeta = e_G / 2 + L * K * C * D * u;
  const double dG = gf * (E_S * (L + 1) + 4 * O * V * L * u);
  b.dg = L * (dG + gf * 2 * O * V * (L + 1) * u);
  return b;
}

}  // namespace path::gpu
