// The forward error bound of the double-precision oracles for any w and beta (error_bound.hpp,
// docs/proofs.md §8), checked against mp100 (100 decimal digits) on random cases: unit w with
// beta in [0, 2] (the regime of docs/error-model.md), unnormalized w with beta up to 3, beta up to
// 3 with unit w, near-colinear w, and edge values (beta in {0, 2, 3}, w = 0, |w| = 2). For the
// naive and the blockwise oracle (block 16 and 64), per (query, key) pair and per output row, the
// observed error of the raw logits, the final logits (gate, both conventions), o and lse is
// compared with the bound; the program prints the largest observed/bound ratio of each and fails
// if any exceeds 1. Not exact arithmetic: a floating-point bound checked against a 100-digit one.
#include <cmath>
#include <iomanip>
#include <random>

#include "path/core/random.hpp"
#include "common.hpp"
#include "path/error_model_general.hpp"
#include "path/forward.hpp"

namespace ids {
namespace {

using path::mp100;

struct Family {
  const char* name;
  int id;
};

const Family kFamilies[] = {{"unit w, beta in [0,2]", 0},
                            {"|w| in [1/4,3/2], beta in [0,3]", 1},
                            {"unit w, beta in [0,3]", 2},
                            {"near-colinear unit w", 3},
                            {"edges: beta in {0,2,3}, w in {0, unit, 2 unit}", 4}};

// Largest log10 of the product of ||H_t|| allowed in a case (keeps every value finite in double).
constexpr double kMaxLog10Growth = 120;

path::Problem<double> make_problem(const Family& f, path::index_t T, path::index_t D, path::random::Rng& rng, bool fla) {
  path::Problem<double> p;
  p.shape = path::Shape{1, T, 1, 1, D, 4};
  p.scale = 1.0 / std::sqrt(static_cast<double>(D));
  p.gate_convention = fla ? path::GateConvention::fla : path::GateConvention::paper;
  const path::Shape& s = p.shape;
  p.q.resize(s.q_size());
  p.k.resize(s.k_size());
  p.v.resize(s.v_size());
  p.w.resize(s.k_size());
  p.beta.resize(s.beta_size());
  p.g.resize(s.g_size());
  for (auto* t : {&p.q, &p.k, &p.v}) for (double& x : *t) x = path::random::normal(rng);
  for (double& x : p.g) x = -std::log1p(std::exp(-(path::random::normal(rng) + 2.0)));
  std::vector<double> base(static_cast<std::size_t>(D));
  for (double& x : base) x = path::random::normal(rng);
  double log10_growth = 0;
  for (path::index_t t = 0; t < T; ++t) {
    double* w = &p.w[static_cast<std::size_t>(t * D)];
    double n2 = 0;
    for (path::index_t d = 0; d < D; ++d) {
      w[d] = f.id == 3 ? base[static_cast<std::size_t>(d)] + 1e-3 * path::random::normal(rng) : path::random::normal(rng);
      n2 += w[d] * w[d];
    }
    double norm = 1.0, beta = 2.0 * path::random::uniform01(rng);
    if (f.id == 1) {
      norm = 0.25 + 1.25 * path::random::uniform01(rng);
      beta = 3.0 * path::random::uniform01(rng);
    }
    if (f.id == 2) beta = 3.0 * path::random::uniform01(rng);
    if (f.id == 4) {
      const int kind = static_cast<int>(path::random::integer(rng, 0, 2));
      norm = kind == 0 ? 0.0 : kind == 1 ? 1.0 : 2.0;
      const int bk = static_cast<int>(path::random::integer(rng, 0, 2));
      beta = bk == 0 ? 0.0 : bk == 1 ? 2.0 : 3.0;
    }
    for (path::index_t d = 0; d < D; ++d) w[d] *= n2 > 0 ? norm / std::sqrt(n2) : 0.0;
    double w2 = 0;
    for (path::index_t d = 0; d < D; ++d) w2 += w[d] * w[d];
    double hn = std::max(1.0, std::abs(1.0 - beta * w2));
    if (log10_growth + std::log10(hn) > kMaxLog10Growth) {  // keep the case finite: a contraction here
      beta = w2 > 0 ? (2.0 / w2) * path::random::uniform01(rng) : beta;
      hn = std::max(1.0, std::abs(1.0 - beta * w2));
    }
    log10_growth += std::log10(hn);
    p.beta[static_cast<std::size_t>(t)] = beta;
  }
  return p;
}

struct Worst {
  double raw = 0, final = 0, o = 0, lse = 0;
  void merge(const Worst& w) {
    raw = std::max(raw, w.raw);
    final = std::max(final, w.final);
    o = std::max(o, w.o);
    lse = std::max(lse, w.lse);
  }
  double max() const { return std::max({raw, final, o, lse}); }
};

double ratio(double err, double bound) {
  if (err == 0) return 0;
  if (!(bound > 0) || !std::isfinite(err)) return INFINITY;
  return err / bound;
}

// |x - ref| for a double result against the mp100 reference (the difference formed in mp100).
double error(double x, const mp100& ref) { return std::abs(path::to_double(mp100(x) - ref)); }

path::Mat<double> to_double(const path::Mat<mp100>& m) {
  path::Mat<double> d(m.rows(), m.cols());
  for (path::index_t i = 0; i < m.rows(); ++i)
    for (path::index_t j = 0; j < m.cols(); ++j) d(i, j) = path::to_double(m(i, j));
  return d;
}

}  // namespace
}  // namespace ids

int main(int argc, char** argv) {
  using namespace ids;
  parse_options(argc, argv, "proof_error_bound: double naive and blockwise oracles vs mp100 against the general-w, general-beta bound (docs/proofs.md)",
                {"bound-no-growth"});
  const Stopwatch clock;
  const bool lng = options().long_run;
  path::error_model::general::Options bopt;
  bopt.drop_growth = planted("bound-no-growth");
  const double u = std::numeric_limits<double>::epsilon() / 2;
  struct Size {
    path::index_t T, D;
    int draws;
  };
  std::vector<Size> sizes{{1, 4, 3}, {7, 3, 3}, {33, 16, 3}, {130, 16, 3}};
  if (lng) {
    for (Size& s : sizes) s.draws = 10;
    sizes.push_back({257, 16, 4});
    sizes.push_back({513, 32, 2});
    sizes.push_back({1024, 16, 1});
  }
  const path::index_t blocks[] = {16, 64};
  path::random::Rng rng(options().seed);
  long long cases = 0, failures = 0;
  std::string first_failure;
  std::cout << std::setprecision(3);
  std::cout << "largest observed/bound ratio (must be <= 1): raw logits, final logits, o, lse\n";
  for (const Family& f : kFamilies) {
    Worst worst[3];  // naive, blockwise 16, blockwise 64
    std::string per_T;
    for (const auto& [T, D, draws] : sizes) {
      Worst at_T[3];
      for (int draw = 0; draw < draws; ++draw) {
        const path::Problem<double> p = make_problem(f, T, D, rng, (draw + T) % 2 == 1);
        const path::Problem<mp100> pm = path::convert_problem<mp100>(p);
        const path::SequenceRange seq{0, 0, T};
        const path::HeadSlice<double> h = path::extract_slice(p, seq, 0);
        const path::HeadSlice<mp100> hm = path::extract_slice(pm, seq, 0);
        // Reference: mp100 naive products, its final logits and softmax.
        const path::Mat<mp100> r_ref = path::naive_raw_logits(hm);
        const path::Mat<mp100> s_ref = path::final_logits(hm, r_ref);
        const path::HeadOutput<mp100> out_ref = path::softmax_attention(s_ref, hm.v);
        const path::Mat<double> r_refd = to_double(r_ref), s_refd = to_double(s_ref);
        path::Vec<double> lse_refd(T);
        for (path::index_t i = 0; i < T; ++i) lse_refd(i) = path::to_double(out_ref.lse(i));
        double max_v = 0;
        for (double x : p.v) max_v = std::max(max_v, std::abs(x));
        for (int a = 0; a < 3; ++a) {
          ++cases;
          const path::ForwardOptions opt = a == 0 ? path::ForwardOptions{path::Algorithm::naive, 1}
                                                  : path::ForwardOptions{path::Algorithm::blockwise, blocks[a - 1]};
          const path::Mat<double> r = a == 0 ? path::naive_raw_logits(h) : path::blockwise_raw_logits(h, opt.block_size);
          const path::Mat<double> s = path::logits(p, opt)[0].logits;
          const path::ForwardResult<double> out = path::forward(p, opt);
          const path::Mat<double> dr = a == 0 ? path::error_model::general::naive_raw(h, u, bopt) : path::error_model::general::blockwise_raw(h, opt.block_size, u, bopt);
          const path::Mat<double> ds = path::error_model::general::final_logits(h, dr, r_refd, s_refd, u);
          const path::index_t B = opt.block_size;
          const path::error_model::general::SoftmaxBound sb = path::error_model::general::softmax(ds, s_refd, lse_refd, max_v, u, [&](path::index_t i) {
            return a == 0 ? path::index_t(0) : i / B + 1;
          });
          Worst w;
          for (path::index_t i = 0; i < T; ++i) {
            for (path::index_t j = 0; j <= i; ++j) {
              w.raw = std::max(w.raw, ratio(error(r(i, j), r_ref(i, j)), dr(i, j)));
              w.final = std::max(w.final, ratio(error(s(i, j), s_ref(i, j)), ds(i, j)));
            }
            for (path::index_t d = 0; d < 4; ++d)
              w.o = std::max(w.o, ratio(error(out.o[static_cast<std::size_t>(i * 4 + d)], out_ref.o(i, d)), sb.o(i)));
            w.lse = std::max(w.lse, ratio(error(out.lse[static_cast<std::size_t>(i)], out_ref.lse(i)), sb.lse(i)));
          }
          if (w.max() > 1) {
            if (failures++ == 0) {
              std::ostringstream msg;
              msg << f.name << ", T=" << T << " D=" << D << ", " << path::to_string(opt.algorithm)
                  << (a ? " block " + std::to_string(B) : std::string()) << ": ratios raw " << w.raw << " final " << w.final
                  << " o " << w.o << " lse " << w.lse;
              first_failure = msg.str();
            }
            if (!options().plant.empty()) {
              std::cout << "FAILED under the planted bug: " << first_failure << "\nFAIL\n";
              return 1;
            }
          }
          at_T[a].merge(w);
          worst[a].merge(w);
        }
      }
      std::ostringstream t;
      t << " T=" << T << ": " << at_T[0].raw << "/" << at_T[1].raw << "/" << at_T[2].raw;
      per_T += t.str();
    }
    std::cout << "  " << f.name << "\n";
    const char* names[3] = {"naive", "blockwise 16", "blockwise 64"};
    for (int a = 0; a < 3; ++a)
      std::cout << "    " << std::setw(13) << std::left << names[a] << std::right << " raw " << worst[a].raw << "  final "
                << worst[a].final << "  o " << worst[a].o << "  lse " << worst[a].lse << "\n";
    std::cout << "    raw-logit ratio by T (naive/blockwise 16/blockwise 64):" << per_T << "\n" << std::flush;
  }
  std::cout << cases << " oracle runs (" << sizeof(kFamilies) / sizeof(kFamilies[0]) << " families x (T, D, draws) in";
  for (const Size& s : sizes) std::cout << " (" << s.T << ", " << s.D << ", " << s.draws << ")";
  std::cout << " x 3 oracles), " << failures << " over the bound\n";
  if (failures) std::cout << "  first: " << first_failure << "\n";
  std::cout << "time " << clock.seconds() << " s\n" << (failures == 0 ? "PASS" : "FAIL") << "\n";
  return failures == 0 ? 0 : 1;
}
