// The generators of docs/fuzzing.md: what RapidCheck draws and shrinks (small integers and a
// seed), and our own transforms from a choice to a case's tensors.
#include "path/properties/generators.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <ostream>
#include <stdexcept>

#include "path/core/random.hpp"
#include "path/core/rounding.hpp"
#include "path/validate.hpp"

namespace path::properties {

namespace {

using random::Rng;

// An integer generator whose value is our own pick from the random bits (`draw(rng, size)`) and
// which shrinks like RapidCheck's integers, toward `target`: the target first, then halving the
// distance. The pick can favour interesting values (primes, block multiples +-1, exact zeros)
// while the shrink still walks every integer down to the smallest one that fails.
template <class Draw>
rc::Gen<int> drawn_int(int target, Draw draw) {
  return rc::Gen<int>([=](const rc::Random& random, int size) {
    Rng rng(rc::Random(random).next());
    const int x = draw(rng, size);
    return rc::shrinkable::shrinkRecur(x, [=](int v) { return rc::shrink::towards(v, target); });
  });
}

int percent(Rng& r) { return static_cast<int>(random::integer(r, 0, 99)); }
int between(Rng& r, int lo, int hi) { return static_cast<int>(random::integer(r, lo, std::max(lo, hi))); }

// The longest length a draw of RapidCheck size `size` may take: the campaign ramps the size, so
// its first cases are short and cheap.
int length_cap(int max_tokens, int size) {
  const int s = std::clamp(size, 0, rc::kNominalSize);
  return std::max(2, max_tokens * s / rc::kNominalSize);
}

// A sequence length in [1, cap]: T = 1..3, a prime, a multiple of a block size (16 .. 256) +-1, or
// any length -- the lengths at which blocked kernels go wrong.
int draw_length(Rng& r, int cap) {
  static const int primes[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 61, 67, 97, 127, 131, 193, 251, 257};
  const int kind = percent(r);
  if (kind < 10) return between(r, 1, std::min(3, cap));
  if (kind < 35) {
    int n = 0;
    while (n < static_cast<int>(std::size(primes)) && primes[n] <= cap) ++n;
    if (n > 0) return primes[between(r, 0, n - 1)];
  } else if (kind < 70) {
    static const int blocks[] = {16, 32, 64, 128, 256};
    int n = 0;
    while (n < static_cast<int>(std::size(blocks)) && blocks[n] <= cap + 1) ++n;
    if (n > 0) {
      const int block = blocks[between(r, 0, n - 1)];
      const int multiple = between(r, 1, std::max(1, (cap + 1) / block));
      return std::clamp(multiple * block + between(r, -1, 1), 1, cap);
    }
  }
  return between(r, 1, cap);
}

// A distribution kind: `standard_percent` of the draws the standard one (kind 0), the rest
// spread evenly over the others.
rc::Gen<int> kind_gen(int kinds, int standard_percent) {
  return drawn_int(0, [=](Rng& r, int) { return percent(r) < standard_percent ? 0 : between(r, 1, kinds - 1); });
}

rc::Gen<int> detail_gen() {
  return drawn_int(0, [](Rng& r, int) { return percent(r) < 75 ? kFullDetail : between(r, 0, kFullDetail); });
}

// Shrinks of a token list: shorter prefixes first (lengths toward `min_length` as integers
// shrink), then chunks of n/2, n/4, ... tokens removed at aligned offsets, down to chunks of n/8
// (single tokens once n < 16). At most log2(n) + 14 candidates, against removeChunks' n^2/2:
// every candidate costs an oracle evaluation, and the driver revisits them after every step.
rc::Seq<std::vector<int>> token_shrinks(const std::vector<int>& ids, std::size_t min_length) {
  std::vector<std::vector<int>> out;
  const std::size_t n = ids.size();
  if (n > min_length) {
    rc::Seq<std::size_t> lengths = rc::shrink::towards<std::size_t>(n, min_length);
    while (rc::Maybe<std::size_t> k = lengths.next()) out.emplace_back(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(*k));
  }
  const std::size_t smallest = std::max<std::size_t>(1, n / 8);
  for (std::size_t chunk = n / 2; chunk >= smallest; chunk /= 2)
    for (std::size_t at = 0; at + chunk <= n; at += chunk) {
      if (n - chunk < min_length) continue;
      std::vector<int> c(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(at));
      c.insert(c.end(), ids.begin() + static_cast<std::ptrdiff_t>(at + chunk), ids.end());
      out.push_back(std::move(c));
    }
  return rc::seq::fromContainer(std::move(out));
}

std::vector<int> iota_ids(int first, int n) {
  std::vector<int> v(static_cast<std::size_t>(std::max(0, n)));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = first + i;
  return v;
}

rc::Gen<std::vector<int>> tokens_gen(int max_tokens) {
  return rc::Gen<std::vector<int>>([=](const rc::Random& random, int size) {
    Rng r(rc::Random(random).next());
    return rc::shrinkable::shrinkRecur(iota_ids(0, draw_length(r, length_cap(max_tokens, size))),
                                       [](const std::vector<int>& v) { return token_shrinks(v, 1); });
  });
}

// Kv head ids 0 .. n-1, n in [1, max_heads]; shrinks by removing any run of heads, one kept.
rc::Gen<std::vector<int>> heads_gen(int max_heads) {
  return rc::Gen<std::vector<int>>([=](const rc::Random& random, int) {
    Rng r(rc::Random(random).next());
    return rc::shrinkable::shrinkRecur(iota_ids(0, between(r, 1, max_heads)), [](const std::vector<int>& v) {
      return rc::seq::filter(rc::shrink::removeChunks(v), [](const std::vector<int>& c) { return !c.empty(); });
    });
  });
}

// Varlen sequences: none (no varlen) for most draws; else 1 to 4 sequences, each empty, of length
// 1, or any length. Shrinks by removing sequences, then tokens of each (down to an empty one).
rc::Gen<std::vector<std::vector<int>>> segments_gen(const GeneratorOptions& o) {
  const bool varlen = o.varlen;
  const int max_tokens = o.max_tokens;
  using Segments = std::vector<std::vector<int>>;
  return rc::Gen<Segments>([=](const rc::Random& random, int size) {
    Rng r(rc::Random(random).next());
    Segments segments;
    if (varlen && percent(r) >= 60) {
      const int n = between(r, 2, 4);  // one sequence is the dense case (make_spec)
      const int cap = std::max(1, length_cap(max_tokens, size) / n);
      int next_id = 0;
      for (int i = 0; i < n; ++i) {
        const int kind = percent(r);
        const int length = kind < 15 ? 0 : kind < 30 ? 1 : draw_length(r, cap);
        segments.push_back(iota_ids(next_id, length));
        next_id += length;
      }
    }
    return rc::shrinkable::shrinkRecur(segments, [](const Segments& v) {
      return rc::seq::concat(rc::shrink::removeChunks(v),
                             rc::shrink::eachElement(v, [](const std::vector<int>& ids) { return token_shrinks(ids, 0); }));
    });
  });
}

rc::Gen<int> flag_gen(bool allowed, int percent_on) {
  if (!allowed) return rc::gen::just(0);
  return drawn_int(0, [=](Rng& r, int) { return percent(r) < percent_on ? 1 : 0; });
}

rc::Gen<std::uint64_t> seed_gen() {
  // The seed is what reproduces the values: it never shrinks.
  return rc::Gen<std::uint64_t>(
      [](const rc::Random& random, int) { return rc::shrinkable::just(rc::Random(random).next()); });
}

rc::Gen<ValueChoice> value_gen() {
  return rc::gen::map(
      rc::gen::tuple(kind_gen(kLogitKinds, 75), kind_gen(kWKinds, 55), kind_gen(kBetaKinds, 50),
                     kind_gen(kGateKinds, 50), detail_gen(), detail_gen(), detail_gen(), detail_gen(), detail_gen(),
                     detail_gen(), detail_gen(), seed_gen()),
      [](const std::tuple<int, int, int, int, int, int, int, int, int, int, int, std::uint64_t>& t) {
        ValueChoice v;
        v.logits = static_cast<LogitKind>(std::get<0>(t));
        v.w = static_cast<WKind>(std::get<1>(t));
        v.beta = static_cast<BetaKind>(std::get<2>(t));
        v.gate = static_cast<GateKind>(std::get<3>(t));
        v.q_detail = std::get<4>(t);
        v.k_detail = std::get<5>(t);
        v.v_detail = std::get<6>(t);
        v.w_detail = std::get<7>(t);
        v.beta_detail = std::get<8>(t);
        v.g_detail = std::get<9>(t);
        v.do_detail = std::get<10>(t);
        v.seed = std::get<11>(t);
        return v;
      });
}

// ---- values ------------------------------------------------------------------------------

double quantize(double x, int detail) {
  if (detail >= kFullDetail) return x;
  return std::ldexp(std::nearbyint(std::ldexp(x, detail)), -detail);  // exact scaling by 2^detail
}

// log sigmoid(x) from portable operations (the same bits on every standard library).
double log_sigmoid(double x) {
  using random::portable_exp, random::portable_log;
  return x >= 0 ? -portable_log(1 + portable_exp(-x)) : x - portable_log(1 + portable_exp(x));
}

void normalize(double* x, index_t n) {
  double n2 = 0;
  for (index_t i = 0; i < n; ++i) n2 += x[i] * x[i];
  if (n2 == 0) return;
  const double norm = std::sqrt(n2);
  for (index_t i = 0; i < n; ++i) x[i] /= norm;
}

// Token identities, one per (batch row, position): a dense batch's row b reuses the ids of
// `tokens` offset by b * 2^20; varlen ids are the sequences' own.
std::vector<std::uint64_t> token_ids(const FuzzChoice& c, const Shape& s) {
  std::vector<std::uint64_t> ids;
  if (c.segments.size() == 1) {  // the dense case (make_spec)
    for (int id : c.segments[0]) ids.push_back(static_cast<std::uint64_t>(id));
    return ids;
  }
  if (!c.segments.empty()) {
    for (const std::vector<int>& seq : c.segments)
      for (int id : seq) ids.push_back(static_cast<std::uint64_t>(id));
    return ids;
  }
  for (index_t b = 0; b < s.B; ++b)
    for (int id : c.tokens) ids.push_back(static_cast<std::uint64_t>(id) + (static_cast<std::uint64_t>(b) << 20));
  return ids;
}

// The stream of one family's values of one token.
Rng token_rng(std::uint64_t family_seed, std::uint64_t id) {
  return Rng(random::SplitMix64::mix(family_seed + 0x9e3779b97f4a7c15ULL * (id + 1)));
}

// Rows of `width` values per token, each token's from its own stream.
template <class Draw>
void per_token_rows(std::vector<double>& x, std::size_t width, const std::vector<std::uint64_t>& ids,
                    std::uint64_t family_seed, Draw draw) {
  x.resize(ids.size() * width);
  for (std::size_t p = 0; p < ids.size(); ++p) {
    Rng r = token_rng(family_seed, ids[p]);
    for (std::size_t e = 0; e < width; ++e) x[p * width + e] = draw(r, ids[p], e);
  }
}

void draw_w(Problem<double>& p, const ValueChoice& v, const std::vector<std::uint64_t>& ids, std::uint64_t seed) {
  const Shape& s = p.shape;
  std::vector<double> base(static_cast<std::size_t>(s.H * s.D));
  Rng rb(random::derive_seed(seed, "w-direction"));
  for (double& x : base) x = random::normal(rb);
  for (index_t h = 0; h < s.H; ++h) normalize(&base[static_cast<std::size_t>(h * s.D)], s.D);
  const std::size_t width = static_cast<std::size_t>(s.H * s.D);
  per_token_rows(p.w, width, ids, random::derive_seed(seed, "w"), [](Rng& r, std::uint64_t, std::size_t) { return random::normal(r); });
  const double root_d = std::sqrt(static_cast<double>(s.D));
  for (std::size_t row = 0; row < p.beta.size(); ++row) {
    double* w = &p.w[row * static_cast<std::size_t>(s.D)];
    const auto h = static_cast<index_t>(row % static_cast<std::size_t>(s.H));
    const std::uint64_t id = ids[row / static_cast<std::size_t>(s.H)];
    if (v.w == WKind::colinear)
      for (index_t d = 0; d < s.D; ++d) w[d] = base[static_cast<std::size_t>(h * s.D + d)] + 1e-3 * w[d];
    normalize(w, s.D);
    if (v.w_detail < kFullDetail) {
      // Coarse unit vectors: components times sqrt(D) (about N(0, 1)) on the 2^-L grid, renormalized;
      // at L = 0 they are like (1, 0, -1, ...) / sqrt(k). All components rounding to 0 gives e_0.
      bool any = false;
      for (index_t d = 0; d < s.D; ++d) any |= (w[d] = quantize(w[d] * root_d, v.w_detail)) != 0;
      if (!any) w[0] = 1;
      normalize(w, s.D);
    }
    if (v.w == WKind::zero || (v.w == WKind::half_zero && id % 2 == 0)) std::fill(w, w + s.D, 0.0);
  }
}

double draw_beta(Rng& r, const ValueChoice& v, std::uint64_t id) {
  double b = 2 * random::uniform01(r);
  if (v.beta == BetaKind::near_zero) b = id % 4 == 0 ? 0.0 : 1e-3 * random::uniform01(r);
  if (v.beta == BetaKind::near_two) b = id % 4 == 0 ? 2.0 : 2.0 - 1e-3 * random::uniform01(r);
  return std::clamp(quantize(b, v.beta_detail), 0.0, 2.0);
}

double draw_gate(Rng& r, const ValueChoice& v, std::uint64_t id) {
  double g = log_sigmoid(random::normal(r) + 2.0);
  if (v.gate == GateKind::near_zero) g = id % 4 == 0 ? 0.0 : -1e-3 * random::uniform01(r);
  if (v.gate == GateKind::strong_negative) g = -5.0 - 15.0 * random::uniform01(r);
  return std::min(0.0, quantize(g, v.g_detail));
}

void draw_normal(std::vector<double>& x, std::size_t width, double sigma, int detail, const std::vector<std::uint64_t>& ids,
                 std::uint64_t family_seed) {
  per_token_rows(x, width, ids, family_seed,
                 [&](Rng& r, std::uint64_t, std::size_t) { return quantize(sigma * random::normal(r), detail); });
}

std::string gate_name(const conformance::CaseSpec& s) {
  return s.gated ? std::string(path::to_string(s.gate_convention)) : "none";
}

}  // namespace

void check(const GeneratorOptions& o) {
  if (o.head_dims.empty()) throw std::invalid_argument("head dims: give at least one");
  for (int d : o.head_dims)
    if (d < 1 || d > 1024) throw std::invalid_argument("head dims: " + std::to_string(d) + " is outside [1, 1024]");
  if (o.max_tokens < 1 || o.max_tokens > 1 << 20)
    throw std::invalid_argument("max tokens: " + std::to_string(o.max_tokens) + " is outside [1, 2^20]");
  if (o.max_kv_heads < 1 || o.max_group < 1 || o.max_batch < 1)
    throw std::invalid_argument("max heads, group and batch must be at least 1");
  if (!o.prefill && !o.decode) throw std::invalid_argument("neither prefill nor decode cases allowed: nothing to draw");
}

rc::Gen<FuzzChoice> fuzz_choice(const GeneratorOptions& options) {
  check(options);
  const GeneratorOptions o = options;
  const int dims = static_cast<int>(o.head_dims.size());
  // Component order = shrinking order (header): first what multiplies the cost of every later
  // candidate (batch, heads, head dims, gradients), so that the many token candidates are judged on
  // a small case, then the tokens, the varlen sequences, the gate and the mode.
  auto shape = rc::gen::tuple(
      rc::gen::inRange(1, o.max_batch + 1), heads_gen(o.max_kv_heads), rc::gen::inRange(1, o.max_group + 1),
      rc::gen::inRange(0, dims), drawn_int(0, [=](Rng& r, int) { return percent(r) < 70 ? 0 : between(r, 1, dims); }),
      flag_gen(o.gradients, 50), tokens_gen(o.max_tokens), segments_gen(o),
      o.gates ? rc::gen::inRange(0, 3) : rc::gen::just(0), o.prefill ? flag_gen(o.decode, 25) : rc::gen::just(1),
      drawn_int(0, [=](Rng& r, int size) {
        const int cap = length_cap(o.max_tokens, size), kind = percent(r);
        return kind < 20 ? 0 : kind < 40 ? cap : between(r, 0, cap);
      }));
  return rc::gen::map(rc::gen::pair(shape, value_gen()), [](const auto& both) {
    const auto& t = both.first;
    FuzzChoice c;
    c.batch = std::get<0>(t);
    c.heads = std::get<1>(t);
    c.group = std::get<2>(t);
    c.head_dim = std::get<3>(t);
    c.value_dim = std::get<4>(t);
    c.gradients = std::get<5>(t);
    c.tokens = std::get<6>(t);
    c.segments = std::get<7>(t);
    c.gate = std::get<8>(t);
    c.decode = std::get<9>(t);
    c.prefill = std::get<10>(t);
    c.values = both.second;
    return c;
  });
}

std::optional<conformance::CaseSpec> make_spec(const FuzzChoice& c, const GeneratorOptions& o, const std::string& name) {
  conformance::CaseSpec s;
  s.name = name;
  s.dtype = o.dtype;
  const auto dims = static_cast<int>(o.head_dims.size());
  const index_t D = o.head_dims[static_cast<std::size_t>(std::clamp(c.head_dim, 0, dims - 1))];
  const index_t Dv = c.value_dim <= 0 ? D : o.head_dims[static_cast<std::size_t>(std::min(c.value_dim, dims) - 1)];
  const index_t H = std::max<index_t>(1, static_cast<index_t>(c.heads.size())), HQ = H * std::max(1, c.group);
  for (std::size_t i = 0; i < c.heads.size(); ++i)  // ids in [0, 1024], increasing (each head once)
    if (c.heads[i] < 0 || c.heads[i] > 1 << 10 || (i > 0 && c.heads[i] <= c.heads[i - 1]))
      throw std::invalid_argument("fuzz choice: kv head ids must increase within [0, 1024]; id " +
                                  std::to_string(c.heads[i]) + " at " + std::to_string(i) + " does not");
  // A single varlen sequence is the dense case with its tokens: shrinking a varlen batch down to
  // one sequence then leaves no cu_seqlens behind.
  if (c.segments.size() == 1) {
    FuzzChoice dense = c;
    dense.tokens = c.segments[0];
    dense.segments.clear();
    dense.batch = 1;
    return make_spec(dense, o, name);
  }
  if (!c.segments.empty()) {
    s.cu_seqlens.push_back(0);
    for (const std::vector<int>& seq : c.segments) s.cu_seqlens.push_back(s.cu_seqlens.back() + static_cast<index_t>(seq.size()));
    if (s.cu_seqlens.back() == 0) return std::nullopt;  // every sequence empty: no tokens at all
    s.shape = Shape{1, s.cu_seqlens.back(), HQ, H, D, Dv};
  } else {
    if (c.tokens.empty()) return std::nullopt;
    s.shape = Shape{std::max(1, c.batch), static_cast<index_t>(c.tokens.size()), HQ, H, D, Dv};
  }
  s.gated = c.gate != 0;
  s.gate_convention = c.gate == 2 ? GateConvention::fla : GateConvention::paper;
  s.mode = c.decode ? conformance::Mode::decode : conformance::Mode::prefill;
  s.prefill_length = c.decode ? std::clamp<index_t>(c.prefill, 0, s.shape.T) : 0;
  s.gradients = !c.decode && c.gradients != 0;
  s.distribution = "fuzz";
  return s;
}

namespace {

// The kv head ids of a choice (none given: head 0).
std::vector<int> head_ids(const FuzzChoice& c) { return c.heads.empty() ? std::vector<int>{0} : c.heads; }

// Keeps, of rows of `heads_in` heads of `width` values each, the heads `keep` (in that order).
void keep_heads(std::vector<double>& x, std::size_t heads_in, std::size_t width, const std::vector<std::size_t>& keep) {
  if (x.empty()) return;
  const std::size_t rows = x.size() / (heads_in * width);
  std::vector<double> out;
  out.reserve(rows * keep.size() * width);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t h : keep) {
      const auto at = x.begin() + static_cast<std::ptrdiff_t>((r * heads_in + h) * width);
      out.insert(out.end(), at, at + static_cast<std::ptrdiff_t>(width));
    }
  x = std::move(out);
}

// Draws every family's values for heads 0 .. `s.H - 1` (s: the shape with every head up to the
// largest id), per token from the token's own stream.
void draw_values(conformance::CaseInput& in, const Shape& s, const std::vector<std::uint64_t>& ids, const ValueChoice& v) {
  Problem<double>& p = in.problem;
  p.shape = s;
  p.beta.resize(s.beta_size());
  auto family = [&](std::string_view name) { return random::derive_seed(v.seed, name); };
  const double qk_sigma = v.logits == LogitKind::large ? 4.0 : 1.0;
  const auto HQ = static_cast<std::size_t>(s.HQ), H = static_cast<std::size_t>(s.H);
  const auto D = static_cast<std::size_t>(s.D), Dv = static_cast<std::size_t>(s.Dv);
  draw_normal(p.q, HQ * D, qk_sigma, v.q_detail, ids, family("q"));
  draw_normal(p.k, H * D, qk_sigma, v.k_detail, ids, family("k"));
  draw_normal(p.v, H * Dv, 1.0, v.v_detail, ids, family("v"));
  draw_w(p, v, ids, v.seed);
  per_token_rows(p.beta, H, ids, family("beta"), [&](Rng& r, std::uint64_t id, std::size_t) { return draw_beta(r, v, id); });
  if (in.spec.gated)
    per_token_rows(p.g, HQ, ids, family("g"), [&](Rng& r, std::uint64_t id, std::size_t) { return draw_gate(r, v, id); });
  if (in.spec.gradients) draw_normal(in.dO, HQ * Dv, 1.0, v.do_detail, ids, family("do"));
}

// Narrows a draw over heads 0 .. all - 1 to the heads `kept` (ids); query head j of kv head h is
// query head h * G + j of the draw.
void narrow_to_heads(conformance::CaseInput& in, index_t all, const std::vector<int>& kept) {
  Problem<double>& p = in.problem;
  const auto G = static_cast<std::size_t>(p.shape.group_size());
  std::vector<std::size_t> kv, query;
  for (int h : kept) {
    kv.push_back(static_cast<std::size_t>(h));
    for (std::size_t j = 0; j < G; ++j) query.push_back(static_cast<std::size_t>(h) * G + j);
  }
  const auto H = static_cast<std::size_t>(all), HQ = H * G;
  const auto D = static_cast<std::size_t>(p.shape.D), Dv = static_cast<std::size_t>(p.shape.Dv);
  keep_heads(p.q, HQ, D, query);
  keep_heads(p.k, H, D, kv);
  keep_heads(p.v, H, Dv, kv);
  keep_heads(p.w, H, D, kv);
  keep_heads(p.beta, H, 1, kv);
  keep_heads(p.g, HQ, 1, query);
  keep_heads(in.dO, HQ, Dv, query);
  p.shape.H = static_cast<index_t>(kept.size());
  p.shape.HQ = p.shape.H * static_cast<index_t>(G);
}

}  // namespace

std::optional<conformance::CaseInput> make_input(const FuzzChoice& c, const GeneratorOptions& o, const std::string& name) {
  const std::optional<conformance::CaseSpec> spec = make_spec(c, o, name);
  if (!spec) return std::nullopt;
  conformance::CaseInput in;
  in.spec = *spec;
  const Shape& s = spec->shape;
  Problem<double>& p = in.problem;
  p.gate_convention = spec->gate_convention;
  p.cu_seqlens = spec->cu_seqlens;
  p.scale = round_to(1.0 / std::sqrt(static_cast<double>(s.D)), DType::F32);
  const std::vector<int> heads = head_ids(c);
  Shape every_head = s;
  every_head.H = *std::max_element(heads.begin(), heads.end()) + 1;
  every_head.HQ = every_head.H * s.group_size();
  draw_values(in, every_head, token_ids(c, s), c.values);
  narrow_to_heads(in, every_head.H, heads);
  for (auto* t : {&p.q, &p.k, &p.v, &in.dO})
    for (double& x : *t) x = round_to(x, spec->dtype);
  for (auto* t : {&p.w, &p.beta, &p.g})
    for (double& x : *t) x = round_to(x, DType::F32);
  validate(p);
  return in;
}

std::string describe_shape(const conformance::CaseSpec& spec) {
  const Shape& s = spec.shape;
  std::string d = "T=" + std::to_string(s.T) + " B=" + std::to_string(s.B) + " HQ=" + std::to_string(s.HQ) +
                  " H=" + std::to_string(s.H) + " D=" + std::to_string(s.D) + " Dv=" + std::to_string(s.Dv) +
                  " gate=" + gate_name(spec);
  if (!spec.cu_seqlens.empty()) {
    d += " varlen[";
    for (std::size_t n = 1; n < spec.cu_seqlens.size(); ++n)
      d += (n > 1 ? "," : "") + std::to_string(spec.cu_seqlens[n] - spec.cu_seqlens[n - 1]);
    d += "]";
  }
  if (spec.mode == conformance::Mode::decode) d += " decode(P=" + std::to_string(spec.prefill_length) + ")";
  if (spec.gradients) d += " gradients";
  return d;
}

std::string_view to_string(LogitKind k) { return k == LogitKind::large ? "large_logits" : "standard"; }
std::string_view to_string(WKind k) {
  switch (k) {
    case WKind::unit: return "unit";
    case WKind::colinear: return "colinear_w";
    case WKind::half_zero: return "zero_w";
    case WKind::zero: return "all_zero_w";
  }
  return "?";
}
std::string_view to_string(BetaKind k) {
  return k == BetaKind::near_zero ? "beta_near_zero" : k == BetaKind::near_two ? "beta_near_two" : "uniform";
}
std::string_view to_string(GateKind k) {
  return k == GateKind::near_zero ? "gate_near_zero" : k == GateKind::strong_negative ? "gate_strong_negative" : "standard";
}

std::string choice_json(const FuzzChoice& c) {
  const ValueChoice& v = c.values;
  const nlohmann::json j = {
      {"tokens", c.tokens}, {"heads", c.heads}, {"group", c.group}, {"head_dim_index", c.head_dim},
      {"segments", c.segments}, {"batch", c.batch}, {"value_dim_index", c.value_dim}, {"gate", c.gate},
      {"decode", c.decode}, {"prefill", c.prefill}, {"gradients", c.gradients},
      {"values", {{"logits", to_string(v.logits)}, {"w", to_string(v.w)}, {"beta", to_string(v.beta)},
                  {"gate", to_string(v.gate)},
                  {"detail", {{"q", v.q_detail}, {"k", v.k_detail}, {"v", v.v_detail}, {"w", v.w_detail},
                              {"beta", v.beta_detail}, {"g", v.g_detail}, {"do", v.do_detail}}},
                  {"seed", std::to_string(v.seed)}}}};
  return j.dump();
}

void showValue(const FuzzChoice& c, std::ostream& os) { os << choice_json(c); }

}  // namespace path::properties
