// Theorem A.1 (PaTH paper, appendix A), checked: the two-layer PaTH transformer of
// flip_flop_transformer.hpp, built for length bound n, predicts the flip-flop language with
// next-token error (total variation) below 1/n^101 at every position of every valid input of
// length <= n; in particular after every r it predicts the last written bit.
//
//   1. exhaustively: every valid string of 1..2m tokens (m = 8 pairs by default, 10 with --long);
//   2. random strings of up to 1000 tokens in three instruction mixes, every position;
//   3. the same logits in Q64 and BigQ, bit for bit, on whole random strings;
//   4. the appendix's printed LM temperature T ~ log n does NOT give the claimed 1/n^101.
// Exit status non-zero on any failure (docs/proofs-theorems.md).
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "flip_flop_forward.hpp"
#include "path/core/random.hpp"
#include "proof_cli.hpp"

namespace proofs::flipflop {
namespace {

constexpr long long kLongTokens = 1000;

// The claim is an error below 1/n^101: the enclosures need well over 101 log2(n) bits.
void set_precision_for(long long n) { precision_bits() = 128 + 101 * bit_length(n); }

// "about 2^-k" for printing tiny positive bounds (doubles underflow below 1e-308).
std::string binary_magnitude(const BigQ& x) {
  if (x.is_zero()) return "0";
  const auto e = static_cast<long long>(msb(boost::multiprecision::numerator(x))) -
                 static_cast<long long>(msb(boost::multiprecision::denominator(x)));
  return "about 2^" + std::to_string(e);
}

BigQ power_of(long long n, int e) {
  BigQ p = 1;
  for (int k = 0; k < e; ++k) p *= n;
  return p;
}

BigQ target_probability(const Distribution& support, int v) {
  int k = 0;
  for (int s : support) k += s;
  return support[v] ? BigQ(1) / k : BigQ(0);
}

// Upper (lower) bound of the total variation distance between the enclosed and target laws.
BigQ tv_bound(const Vec<Interval>& p, const Distribution& support, bool upper) {
  BigQ sum = 0;
  for (int v = 0; v < kVocabulary; ++v) {
    const BigQ t = target_probability(support, v);
    const Interval& x = p[static_cast<std::size_t>(v)];
    const BigQ a = abs(x.lo - t), b = abs(x.hi - t);
    sum += upper ? std::max(a, b) : (x.contains(t) ? BigQ(0) : std::min(a, b));
  }
  return sum / 2;
}

// What a position must satisfy: certified, TV < bound, and after r the state bit is the argmax.
// Outputs are memoized by the forward pass (stable addresses), so verdicts are cached per
// (output, target) pair.
struct PositionCheck {
  explicit PositionCheck(BigQ b) : bound(std::move(b)) {}

  BigQ bound;
  BigQ worst_tv = 0;
  std::map<std::pair<const void*, int>, bool> seen;

  template <class S>
  bool operator()(const Output<S>& out, int last, int state) {
    if (!out.certified) return false;
    const int target = last == R ? 2 + state : is_instruction(last) ? 1 : 0;
    if (auto it = seen.find({&out, target}); it != seen.end()) return it->second;
    const Distribution support = target_support(last, state);
    const BigQ tv = tv_bound(out.probs, support, true);
    worst_tv = std::max(worst_tv, tv);
    const bool read_ok = last != R || out.probs[static_cast<std::size_t>(bit_token(state))].lo > BigQ(1) / 2;
    const bool ok = tv < bound && read_ok;
    seen.emplace(std::pair<const void*, int>{&out, target}, ok);
    return ok;
  }
};

// `s` is the prefix that ends at the failing position; long prefixes are shown by their tail.
std::string describe(const std::vector<int>& s, const std::string& why) {
  const std::size_t shown = 60;
  const std::size_t from = s.size() > shown ? s.size() - shown : 0;
  const std::string text = (from > 0 ? "..." : "") + sequence_name(std::vector<int>(s.begin() + static_cast<std::ptrdiff_t>(from), s.end()), shown);
  return "after \"" + text + "\" (" + std::to_string(s.size()) + " tokens)" +
         (why.empty() ? std::string(": TV or argmax wrong") : ": " + why);
}

// 1. Depth-first over all valid strings; `s` is the current prefix.
template <class S>
void sweep(FlipFlopForward<S>& f, std::vector<int>& s, Tracker tr, std::size_t max_len, PositionCheck& check,
           Tally& t) {
  std::vector<int> choices;
  if (s.empty()) {
    choices = {W};
  } else if (is_instruction(s.back())) {
    choices = s.back() == R ? std::vector<int>{bit_token(tr.state)} : std::vector<int>{ZERO, ONE};
  } else {
    choices = {W, R, I};
  }
  for (int token : choices) {
    Tracker next = tr;
    next.push(token);
    s.push_back(token);
    const Output<S>& out = f.push(token);
    t.record(next.valid && check(out, token, next.state), [&] { return describe(s, out.why_not); });
    if (s.size() < max_len) sweep(f, s, next, max_len, check, t);
    f.pop();
    s.pop_back();
  }
}

void exhaustive(int pairs, Bug bug, std::vector<Tally>& out) {
  Stopwatch clock;
  const long long n = 2LL * pairs;
  set_precision_for(n);
  FlipFlopForward<Q64> f(build_flip_flop_transformer<Q64>(n, default_lm_temperature(n), bug));
  PositionCheck check{BigQ(1) / power_of(n, 101)};
  Tally t{"all valid flip-flop strings of 1.." + std::to_string(n) + " tokens (n = " + std::to_string(n) +
          ", T = " + std::to_string(default_lm_temperature(n)) + "): TV < 1/n^101 and read bit = argmax"};
  std::vector<int> s;
  sweep(f, s, Tracker{}, static_cast<std::size_t>(n), check, t);
  print_tally(t, clock.seconds());
  std::cout << "  largest certified TV upper bound: " << binary_magnitude(check.worst_tv)
            << " (1/n^101 is " << binary_magnitude(check.bound) << ")\n";
  out.push_back(t);
}

// 2. Random strings: instruction probabilities (w, r, i).
struct Mix {
  const char* name;
  double w, r, i;
};

std::vector<int> random_string(const Mix& mix, path::random::Rng& rng) {
  // Portable draws (path/core/random.hpp): instruction by its weight, bits by a fair coin.
  const auto instruction = [&](path::random::Rng& r) {
    const double u = path::random::uniform01(r) * (mix.w + mix.r + mix.i);
    return u < mix.w ? 0 : u < mix.w + mix.r ? 1 : 2;
  };
  const auto coin = [](path::random::Rng& r) { return path::random::bernoulli(r, 0.5); };
  const auto len = static_cast<std::size_t>(path::random::integer(rng, 2, kLongTokens));
  std::vector<int> s;
  int state = 0;
  while (s.size() < len) {
    const int ins = s.empty() ? W : instruction(rng);  // W, R, I are 0, 1, 2
    s.push_back(ins);
    if (s.size() == len) break;
    const int bit = ins == R ? state : coin(rng) ? 1 : 0;
    if (ins == W) state = bit;
    s.push_back(bit_token(bit));
  }
  return s;
}

template <class S>
void check_string(FlipFlopForward<S>& f, const std::vector<int>& s, PositionCheck& check, Tally& t) {
  Tracker tr;
  for (std::size_t i = 0; i < s.size(); ++i) {
    tr.push(s[i]);
    const Output<S>& out = f.push(s[i]);
    t.record(tr.valid && check(out, s[i], tr.state), [&] {
      return describe(std::vector<int>(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(i) + 1), out.why_not);
    });
  }
  for (std::size_t i = 0; i < s.size(); ++i) f.pop();
}

const Mix kMixes[] = {{"FFL(0.8): w .1 r .1 i .8", 0.1, 0.1, 0.8},
                      {"uniform: w r i 1/3 each", 1.0, 1.0, 1.0},
                      {"rare writes: w .01 r .495 i .495", 0.01, 0.495, 0.495}};

void random_strings(int per_mix, const Options& o, Bug bug, std::vector<Tally>& out) {
  Stopwatch clock;
  set_precision_for(kLongTokens);
  path::random::Rng rng(o.seed);
  FlipFlopForward<Q64> f(build_flip_flop_transformer<Q64>(kLongTokens, default_lm_temperature(kLongTokens), bug));
  PositionCheck check{BigQ(1) / power_of(kLongTokens, 101)};
  Tally t{"random strings of 2.." + std::to_string(kLongTokens) + " tokens (n = " + std::to_string(kLongTokens) +
          ", " + std::to_string(per_mix) + " per mix, 3 mixes): every position"};
  for (const Mix& mix : kMixes)
    for (int k = 0; k < per_mix; ++k) check_string(f, random_string(mix, rng), check, t);
  print_tally(t, clock.seconds());
  std::cout << "  largest certified TV upper bound: " << binary_magnitude(check.worst_tv) << " (1/n^101 is "
            << binary_magnitude(check.bound) << ")\n";
  out.push_back(t);
}

// 3. BigQ (exact rationals: GMP or Boost cpp_rational) and Q64 give the same exact logits (both layers, LM head) at every position.
void cross_check(int strings, const Options& o, Bug bug, std::vector<Tally>& out) {
  Stopwatch clock;
  set_precision_for(kLongTokens);
  path::random::Rng rng(o.seed + 1);
  const long long T = default_lm_temperature(kLongTokens);
  FlipFlopForward<Q64> fq(build_flip_flop_transformer<Q64>(kLongTokens, T, bug));
  FlipFlopForward<BigQ> fb(build_flip_flop_transformer<BigQ>(kLongTokens, T, bug));
  PositionCheck check{BigQ(1) / power_of(kLongTokens, 101)};
  Tally t{"BigQ forward of " + std::to_string(strings) +
          " random strings: every position certified, logits identical to Q64's"};
  for (int k = 0; k < strings; ++k) {
    const std::vector<int> s = random_string(kMixes[k % 3], rng);
    Tracker tr;
    for (std::size_t i = 0; i < s.size(); ++i) {
      tr.push(s[i]);
      const Output<Q64>& a = fq.push(s[i]);
      const Output<BigQ>& b = fb.push(s[i]);
      bool same = a.lm_logits.size() == b.lm_logits.size() && check(b, s[i], tr.state);
      for (std::size_t v = 0; same && v < a.lm_logits.size(); ++v) same = to_bigq(a.lm_logits[v]) == b.lm_logits[v];
      for (std::size_t j = 0; same && j <= i; ++j)
        same = to_bigq(fq.layer1_logits()[j]) == fb.layer1_logits()[j] &&
               to_bigq(fq.layer2_logits()[j]) == fb.layer2_logits()[j];
      t.record(same, [&] {
        return describe(std::vector<int>(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(i) + 1), b.why_not);
      });
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
      fq.pop();
      fb.pop();
    }
  }
  print_tally(t, clock.seconds());
  out.push_back(t);
}

// 4. With T = bitlen(n) >= log2 n >= ln n (the appendix: "T ~ log n") the error after "w0r" is
//    about 4/(e^T + 4) >> 1/n^101: the printed choice of T does not give the printed bound.
void printed_temperature(std::vector<Tally>& out) {
  const long long n = kLongTokens;
  set_precision_for(n);
  FlipFlopForward<BigQ> f(build_flip_flop_transformer<BigQ>(n, bit_length(n), Bug::none));
  f.push(W);
  f.push(ZERO);
  const Output<BigQ>& o = f.push(R);
  const BigQ tv_low = o.certified ? tv_bound(o.probs, target_support(R, 0), false) : BigQ(0);
  Tally t{"erratum: with the printed T ~ log n (T = " + std::to_string(bit_length(n)) +
          ", n = 1000) the TV after \"w0r\" exceeds 1/n^101"};
  t.record(tv_low > BigQ(1) / power_of(n, 101), [] { return std::string("it does not: erratum wrong"); });
  print_tally(t, 0);
  std::cout << "  certified TV lower bound there: " << tv_low.convert_to<double>() << " (1/n^101 is "
            << binary_magnitude(BigQ(1) / power_of(n, 101)) << ")\n";
  out.push_back(t);
}

}  // namespace
}  // namespace proofs::flipflop

int main(int argc, char** argv) {
  using namespace proofs;
  using namespace proofs::flipflop;
  const Options o = parse_options(argc, argv, "proof_theorem_a_1: PaTH Theorem A.1 (flip-flop language modeling)", {"layer2-no-transition"});
  const Bug bug = o.plant_bug() ? Bug::layer2_no_transition : Bug::none;
  if (o.plant_bug()) std::cout << "PLANTED BUG: layer-2 beta = 0 at write-bits, H = I (this run must FAIL)\n";
  std::vector<Tally> tallies;
  exhaustive(o.long_run ? 10 : 8, bug, tallies);
  random_strings(o.long_run ? 100 : 10, o, bug, tallies);
  cross_check(o.long_run ? 12 : 3, o, bug, tallies);
  printed_temperature(tallies);
  long long failures = 0;
  for (const Tally& t : tallies) failures += t.failures;
  std::cout << (failures == 0 ? "PASS" : "FAIL") << "\n";
  return failures == 0 ? 0 : 1;
}
