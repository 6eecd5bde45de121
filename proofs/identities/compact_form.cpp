// Identity proofs, part 1 (docs/proofs.md §1-§3): the compact (UT) form of a product of
// Householder-like matrices in both multiplication orders, the sub-interval rule that lets one
// global inverse serve every (query, key) pair (paper §3.2), and the masked logits built on it.
// Exact rational arithmetic, zero tolerance; exit status non-zero on any failure.
#include <algorithm>

#include "path/core/random.hpp"
#include "formulas.hpp"
#include "path/algorithms/ut_masked.hpp"
#include "path/compact_form.hpp"
#include "path/head_slice.hpp"

namespace ids {
namespace {

struct Proof {
  Statement forward{"S1 compact form, forward order: H_0...H_{L-1} = I - W^T A W, A = (I + Dg strictUpper(WW^T))^-1 Dg"};
  Statement induction{"S1a induction step: A_{L+1} = [[A_L, -A_L W w_L beta_L], [0, beta_L]]"};
  Statement closed2{"S1b L = 2: A = [[beta_0, -beta_0 beta_1 w_0.w_1], [0, beta_1]]"};
  Statement library{"S1c library: path::compact_factor == A, path::unit_triangular_inverse * T == I"};
  Statement reverse{"S2 compact form, reverse order: H_{L-1}...H_0 = I - W^T A' W, A' = (I + Dg strictLower(WW^T))^-1 Dg"};
  Statement transpose{"S2a A' = A^T, and strictLower(Dg W W^T) = Dg strictLower(W W^T)"};
  Statement interval{"S3 sub-interval by masking: H_a...H_b = I - W_[a,b]^T A[a..b,a..b] W_[a,b] (global A), every a <= b"};
  Statement interval_rev{"S3a reverse sub-interval: H_b...H_a = I - W_[a,b]^T (A[a..b,a..b])^T W_[a,b]"};
  Statement interval_lib{"S3b library: compact_factor(W_[a,b], beta_[a,b]) == A[a..b,a..b]"};
  Statement masked{"S4 masked logits (3.2): r_ij = k_j.q_i - sum [a>j](k_j.w_a) A_ab (w_b.q_i)[b<=i], every j <= i"};
  Statement masked_lib{"S4a library: keys_dot_later_w, w_dot_earlier_queries, ut_masked_raw_logits == the definition"};
  Refutation printed_no_identity{"R1 paper 3.1 'P = W^T T^-1 W' (the 'I -' is missing), even with T^-1 read as A"};
  Refutation order_matters{"R2 forward order with the lower triangle: H_0...H_{L-1} = I - W^T A' W"};
  Refutation logit_order{"R3 order-free logit: k_j^T (H_{j+1}...H_i) q_i = q_i^T (H_{j+1}...H_i) k_j"};

  void check(const Config& c, bool all_intervals) {
    const index_t L = c.L(), D = c.D();
    const bool small = D <= 4;
    const std::vector<MatR> H = small ? householders(c) : std::vector<MatR>{};
    auto fwd = [&](index_t a, index_t b) {  // H_a ... H_b, explicit
      if (small) return product_forward(H, D, a, b);
      MatR P = MatR::Identity(D, D);
      for (index_t t = a; t <= b; ++t) times_h_right(P, c, t);
      return P;
    };
    auto rev = [&](index_t a, index_t b) {  // H_b ... H_a, explicit
      if (small) return product_reverse(H, D, a, b);
      MatR P = MatR::Identity(D, D);
      for (index_t t = a; t <= b; ++t) times_h_left(P, c, t);
      return P;
    };
    const std::string& fam = c.family;
    auto where = [&] { return c.describe(); };

    // S1: forward order.
    const MatR A = factor_forward(c.W, c.beta);
    const MatR P = fwd(0, L - 1);
    forward.config(fam);
    forward.expect(same(P, compact(c.W, A)), [&] { return where() + " product " + str_mat(P) + " formula " + str_mat(compact(c.W, A)); }, D * D);

    // S1a: the induction step of the derivation, for every prefix length n: the factor of the
    // first n + 1 transforms (A's leading block, by S3) extends the factor of the first n.
    induction.config(fam);
    for (index_t n = 1; n < L; ++n) {
      const MatR An = A.topLeftCorner(n, n);
      MatR built = path::zeros<R>(n + 1, n + 1);
      built.topLeftCorner(n, n) = An;
      built.topRightCorner(n, 1) = -(An * c.W.topRows(n) * c.W.row(n).transpose()) * c.beta(n);
      built(n, n) = c.beta(n);
      induction.expect(same(built, A.topLeftCorner(n + 1, n + 1)), [&] { return where() + " prefix " + std::to_string(n); }, (n + 1) * (n + 1));
    }

    // S1b: L = 2 closed form.
    if (L == 2) {
      closed2.config(fam);
      MatR want(2, 2);
      want << c.beta(0), -c.beta(0) * c.beta(1) * c.W.row(0).dot(c.W.row(1)), R(0), c.beta(1);
      closed2.expect(same(A, want), [&] { return where() + " A " + str_mat(A); }, 4);
    }

    // S1c: the library's factor.
    library.config(fam);
    const MatR A_lib = path::compact_factor<R>(c.W, c.beta);
    library.expect(same(A_lib, A), [&] { return where() + " compact_factor " + str_mat(A_lib) + " vs " + str_mat(A); }, L * L);
    const MatR X_lib = path::unit_triangular_inverse<R>(c.W, c.beta);
    const MatR T = MatR::Identity(L, L) + diag(c.beta) * strict_upper(c.W * c.W.transpose());
    library.expect(same(T * X_lib, MatR::Identity(L, L)), [&] { return where() + " unit_triangular_inverse"; }, L * L);

    // S2: reverse order, and A' = A^T.
    const MatR Ar = factor_reverse(c.W, c.beta);
    const MatR Pr = rev(0, L - 1);
    reverse.config(fam);
    reverse.expect(same(Pr, compact(c.W, Ar)), [&] { return where() + " reverse product " + str_mat(Pr); }, D * D);
    transpose.config(fam);
    transpose.expect(same(Ar, A.transpose()), [&] { return where() + " A' " + str_mat(Ar) + " A " + str_mat(A); }, L * L);
    const MatR gram = c.W * c.W.transpose();
    transpose.expect(same(strict_lower(diag(c.beta) * gram), diag(c.beta) * strict_lower(gram)), where, L * L);

    // Refutations of the forms as printed / misread.
    printed_no_identity.observe(same(P, c.W.transpose() * A * c.W), [&] { return where(); });
    order_matters.observe(same(P, compact(c.W, Ar)), [&] { return where(); });

    // S3: every sub-interval [a, b] from the global A (or a sample of them for long sequences).
    interval.config(fam);
    interval_rev.config(fam);
    interval_lib.config(fam);
    std::vector<std::pair<index_t, index_t>> spans;
    if (all_intervals) {
      for (index_t a = 0; a < L; ++a)
        for (index_t b = a; b < L; ++b) spans.emplace_back(a, b);
    } else {
      path::random::Rng rng(options().seed ^ static_cast<std::uint64_t>(L * 131 + D));
      spans.emplace_back(0, L - 1);
      spans.emplace_back(L - 1, L - 1);
      for (int n = 0; n < 12; ++n) {
        index_t a = static_cast<index_t>(path::random::integer(rng, 0, L - 1));
        index_t b = static_cast<index_t>(path::random::integer(rng, 0, L - 1));
        spans.emplace_back(std::min(a, b), std::max(a, b));
      }
    }
    // Products for the spans, grown one factor at a time from each left end a.
    std::sort(spans.begin(), spans.end());
    index_t cur_a = -1, cur_b = -1;
    MatR Pab, Rab;
    for (const auto& [a, b] : spans) {
      if (a != cur_a || b < cur_b) {
        cur_a = a;
        cur_b = a - 1;
        Pab = MatR::Identity(D, D);
        Rab = MatR::Identity(D, D);
      }
      for (; cur_b < b; ++cur_b) {
        const index_t t = cur_b + 1;
        if (small) {
          Pab = Pab * H[static_cast<std::size_t>(t)];
          Rab = H[static_cast<std::size_t>(t)] * Rab;
        } else {
          times_h_right(Pab, c, t);
          times_h_left(Rab, c, t);
        }
      }
      const index_t n = b - a + 1;
      const MatR Fab = compact_interval(c.W, A, a, b);
      interval.expect(same(Pab, Fab), [&] { return where() + " [a, b] = [" + std::to_string(a) + ", " + std::to_string(b) + "] product " + str_mat(Pab) + " masked " + str_mat(Fab); }, D * D);
      interval_rev.expect(same(Rab, compact(c.W.middleRows(a, n), A.block(a, a, n, n).transpose())),
                          [&] { return where() + " [a, b] = [" + std::to_string(a) + ", " + std::to_string(b) + "]"; }, D * D);
      const MatR Aab = path::compact_factor<R>(c.W.middleRows(a, n), c.beta.segment(a, n));
      interval_lib.expect(same(Aab, A.block(a, a, n, n)),
                          [&] { return where() + " [a, b] = [" + std::to_string(a) + ", " + std::to_string(b) + "]"; }, n * n);
    }

    // S4: the masked logits against the definition, and the library's masked form.
    const MatR r = explicit_raw_logits(c);
    const MatR rf = masked_raw_logits(c.Q, c.K, c.W, A);
    masked.config(fam);
    masked.expect(same(r, rf), [&] { return where() + " definition " + str_mat(r) + " masked " + str_mat(rf); }, L * (L + 1) / 2);
    masked_lib.config(fam);
    path::HeadSlice<R> h;
    h.q = c.Q;
    h.k = c.K;
    h.w = c.W;
    h.beta = c.beta;
    h.v = path::zeros<R>(L, 1);
    masked_lib.expect(same(path::keys_dot_later_w<R>(c.K, c.W), mask_keys_later_w(c.K, c.W)), [&] { return where() + " keys_dot_later_w"; }, L * L);
    masked_lib.expect(same(path::w_dot_earlier_queries<R>(c.W, c.Q), mask_w_earlier_queries(c.W, c.Q)), [&] { return where() + " w_dot_earlier_queries"; }, L * L);
    const MatR r_lib = path::ut_masked_raw_logits<R>(h);
    masked_lib.expect(same(r_lib, r), [&] { return where() + " ut_masked_raw_logits " + str_mat(r_lib) + " definition " + str_mat(r); }, L * (L + 1) / 2);

    // The logit is not symmetric in the order of the product: which end the queries enter matters.
    if (L >= 3 && small) {
      bool holds = true;
      for (index_t i = 0; i < L && holds; ++i)
        for (index_t j = 0; j <= i && holds; ++j) {
          const MatR Pji = product_forward(H, D, j + 1, i);
          holds = (c.K.row(j) * Pji * c.Q.row(i).transpose()).value() == (c.Q.row(i) * Pji * c.K.row(j).transpose()).value();
        }
      logit_order.observe(holds, [&] { return where(); });
    }
  }
};

}  // namespace
}  // namespace ids

int main(int argc, char** argv) {
  using namespace ids;
  parse_options(argc, argv, "proof_compact_form: compact (UT) form, both orders, sub-intervals, masked logits (docs/proofs.md)",
                {"forward-no-beta", "forward-triangle", "reverse-beta-left", "interval-shift", "mask-diagonal"});
  const Stopwatch clock;
  Proof p;
  for_each_exhaustive([&](const Config& c) { p.check(c, true); });
  std::cout << "exhaustive families done at " << clock.seconds() << " s\n";
  const bool lng = options().long_run;
  for_each_random(lng ? 100 : 8, lng ? 64 : 48, [&](const Config& c) { p.check(c, c.L() <= 12); });
  return verdict({&p.forward, &p.induction, &p.closed2, &p.library, &p.reverse, &p.transpose, &p.interval, &p.interval_rev,
                  &p.interval_lib, &p.masked, &p.masked_lib},
                 {&p.printed_no_identity, &p.order_matters, &p.logit_order}, clock.seconds());
}
