// Identity proofs, part 2 (docs/proofs.md §4): the blockwise algorithm of paper §3.3 -- block
// products, boundary-adjusted queries and keys, intra-block logits, and the right-to-left block
// scan reproducing every logit -- for every block size 1..L+1 on the small configurations and a
// spread of block sizes on the random ones; each statement against the explicit D x D products and
// the library's block_factors / blockwise_scan against the same definitions.
// Exact rational arithmetic, zero tolerance; exit status non-zero on any failure.
#include <algorithm>
#include <set>

#include "formulas.hpp"
#include "path/algorithms/blockwise.hpp"

namespace ids {
namespace {

struct Proof {
  Statement block_product{"B1 block product: P_m = H_s...H_e = I - W_m^T A_m W_m, A_m the block's own factor"};
  Statement q_adjusted{"B2 boundary-adjusted queries: H_s...H_i q_i = (Q_m - WQm^T A_m^T W_m)_i, WQm = upper(W_m Q_m^T)"};
  Statement k_adjusted{"B3 boundary-adjusted keys: H_e...H_{j+1} k_j = (K_m - KWm A_m W_m)_j, KWm = strictUpper(K_m W_m^T)"};
  Statement intra{"B4 intra-block logits: r_ij = k_j.q_i - (KWm A_m WQm)_ji, j <= i in one block"};
  Statement across{"B5 across blocks: r_ij = k~_j^T P_{m+1}...P_{n-1} q~_i, key block m < query block n"};
  Statement scan{"B6 right-to-left scan: X <- X - (X W_m^T) A_m^T W_m from X = Q~_n reproduces every logit"};
  Statement library{"B7 library: block_factors (A, q~, k~, intra) and blockwise_scan tiles == the definitions, each causal pair once"};

  void check(const Config& c, const std::vector<index_t>& block_sizes) {
    const index_t L = c.L(), D = c.D();
    const bool small = D <= 4;
    const std::vector<MatR> H = small ? householders(c) : std::vector<MatR>{};
    auto apply = [&](index_t t, VecR& x) {  // x <- H_t x, explicitly
      if (small) {
        x = H[static_cast<std::size_t>(t)] * x;
      } else {
        const R along = c.beta(t) * c.W.row(t).dot(x.transpose());
        x -= along * c.W.row(t).transpose();
      }
    };
    auto product = [&](index_t a, index_t b) {  // H_a ... H_b, explicitly
      if (small) return product_forward(H, D, a, b);
      MatR P = MatR::Identity(D, D);
      for (index_t t = a; t <= b; ++t) times_h_right(P, c, t);
      return P;
    };
    const MatR r = explicit_raw_logits(c);
    const std::string& fam = c.family;
    path::HeadSlice<R> h;
    h.q = c.Q;
    h.k = c.K;
    h.w = c.W;
    h.beta = c.beta;
    h.v = path::zeros<R>(L, 1);

    for (index_t B : block_sizes) {
      auto where = [&] { return c.describe() + " block size " + std::to_string(B); };
      struct Block {
        index_t s, n;
        MatR W, A, P, Qt, Kt;
      };
      std::vector<Block> blocks;
      for (Statement* st : {&block_product, &q_adjusted, &k_adjusted, &intra, &across, &scan, &library}) st->config(fam);
      for (index_t s = 0; s < L; s += B) {
        Block b;
        b.s = s;
        b.n = std::min(B, L - s);
        const index_t e = s + b.n - 1;
        b.W = c.W.middleRows(s, b.n);
        b.A = factor_forward(b.W, c.beta.segment(s, b.n));
        b.P = product(s, e);
        b.Qt = adjusted_queries(c.Q.middleRows(s, b.n), b.W, b.A);
        b.Kt = adjusted_keys(c.K.middleRows(s, b.n), b.W, b.A);
        blocks.push_back(b);

        block_product.expect(same(b.P, compact(b.W, b.A)), [&] { return where() + " block at " + std::to_string(s); }, D * D);

        for (index_t i = s; i <= e; ++i) {
          VecR x = c.Q.row(i).transpose();
          for (index_t t = i; t >= s; --t) apply(t, x);  // H_s ... H_i q_i
          q_adjusted.expect(x.transpose() == b.Qt.row(i - s), [&] { return where() + " query " + std::to_string(i); }, D);
          VecR y = c.K.row(i).transpose();
          for (index_t t = i + 1; t <= e; ++t) apply(t, y);  // H_e ... H_{i+1} k_i
          k_adjusted.expect(y.transpose() == b.Kt.row(i - s), [&] { return where() + " key " + std::to_string(i); }, D);
        }

        const MatR Qm = c.Q.middleRows(s, b.n), Km = c.K.middleRows(s, b.n);
        const MatR corr = mask_keys_later_w(Km, b.W) * b.A * mask_w_earlier_queries(b.W, Qm);
        for (index_t i = 0; i < b.n; ++i)
          for (index_t j = 0; j <= i; ++j)
            intra.expect(Km.row(j).dot(Qm.row(i)) - corr(j, i) == r(s + i, s + j),
                         [&] { return where() + " pair (" + std::to_string(s + i) + ", " + std::to_string(s + j) + ")"; });

        // The library's block: same factor, same adjusted vectors, same intra-block logits.
        const path::BlockFactors<R> f = path::block_factors<R>(h, s, b.n);
        library.expect(same(f.A, b.A) && same(f.q_adjusted, b.Qt) && same(f.k_adjusted, b.Kt),
                       [&] { return where() + " block_factors at " + std::to_string(s); }, b.n * b.n + 2 * b.n * D);
        for (index_t i = 0; i < b.n; ++i)
          for (index_t j = 0; j <= i; ++j)
            library.expect(f.intra(i, j) == r(s + i, s + j), [&] { return where() + " block_factors.intra"; });
      }

      // B5: across blocks with the explicit block products.
      for (std::size_t n = 0; n < blocks.size(); ++n) {
        MatR between = MatR::Identity(D, D);  // P_{m+1} ... P_{n-1}
        for (std::size_t m = n; m-- > 0;) {
          const MatR tile = blocks[m].Kt * between * blocks[n].Qt.transpose();  // [j, i]
          for (index_t i = 0; i < blocks[n].n; ++i)
            for (index_t j = 0; j < blocks[m].n; ++j)
              across.expect(tile(j, i) == r(blocks[n].s + i, blocks[m].s + j),
                            [&] { return where() + " pair (" + std::to_string(blocks[n].s + i) + ", " + std::to_string(blocks[m].s + j) + ")"; });
          between = blocks[m].P * between;
        }
      }

      // B6: our own right-to-left scan.
      for (std::size_t n = 0; n < blocks.size(); ++n) {
        MatR X = blocks[n].Qt;
        for (std::size_t m = n; m-- > 0;) {
          const MatR tile = X * blocks[m].Kt.transpose();  // [i, j]
          for (index_t i = 0; i < blocks[n].n; ++i)
            for (index_t j = 0; j < blocks[m].n; ++j)
              scan.expect(tile(i, j) == r(blocks[n].s + i, blocks[m].s + j),
                          [&] { return where() + " pair (" + std::to_string(blocks[n].s + i) + ", " + std::to_string(blocks[m].s + j) + ")"; });
          if (m > 0) scan_apply(X, blocks[m].W, blocks[m].A);
        }
      }

      // B7: the library's scan: every causal pair exactly once, with the definition's value.
      MatR seen = path::zeros<R>(L, L);
      bool tiles_ok = true;
      path::blockwise_scan(h, B, [&](index_t qb, index_t kb, const MatR& tile) {
        for (index_t i = 0; i < tile.rows(); ++i)
          for (index_t j = 0; j < tile.cols(); ++j) {
            if (kb + j > qb + i) continue;
            seen(qb + i, kb + j) += 1;
            tiles_ok = tiles_ok && tile(i, j) == r(qb + i, kb + j);
          }
      });
      bool once = true;
      for (index_t i = 0; i < L; ++i)
        for (index_t j = 0; j < L; ++j) once = once && seen(i, j) == R(j <= i ? 1 : 0);
      library.expect(tiles_ok && once, [&] { return where() + (tiles_ok ? " a causal pair not visited exactly once" : " a tile differs"); },
                     L * (L + 1) / 2);
    }
  }
};

// Block sizes for a sequence of length L: all of 1..L+1 when `all`, else a spread.
std::vector<index_t> block_sizes(index_t L, bool all) {
  std::set<index_t> s;
  if (all) {
    for (index_t b = 1; b <= L + 1; ++b) s.insert(b);
  } else {
    for (index_t b : {index_t(1), index_t(2), index_t(3), index_t(5), index_t(8), index_t(16), L / 2, L - 1, L, L + 1})
      if (b >= 1) s.insert(b);
  }
  return {s.begin(), s.end()};
}

}  // namespace
}  // namespace ids

int main(int argc, char** argv) {
  using namespace ids;
  parse_options(argc, argv, "proof_blockwise: paper 3.3 block products, adjusted q/k, intra tiles, right-to-left scan (docs/proofs.md)",
                {"qtilde-transpose", "ktilde-mask", "scan-transpose", "forward-no-beta"});
  const Stopwatch clock;
  Proof p;
  const bool lng = options().long_run;
  // Every block size 1..L+1 on each small configuration (every third one in the default setting).
  for_each_exhaustive([&](const Config& c) { p.check(c, block_sizes(c.L(), true)); }, lng ? 1 : 3);
  std::cout << "exhaustive families done at " << clock.seconds() << " s\n";
  for_each_random(lng ? 40 : 6, lng ? 64 : 32, [&](const Config& c) { p.check(c, block_sizes(c.L(), c.L() <= 12)); }, 1);
  return verdict({&p.block_product, &p.q_adjusted, &p.k_adjusted, &p.intra, &p.across, &p.scan, &p.library}, {},
                 clock.seconds());
}
