// Identity proofs, part 4 (docs/proofs.md §7): forget gates in both conventions. The library's
// public entry point path::logits, for every algorithm (naive, naive_matrix, ut, blockwise at
// every block size), with GQA (two query heads on one key/value head) and varlen (cu_seqlens),
// equals the explicit definition
//   paper: s_ij = scale * r_ij + (g_{j+1} + ... + g_i)
//   fla:   s_ij = scale * (r_ij + g_{j+1} + ... + g_i)
// with r_ij from the explicit D x D products; and the blockwise tiles gated the way
// blockwise_forward gates them (cumulative_gate + gated_logit per tile) equal it too.
// Exact rational arithmetic, zero tolerance; exit status non-zero on any failure.
#include <algorithm>

#include "formulas.hpp"
#include "path/forward.hpp"

namespace ids {
namespace {

using path::GateConvention;

// The definition, written out: G_i - G_j = g_{j+1} + ... + g_i.
R definition(const R& r, const R& scale, const VecR& g, index_t i, index_t j, GateConvention conv, bool gated) {
  R gate = 0;
  if (gated)
    for (index_t t = j + 1; t <= i; ++t) gate += g(t);
  if (gated && planted("gate-includes-j")) gate += g(j);
  if (!gated && planted("ungated-scale")) return r;  // the scale dropped
  if (conv == GateConvention::fla && !planted("fla-unscaled-gate")) return scale * (r + gate);
  return scale * r + gate;
}

// Query head 1 reads the same key/value head with other queries and other gates.
Config second_head(const Config& c) {
  Config d = c;
  d.Q = R(2) * c.Q - c.K;
  for (index_t t = 0; t < c.L(); ++t) d.g(t) = c.g(c.L() - 1 - t) - R(1) / R(2);
  return d;
}

Config slice(const Config& c, index_t begin, index_t n) {
  Config d;
  d.family = c.family;
  d.W = c.W.middleRows(begin, n);
  d.Q = c.Q.middleRows(begin, n);
  d.K = c.K.middleRows(begin, n);
  d.beta = c.beta.segment(begin, n);
  d.g = c.g.segment(begin, n);
  return d;
}

struct Proof {
  Statement paper{"G1 path::logits == scale * r_ij + (G_i - G_j) [paper], every algorithm and block size, GQA, varlen"};
  Statement fla{"G2 path::logits == scale * (r_ij + G_i - G_j) [fla], every algorithm and block size, GQA, varlen"};
  Statement ungated{"G3 path::logits without a gate == scale * r_ij, every algorithm and block size"};
  Statement tiles{"G4 blockwise tiles gated as blockwise_forward does (cumulative_gate, gated_logit) == the definition, both conventions"};

  void check(const Config& c, const std::vector<index_t>& block_sizes) {
    const index_t L = c.L(), D = c.D();
    const Config heads[2] = {c, second_head(c)};
    const R scale = L % 2 ? R(1) / R(2) : R(-3) / R(4);
    // Sequences: the whole of it, or (varlen) two segments.
    for (bool varlen : {false, true}) {
      if (varlen && L < 2) continue;
      std::vector<index_t> cu{0, L};
      if (varlen) cu = {0, L / 2, L};
      // Expected logits per (segment, query head) from the explicit products.
      std::vector<std::vector<MatR>> raw(2);
      for (int hq = 0; hq < 2; ++hq)
        for (std::size_t sgm = 0; sgm + 1 < cu.size(); ++sgm)
          raw[hq].push_back(explicit_raw_logits(slice(heads[hq], cu[sgm], cu[sgm + 1] - cu[sgm])));
      for (int gate_mode = 0; gate_mode < 3; ++gate_mode) {  // paper, fla, no gate
        const bool gated = gate_mode < 2;
        if (!gated && varlen) continue;
        const GateConvention conv = gate_mode == 1 ? GateConvention::fla : GateConvention::paper;
        Statement& st = gate_mode == 0 ? paper : gate_mode == 1 ? fla : ungated;
        path::Problem<R> p;
        p.shape = path::Shape{1, L, 2, 1, D, 1};
        p.scale = scale;
        p.gate_convention = conv;
        if (varlen) p.cu_seqlens = cu;
        const path::Shape& s = p.shape;
        p.q.assign(s.q_size(), R(0));
        p.k.assign(s.k_size(), R(0));
        p.w.assign(s.k_size(), R(0));
        p.v.assign(s.v_size(), R(1));
        p.beta.assign(s.beta_size(), R(0));
        if (gated) p.g.assign(s.g_size(), R(0));
        for (index_t t = 0; t < L; ++t) {
          for (index_t d = 0; d < D; ++d) {
            for (int hq = 0; hq < 2; ++hq) p.q[path::flat_index(0, t, hq, d, L, 2, D)] = heads[hq].Q(t, d);
            p.k[path::flat_index(0, t, 0, d, L, 1, D)] = c.K(t, d);
            p.w[path::flat_index(0, t, 0, d, L, 1, D)] = c.W(t, d);
          }
          p.beta[static_cast<std::size_t>(t)] = c.beta(t);
          if (gated)
            for (int hq = 0; hq < 2; ++hq) p.g[path::flat_index(0, t, hq, 0, L, 2, 1)] = heads[hq].g(t);
        }
        std::vector<path::ForwardOptions> algorithms{{path::Algorithm::naive, 1}, {path::Algorithm::ut, 1}};
        if (D <= 4 && L <= 12) algorithms.push_back({path::Algorithm::naive_matrix, 1});
        for (index_t B : block_sizes) algorithms.push_back({path::Algorithm::blockwise, B});
        for (const auto& opt : algorithms) {
          st.config(c.family);
          const auto out = path::logits(p, opt);
          st.expect(out.size() == 2 * (cu.size() - 1), [&] { return c.describe() + " wrong number of slices"; });
          for (const auto& hl : out) {
            const std::size_t sgm = static_cast<std::size_t>(std::find(cu.begin(), cu.end(), hl.sequence.begin) - cu.begin());
            const Config seg = slice(heads[hl.query_head], hl.sequence.begin, hl.sequence.length);
            const MatR& r = raw[static_cast<std::size_t>(hl.query_head)][sgm];
            for (index_t i = 0; i < seg.L(); ++i)
              for (index_t j = 0; j <= i; ++j)
                st.expect(hl.logits(i, j) == definition(r(i, j), scale, seg.g, i, j, conv, gated), [&] {
                  return c.describe() + " " + std::string(path::to_string(opt.algorithm)) + " block " + std::to_string(opt.block_size) +
                         (varlen ? " varlen" : "") + " head " + std::to_string(hl.query_head) + " logit (" + std::to_string(i) + ", " +
                         std::to_string(j) + ") got " + str(hl.logits(i, j));
                });
          }
        }
        // G4: the tiles of the scan, gated per tile as blockwise_forward gates them.
        if (gated && !varlen) {
          for (int hq = 0; hq < 2; ++hq) {
            const path::HeadSlice<R> h = path::extract_slice(p, path::SequenceRange{0, 0, L}, hq);
            const VecR G = path::cumulative_gate(h);
            for (index_t B : block_sizes) {
              tiles.config(c.family);
              path::blockwise_scan(h, B, [&](index_t qb, index_t kb, const MatR& tile) {
                for (index_t i = 0; i < tile.rows(); ++i)
                  for (index_t j = 0; j < tile.cols(); ++j) {
                    if (kb + j > qb + i) continue;
                    const R s_ij = path::gated_logit<R>(tile(i, j), h.scale, G(qb + i) - G(kb + j), h.gate_convention);
                    tiles.expect(s_ij == definition(raw[hq][0](qb + i, kb + j), scale, heads[hq].g, qb + i, kb + j, conv, true),
                                 [&] { return c.describe() + " tile logit (" + std::to_string(qb + i) + ", " + std::to_string(kb + j) + ")"; });
                  }
              });
            }
          }
        }
      }
    }
  }
};

std::vector<index_t> block_sizes(index_t L, bool all) {
  std::vector<index_t> out;
  if (all) {
    for (index_t b = 1; b <= L + 1; ++b) out.push_back(b);
    return out;
  }
  for (index_t b : {index_t(1), index_t(4), index_t(16), L / 2 + 1, L + 1})
    if (b >= 1 && std::find(out.begin(), out.end(), b) == out.end()) out.push_back(b);
  return out;
}

}  // namespace
}  // namespace ids

int main(int argc, char** argv) {
  using namespace ids;
  parse_options(argc, argv, "proof_gates: path::logits with forget gates in both conventions, every algorithm (docs/proofs.md)",
                {"fla-unscaled-gate", "gate-includes-j", "ungated-scale"});
  const Stopwatch clock;
  Proof p;
  const bool lng = options().long_run;
  std::cout << "a case is one (configuration, gate mode, layout, algorithm/block size) evaluation of path::logits\n";
  for_each_exhaustive([&](const Config& c) { p.check(c, block_sizes(c.L(), true)); }, lng ? 2 : 10);
  std::cout << "exhaustive families done at " << clock.seconds() << " s\n";
  for_each_random(lng ? 20 : 3, lng ? 64 : 24, [&](const Config& c) { p.check(c, block_sizes(c.L(), c.L() <= 8)); }, 3);
  return verdict({&p.paper, &p.fla, &p.ungated, &p.tiles}, {}, clock.seconds());
}
