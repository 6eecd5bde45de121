// Shared machinery of the identity proofs (docs/proofs.md): the command line, the tally of each
// statement, the configurations (exhaustive small ones, random larger ones) and the independent
// explicit matrices every statement is compared against. Everything is exact (path::rational):
// a check passes only on equality, zero tolerance.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "path/core/random.hpp"
#include "path/linalg.hpp"
#include "proof_cli.hpp"
#include "path/scalar.hpp"

namespace ids {

using path::index_t;
using R = path::rational;
using MatR = path::Mat<R>;
using VecR = path::Vec<R>;

// ---------------------------------------------------------------- command line

using Options = proofs::Options;

inline Options& options() {
  static Options o;
  return o;
}

// True when the run was asked to break the term called `name` (the planted-bug tests).
inline bool planted(std::string_view name) { return options().plant == name; }

inline void parse_options(int argc, char** argv, std::string_view what, const std::vector<std::string>& plants) {
  options() = proofs::parse_options(argc, argv, what, plants);
}

// ---------------------------------------------------------------- tallies

using proofs::Stopwatch;

// One statement: how many configurations of each family it was checked on, how many exact
// comparisons (matrix entries or scalars) were made, and the first counterexample.
struct Statement {
  explicit Statement(std::string n) : name(std::move(n)) {}
  std::string name;
  std::map<std::string, long long> configs;  // family -> count
  long long comparisons = 0;
  long long failures = 0;
  std::string first_failure;

  void config(const std::string& family) { ++configs[family]; }

  // detail() describes the failure; only called when ok is false. Under --plant the first failure
  // ends the run (the planted tests only need to see that the check can fail).
  template <class Detail>
  bool expect(bool ok, Detail detail, long long entries = 1) {
    comparisons += entries;
    if (ok) return true;
    if (failures++ == 0) first_failure = detail();
    if (!options().plant.empty()) {
      std::cout << name << ": FAILED under the planted bug '" << options().plant << "': " << first_failure << "\nFAIL\n";
      std::exit(1);
    }
    return false;
  }
};

// A refutation: a printed statement that must be FALSE; the check passes when a counterexample
// is found (and records the first one), fails when the statement held on every configuration.
struct Refutation {
  explicit Refutation(std::string n) : name(std::move(n)) {}
  std::string name;
  long long tried = 0, counterexamples = 0;
  std::string first_counterexample;

  template <class Detail>
  void observe(bool statement_holds, Detail detail) {
    ++tried;
    if (statement_holds) return;
    if (counterexamples++ == 0) first_counterexample = detail();
  }
};

inline void print(const Statement& s) {
  std::cout << "  " << s.name << ": ";
  bool first = true;
  long long total = 0;
  for (const auto& [family, n] : s.configs) {
    std::cout << (first ? "" : " + ") << n << " " << family;
    first = false;
    total += n;
  }
  if (total == 0) std::cout << "no cases";
  else std::cout << " cases";
  std::cout << " (" << s.comparisons << " exact comparisons), " << s.failures << " failures\n";
  if (s.failures > 0) std::cout << "    first counterexample: " << s.first_failure << "\n";
}

inline void print(const Refutation& r) {
  std::cout << "  REFUTED (must be false): " << r.name << ": false on " << r.counterexamples << " of " << r.tried
            << " configurations";
  if (r.counterexamples > 0) std::cout << "; first counterexample: " << r.first_counterexample;
  else std::cout << " -- NOT refuted (that is a failure of this program)";
  std::cout << "\n";
}

inline int verdict(const std::vector<const Statement*>& statements, const std::vector<const Refutation*>& refutations,
                   double seconds) {
  long long failures = 0;
  for (const Statement* s : statements) {
    print(*s);
    failures += s->failures;
  }
  for (const Refutation* r : refutations) {
    print(*r);
    if (r->counterexamples == 0) ++failures;
  }
  std::cout << "time " << seconds << " s\n" << (failures == 0 ? "PASS" : "FAIL") << "\n";
  return failures == 0 ? 0 : 1;
}

// ---------------------------------------------------------------- printing values

inline std::string str(const R& x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

template <class M>
std::string str_mat(const M& m) {
  std::ostringstream s;
  s << "[";
  for (index_t i = 0; i < m.rows(); ++i) {
    s << (i ? "; " : "");
    for (index_t j = 0; j < m.cols(); ++j) s << (j ? " " : "") << m(i, j);
  }
  s << "]";
  return s.str();
}

// ---------------------------------------------------------------- configurations

// One sequence: rows of W, Q, K are the tokens' w, q, k; beta and the log forget gate g per token.
struct Config {
  std::string family;  // "exhaustive", "exhaustive-W", "random"
  MatR W, Q, K;
  VecR beta, g;
  index_t L() const { return W.rows(); }
  index_t D() const { return W.cols(); }
  std::string describe() const {
    std::ostringstream s;
    s << family << " L=" << L() << " D=" << D();
    if (L() * D() <= 24) s << " W=" << str_mat(W) << " beta=" << str_mat(beta.transpose());
    return s.str();
  }
};

inline const std::vector<R>& beta_values() {
  static const std::vector<R> b{R(0), R(1) / 2, R(1), R(3) / 2, R(2)};
  return b;
}

inline R small_int(path::random::Rng& rng, int lo, int hi) { return R(static_cast<int>(path::random::integer(rng, lo, hi))); }

// p / q with |p| <= pmax and q in 1..qmax.
inline R small_rational(path::random::Rng& rng, int pmax, int qmax) {
  const int p = static_cast<int>(path::random::integer(rng, -pmax, pmax));
  const int q = static_cast<int>(path::random::integer(rng, 1, qmax));
  return R(p) / R(q);
}

inline void fill_qkg(Config& c, path::random::Rng& rng, bool rational_values) {
  const index_t L = c.L(), D = c.D();
  c.Q.resize(L, D);
  c.K.resize(L, D);
  c.g.resize(L);
  for (index_t t = 0; t < L; ++t) {
    for (index_t d = 0; d < D; ++d) {
      c.Q(t, d) = rational_values ? small_rational(rng, 4, 3) : small_int(rng, -2, 2);
      c.K(t, d) = rational_values ? small_rational(rng, 4, 3) : small_int(rng, -2, 2);
    }
    c.g(t) = -R(static_cast<int>(path::random::integer(rng, 0, 6))) / R(static_cast<int>(path::random::integer(rng, 1, 3)));
  }
}

// The exhaustive families. With the default setting:
//  * "exhaustive": EVERY beta in {0, 1/2, 1, 3/2, 2}^L for every L in 1..5 (3905 beta vectors),
//    each with every D in 1..3 for L <= 4 and with one D (cycling 1..3) for L = 5 (5465
//    configurations); W, q, k with entries in {-2..2} drawn per configuration (w = 0, repeated and
//    colinear w are planted). The long setting takes every D in 1..4 for every L in 1..6 (78120);
//  * "exhaustive-W": EVERY W in {-1, 0, 1}^{L x D} for L * D <= 4 (L <= 4), each with one beta
//    vector (cycling through all of {0, .., 2}^L); the long setting takes L * D <= 6 and every beta
//    vector for every W with L <= 3.
// `stride` > 1 keeps only every stride-th configuration (for statements whose check is costly).
inline void for_each_exhaustive(const std::function<void(const Config&)>& visit, int stride = 1) {
  const Options& o = options();
  const int Lmax = o.long_run ? 6 : 5, Dmax = o.long_run ? 4 : 3;
  const auto& B = beta_values();
  long long counter = 0;
  for (index_t D = 1; D <= Dmax; ++D)
    for (index_t L = 1; L <= Lmax; ++L) {
      long long combos = 1;
      for (index_t t = 0; t < L; ++t) combos *= 5;
      for (long long idx = 0; idx < combos; ++idx) {
        // Default setting: for L = 5 each beta vector is taken with one D (cycling 1..3).
        if (!o.long_run && L == 5 && idx % 3 != D - 1) continue;
        if (counter++ % stride != 0) continue;
        path::random::Rng rng(o.seed ^ (static_cast<std::uint64_t>(D) << 56) ^ (static_cast<std::uint64_t>(L) << 48) ^
                            static_cast<std::uint64_t>(idx));
        Config c;
        c.family = stride > 1 ? "exhaustive (1 in " + std::to_string(stride) + ")" : "exhaustive";
        c.W.resize(L, D);
        c.beta.resize(L);
        long long rest = idx;
        for (index_t t = 0; t < L; ++t, rest /= 5) c.beta(t) = B[static_cast<std::size_t>(rest % 5)];
        for (index_t t = 0; t < L; ++t) {
          const int pattern = static_cast<int>(path::random::integer(rng, 0, 5));
          for (index_t d = 0; d < D; ++d) c.W(t, d) = small_int(rng, -2, 2);
          if (pattern == 0) c.W.row(t).setConstant(R(0));                                  // w = 0
          if (pattern == 1 && t > 0) c.W.row(t) = c.W.row(t - 1);                           // repeated w
          if (pattern == 2 && t > 0) c.W.row(t) = R(-2) * c.W.row(t - 1);                   // colinear w
        }
        fill_qkg(c, rng, false);
        visit(c);
      }
    }
  // Every W with entries in {-1, 0, 1}.
  const int cells_max = o.long_run ? 6 : 4;
  for (index_t L = 1; L <= 6; ++L)
    for (index_t D = 1; D <= 3; ++D) {
      if (L * D > cells_max) continue;
      long long wcount = 1, combos = 1;
      for (index_t n = 0; n < L * D; ++n) wcount *= 3;
      for (index_t t = 0; t < L; ++t) combos *= 5;
      const bool all_beta = o.long_run && L <= 3;
      for (long long widx = 0; widx < wcount; ++widx) {
        for (long long bidx = all_beta ? 0 : widx % combos; bidx < (all_beta ? combos : widx % combos + 1); ++bidx) {
          if (counter++ % stride != 0) continue;
          path::random::Rng rng(o.seed ^ 0x5bd1e995ULL ^ (static_cast<std::uint64_t>(widx) << 20) ^
                              static_cast<std::uint64_t>(bidx) ^ (static_cast<std::uint64_t>(L * 8 + D) << 40));
          Config c;
          c.family = stride > 1 ? "exhaustive-W (1 in " + std::to_string(stride) + ")" : "exhaustive-W";
          c.W.resize(L, D);
          c.beta.resize(L);
          long long rest = widx;
          for (index_t t = 0; t < L; ++t)
            for (index_t d = 0; d < D; ++d, rest /= 3) c.W(t, d) = R(static_cast<int>(rest % 3) - 1);
          rest = bidx;
          for (index_t t = 0; t < L; ++t, rest /= 5) c.beta(t) = B[static_cast<std::size_t>(rest % 5)];
          fill_qkg(c, rng, false);
          visit(c);
        }
      }
    }
}

// Random larger configurations: L in 1..Lmax (at least one of length Lmax), D in 1..16, rational
// entries p/q (|p| <= 3, q <= 4) so w is unnormalized, beta in {0, 1/2, 1, 3/2, 2} or a random
// rational in [0, 3]; q, k entries p/q with |p| <= 4, q <= 3.
inline void for_each_random(int count, index_t Lmax, const std::function<void(const Config&)>& visit,
                            std::uint64_t salt = 0) {
  path::random::Rng rng(options().seed ^ 0x9e3779b97f4a7c15ULL ^ salt);
  for (int n = 0; n < count; ++n) {
    const index_t L = n == 0 ? Lmax : static_cast<index_t>(path::random::integer(rng, 1, Lmax));
    const index_t D = n == 0 ? 16 : static_cast<index_t>(path::random::integer(rng, 1, 16));
    Config c;
    c.family = "random";
    c.W.resize(L, D);
    c.beta.resize(L);
    for (index_t t = 0; t < L; ++t) {
      for (index_t d = 0; d < D; ++d) c.W(t, d) = small_rational(rng, 3, 4);
      const int kind = static_cast<int>(path::random::integer(rng, 0, 9));
      if (kind == 0) c.W.row(t).setConstant(R(0));
      if (kind == 1 && t > 0) c.W.row(t) = c.W.row(t - 1);
      c.beta(t) = static_cast<int>(path::random::integer(rng, 0, 1))
                      ? beta_values()[static_cast<std::size_t>(path::random::integer(rng, 0, 4))]
                      : R(static_cast<int>(path::random::integer(rng, 0, 12))) / R(static_cast<int>(path::random::integer(rng, 1, 4)) * 1);
      if (c.beta(t) > 3) c.beta(t) = R(3);
    }
    fill_qkg(c, rng, true);
    visit(c);
  }
}

// ---------------------------------------------------------------- explicit matrices (the definitions)

// H_t = I - beta_t w_t w_t^T as an explicit D x D matrix.
inline MatR householder(const Config& c, index_t t) {
  const index_t D = c.D();
  MatR H = MatR::Identity(D, D);
  for (index_t x = 0; x < D; ++x)
    for (index_t y = 0; y < D; ++y) H(x, y) -= c.beta(t) * c.W(t, x) * c.W(t, y);
  return H;
}

// All H_t of a configuration, built once.
inline std::vector<MatR> householders(const Config& c) {
  std::vector<MatR> H;
  for (index_t t = 0; t < c.L(); ++t) H.push_back(householder(c, t));
  return H;
}

// H_a H_{a+1} ... H_b by explicit matrix multiplication (I when a > b).
inline MatR product_forward(const std::vector<MatR>& H, index_t D, index_t a, index_t b) {
  MatR P = MatR::Identity(D, D);
  for (index_t t = a; t <= b; ++t) P = P * H[static_cast<std::size_t>(t)];
  return P;
}

// H_b H_{b-1} ... H_a by explicit matrix multiplication (I when a > b).
inline MatR product_reverse(const std::vector<MatR>& H, index_t D, index_t a, index_t b) {
  MatR P = MatR::Identity(D, D);
  for (index_t t = a; t <= b; ++t) P = H[static_cast<std::size_t>(t)] * P;
  return P;
}

// For large D the D^3 products are replaced by the same product applied as rank-one updates,
// P H_t = P - beta_t (P w_t) w_t^T and H_t P = P - beta_t w_t (w_t^T P): the same matrices, O(D^2).
inline void times_h_right(MatR& P, const Config& c, index_t t) {
  const VecR pw = P * c.W.row(t).transpose();
  P.noalias() -= (c.beta(t) * pw) * c.W.row(t);
}
inline void times_h_left(MatR& P, const Config& c, index_t t) {
  const MatR wp = c.W.row(t) * P;
  P.noalias() -= (c.beta(t) * c.W.row(t).transpose()) * wp;
}

// The raw logits by the definition, r_ij = k_j^T (H_{j+1} ... H_i) q_i, j <= i; 0 above the
// diagonal. For D <= 4 the product is an explicit D x D matrix built by multiplying the explicit H_j
// (P <- H_j P); for larger D the definition is applied to the vector q_i one H at a time,
// x <- x - beta_j w_j (w_j . x) (the same value, O(D) per step).
inline MatR explicit_raw_logits(const Config& c) {
  const index_t L = c.L(), D = c.D();
  MatR r = path::zeros<R>(L, L);
  if (D <= 4) {
    const std::vector<MatR> H = householders(c);
    for (index_t i = 0; i < L; ++i) {
      MatR P = MatR::Identity(D, D);
      for (index_t j = i; j >= 0; --j) {
        r(i, j) = (c.K.row(j) * P * c.Q.row(i).transpose()).value();
        P = H[static_cast<std::size_t>(j)] * P;
      }
    }
    return r;
  }
  for (index_t i = 0; i < L; ++i) {
    VecR x = c.Q.row(i).transpose();
    for (index_t j = i; j >= 0; --j) {
      r(i, j) = c.K.row(j).dot(x.transpose());
      const R along = c.beta(j) * c.W.row(j).dot(x.transpose());
      x -= along * c.W.row(j).transpose();
    }
  }
  return r;
}

// Equality of two matrices of the same shape; counts the entries compared.
inline bool same(const MatR& a, const MatR& b) { return a.rows() == b.rows() && a.cols() == b.cols() && a == b; }

// Diagonal matrix of beta.
inline MatR diag(const VecR& beta) {
  MatR Dg = path::zeros<R>(beta.size(), beta.size());
  for (index_t t = 0; t < beta.size(); ++t) Dg(t, t) = beta(t);
  return Dg;
}

inline MatR strict_upper(const MatR& m) {
  MatR u = path::zeros<R>(m.rows(), m.cols());
  for (index_t a = 0; a < m.rows(); ++a)
    for (index_t b = a + 1; b < m.cols(); ++b) u(a, b) = m(a, b);
  return u;
}

inline MatR strict_lower(const MatR& m) {
  MatR l = path::zeros<R>(m.rows(), m.cols());
  for (index_t a = 0; a < m.rows(); ++a)
    for (index_t b = 0; b < a && b < m.cols(); ++b) l(a, b) = m(a, b);
  return l;
}

}  // namespace ids
