// Identity proofs, part 3 (docs/proofs.md §5-§6): the decode in-place key update (paper §3.4),
// the decode step's logits with and without forget gates in both conventions, and the
// prefill-to-cache suffix-product formula (paper Eq. 2), checked with our own code against the
// explicit D x D products, and the library's decode.hpp (append_token, newest_logits, prefill_keys,
// prefill_keys_sequential) against the same definitions.
// Exact rational arithmetic, zero tolerance; exit status non-zero on any failure.
#include <algorithm>

#include "formulas.hpp"
#include "path/gate.hpp"

#include "path/decode.hpp"

namespace ids {
namespace {

// The final logit by the definition: G_i - G_j = g_{j+1} + ... + g_i.
R gated_definition(const R& r, const R& scale, const VecR& g, index_t i, index_t j, path::GateConvention conv) {
  R gate = 0;
  for (index_t t = j + 1; t <= i; ++t) gate += g(t);
  if (planted("gate-includes-j")) gate += g(j);
  return conv == path::GateConvention::paper ? scale * r + gate : scale * (r + gate);
}

struct Proof {
  Statement cache{"P1 decode update: after k_j^(t) = H_t k_j^(t-1) (k_j^(j) = k_j), k_j^(t) = H_t...H_{j+1} k_j"};
  Statement logit{"P2 decode logit: q_t . k_j^(t) = r_tj = k_j^T H_{j+1}...H_t q_t (every H_t symmetric)"};
  Statement gated{"P3 gated decode logit, both conventions: gated(q_t.k_j^(t), scale, G_t - G_j) = definition"};
  Statement suffix{"P4 prefill suffix products: M_{m-1} = P_m M_m = M_m - W_m^T (A_m (W_m M_m)), M_last = I, gives M_m = P_{m+1}...P_last"};
  Statement prefill{"P5 prefill: k_j^(T-1) = M_m^T k~_j (rows: K~_m M_m), k~_j = H_e...H_{j+1} k_j"};
  Statement library{"P6 library decode.hpp: append_token + newest_logits (gates, both conventions), prefill_keys (every block size), prefill_keys_sequential"};

  void check(const Config& c, const std::vector<index_t>& block_sizes) {
    const index_t L = c.L(), D = c.D();
    const bool small = D <= 4;
    const std::vector<MatR> H = small ? householders(c) : std::vector<MatR>{};
    const MatR r = explicit_raw_logits(c);
    auto where = [&] { return c.describe(); };
    const std::string& fam = c.family;
    // k_j^(t) by the definition: H_t ... H_{j+1} k_j, each H applied explicitly.
    auto key_at = [&](index_t j, index_t t) {
      VecR x = c.K.row(j).transpose();
      for (index_t u = j + 1; u <= t; ++u) {
        if (small) x = H[static_cast<std::size_t>(u)] * x;
        else x -= (c.beta(u) * c.W.row(u).dot(x.transpose())) * c.W.row(u).transpose();
      }
      return VecR(x);
    };
    const R scale = R(3) / R(4);

    // P1-P3: our own in-place cache, token by token.
    cache.config(fam);
    logit.config(fam);
    gated.config(fam);
    MatR K(0, D);
    VecR G(0);
    for (index_t t = 0; t < L; ++t) {
      if (planted("decode-append-first")) {  // append k_t first: H_t then also transforms k_t
        K.conservativeResize(t + 1, D);
        K.row(t) = c.K.row(t);
      }
      for (index_t j = 0; j < K.rows(); ++j) {  // k_j^(t) = H_t k_j^(t-1), in place
        const R along = c.beta(t) * c.W.row(t).dot(K.row(j));
        K.row(j) -= along * c.W.row(t);
      }
      if (!planted("decode-append-first")) {
        K.conservativeResize(t + 1, D);
        K.row(t) = c.K.row(t);
      }
      G.conservativeResize(t + 1);
      G(t) = (t > 0 ? G(t - 1) : R(0)) + c.g(t);
      for (index_t j = 0; j <= t; ++j) {
        cache.expect(K.row(j) == key_at(j, t).transpose(), [&] { return where() + " key " + std::to_string(j) + " after token " + std::to_string(t); }, D);
        const R raw = c.Q.row(t).dot(K.row(j));
        logit.expect(raw == r(t, j), [&] { return where() + " logit (" + std::to_string(t) + ", " + std::to_string(j) + ")"; });
        for (auto conv : {path::GateConvention::paper, path::GateConvention::fla})
          gated.expect(path::gated_logit<R>(raw, scale, G(t) - G(j), conv) == gated_definition(r(t, j), scale, c.g, t, j, conv),
                       [&] { return where() + " gated logit (" + std::to_string(t) + ", " + std::to_string(j) + ") " + std::string(path::to_string(conv)); });
      }
    }

    // P4-P5: prefill by suffix products, every block size given.
    for (index_t B : block_sizes) {
      auto whereB = [&] { return where() + " block size " + std::to_string(B); };
      suffix.config(fam);
      prefill.config(fam);
      const index_t blocks = (L + B - 1) / B;
      MatR M = MatR::Identity(D, D);          // M_m by the recurrence
      MatR M_explicit = MatR::Identity(D, D);  // P_{m+1} ... P_last by explicit products
      MatR cache_rows(L, D);
      for (index_t m = blocks - 1; m >= 0; --m) {
        const index_t s = m * B, n = std::min(B, L - s), e = s + n - 1;
        suffix.expect(same(M, M_explicit), [&] { return whereB() + " M_" + std::to_string(m); }, D * D);
        const MatR Wm = c.W.middleRows(s, n);
        const MatR Am = factor_forward(Wm, c.beta.segment(s, n));
        const MatR Kt = adjusted_keys(c.K.middleRows(s, n), Wm, Am);
        cache_rows.middleRows(s, n) = planted("prefill-no-transpose") ? MatR(Kt * M.transpose()) : MatR(Kt * M);
        for (index_t j = s; j <= e; ++j) {
          const VecR col = M.transpose() * Kt.row(j - s).transpose();  // M_m^T k~_j
          prefill.expect(col == key_at(j, L - 1) && cache_rows.row(j) == col.transpose(),
                         [&] { return whereB() + " key " + std::to_string(j); }, 2 * D);
        }
        // M_{m-1} = P_m M_m.
        if (planted("suffix-order")) M = M - (M * Wm.transpose()) * Am * Wm;  // M_m P_m
        else M = M - Wm.transpose() * (Am * (Wm * M));
        MatR Pm = MatR::Identity(D, D);
        for (index_t t = s; t <= e; ++t) {
          if (small) Pm = Pm * H[static_cast<std::size_t>(t)];
          else times_h_right(Pm, c, t);
        }
        M_explicit = Pm * M_explicit;
      }
    }

    // P6: the library's decode cache (one head, both gate conventions) and prefill.
    library.config(fam);
    for (auto conv : {path::GateConvention::paper, path::GateConvention::fla}) {
      path::DecodeCache<R> dc = path::empty_cache<R>(path::HeadLayout{1, 1, D, 1}, scale, conv, true);
      for (index_t t = 0; t < L; ++t) {
        path::DecodeToken<R> x{c.Q.row(t), c.K.row(t), c.W.row(t), path::zeros<R>(1, 1), VecR::Constant(1, c.beta(t)),
                               VecR::Constant(1, c.g(t))};
        path::append_token(dc, x);
        const MatR s = path::newest_logits(dc, x.q);
        for (index_t j = 0; j <= t; ++j)
          library.expect(s(0, j) == gated_definition(r(t, j), scale, c.g, t, j, conv),
                         [&] { return where() + " newest_logits (" + std::to_string(t) + ", " + std::to_string(j) + ") " + std::string(path::to_string(conv)); });
      }
      for (index_t j = 0; j < L; ++j)
        library.expect(dc.keys[0].row(j) == key_at(j, L - 1).transpose(), [&] { return where() + " cache key " + std::to_string(j); }, D);
    }
    MatR want(L, D);
    for (index_t j = 0; j < L; ++j) want.row(j) = key_at(j, L - 1).transpose();
    library.expect(same(path::prefill_keys_sequential<R>(c.K, c.W, c.beta), want), [&] { return where() + " prefill_keys_sequential"; }, L * D);
    for (index_t B : block_sizes)
      library.expect(same(path::prefill_keys<R>(c.K, c.W, c.beta, B), want), [&] { return where() + " prefill_keys block " + std::to_string(B); }, L * D);
  }
};

std::vector<index_t> block_sizes(index_t L, bool all) {
  std::vector<index_t> out;
  if (all) {
    for (index_t b = 1; b <= L + 1; ++b) out.push_back(b);
    return out;
  }
  for (index_t b : {index_t(1), index_t(3), index_t(8), index_t(16), L / 2, L, L + 1})
    if (b >= 1 && std::find(out.begin(), out.end(), b) == out.end()) out.push_back(b);
  return out;
}

}  // namespace
}  // namespace ids

int main(int argc, char** argv) {
  using namespace ids;
  parse_options(argc, argv, "proof_decode_prefill: decode in-place update, decode logits with gates, prefill suffix products (docs/proofs.md)",
                {"decode-append-first", "gate-includes-j", "suffix-order", "prefill-no-transpose"});
  const Stopwatch clock;
  Proof p;
  const bool lng = options().long_run;
  for_each_exhaustive([&](const Config& c) { p.check(c, block_sizes(c.L(), true)); }, lng ? 1 : 2);
  std::cout << "exhaustive families done at " << clock.seconds() << " s\n";
  for_each_random(lng ? 40 : 6, lng ? 64 : 48, [&](const Config& c) { p.check(c, block_sizes(c.L(), c.L() <= 12)); }, 2);
  return verdict({&p.cache, &p.logit, &p.gated, &p.suffix, &p.prefill, &p.library}, {}, clock.seconds());
}
