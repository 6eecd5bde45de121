// Theorem 2.1 (PaTH paper, appendix A), checked: the one-layer two-head PaTH transformer of
// swap_transformer.hpp decides whether a word of swaps on 5 elements is the identity.
//
//   1. every swap token's transition H_t is exactly the permutation matrix of its swap;
//   2. exhaustively, every word of 1..L swaps (20^1 + ... + 20^L words) is decided correctly
//      (L = 5 by default, 6 with --long), and the logit margins are exactly +-n/2;
//   3. random words of up to 1000 swaps (uniform, forced identity, mirrored, near misses):
//      every prefix decided correctly, and the final logits equal bit for bit in Q64 and BigQ.
// Exit status non-zero on any failure (docs/proofs-theorems.md).
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "path/core/random.hpp"
#include "proof_cli.hpp"
#include "swap_forward.hpp"

namespace proofs::swaps {
namespace {

constexpr long long kLongWords = 1000;

// 1. H_t = I - beta w w^T is the permutation matrix exchanging the two swapped coordinates.
Tally check_transitions(const SwapTransformer<BigQ>& m) {
  Tally t{"transition H_t of each swap token is its permutation matrix"};
  for (int token = 1; token < kVocabulary; ++token) {
    const HeadInputs<BigQ> in = head_inputs(m.head1, embed<BigQ>(token));
    const auto [a, b] = swap_of(token);
    bool ok = true;
    for (int c = 0; c < kHeadDim; ++c) {
      Vec<BigQ> col = unit<BigQ>(kHeadDim, c);
      apply_transition(in, col);
      const int image = c == a ? b : c == b ? a : c;
      ok = ok && col == unit<BigQ>(kHeadDim, image);
    }
    t.record(ok, [&] { return token_name(token); });
  }
  return t;
}

struct Extremes {  // of the logit s_{i,0}, in units where the claim is +-n/2
  Q64 min_identity = Q64(1LL << 60), max_other = Q64(-(1LL << 60));
};

std::string verdict_text(const Decision& d) {
  return d.certified ? std::to_string(d.sign) : std::string("undecidable enclosure");
}

// 2. Depth-first over all words: the decision at the newest position is the word's decision.
void sweep(SwapForward<Q64>& f, std::vector<int>& word, List list, int depth_left, Tally& t, Extremes& x) {
  std::vector<Q64> logits;
  for (int token = 1; token < kVocabulary; ++token) {
    f.push(token);
    word.push_back(token);
    List next = list;
    apply(token, next);
    const bool identity = is_identity(next);
    const Decision d = f.decide(&logits);
    const Q64 s0 = logits[0];
    if (identity && s0 < x.min_identity) x.min_identity = s0;
    if (!identity && s0 > x.max_other) x.max_other = s0;
    t.record(d.certified && d.sign == (identity ? 1 : -1), [&] {
      return word_name(word) + " -> " + verdict_text(d) + ", expected " + (identity ? "1" : "-1");
    });
    if (depth_left > 1) sweep(f, word, next, depth_left - 1, t, x);
    word.pop_back();
    f.pop();
  }
}

void exhaustive(int max_swaps, bool plant_bug, std::vector<Tally>& out) {
  Stopwatch clock;
  SwapForward<Q64> f(build_swap_transformer<Q64>(max_swaps, plant_bug));
  f.push(kStartToken);
  const Decision empty = f.decide();
  std::cout << "empty word '#' (n = 0): output " << verdict_text(empty)
            << " (sign(0): the construction needs n >= 1, see docs)\n";
  Tally t{"all words of 1.." + std::to_string(max_swaps) + " swaps (every one of 20^1+...+20^" +
          std::to_string(max_swaps) + ")"};
  Extremes x;
  std::vector<int> word;
  sweep(f, word, identity_list(), max_swaps, t, x);
  print_tally(t, clock.seconds());
  const Q64 half = Q64::ratio(max_swaps, 2);
  Tally margins{"logit margins: s_0 = +n/2 on identity words, max s_0 = -n/2 on the others (n = " +
                std::to_string(max_swaps) + ")"};
  margins.record(x.min_identity == half && x.max_other == -half, [&] {
    return "min over identity " + std::to_string(x.min_identity.num()) + "/" + std::to_string(x.min_identity.den()) +
           ", max over others " + std::to_string(x.max_other.num()) + "/" + std::to_string(x.max_other.den());
  });
  print_tally(margins, clock.seconds());
  std::cout << "  min s_0 over identity words = " << x.min_identity << ", max s_0 over other words = " << x.max_other
            << "\n";
  out.push_back(t);
  out.push_back(margins);
}

// 3. Random long words.
enum class Kind { uniform, identity, mirrored, near_miss };

std::vector<int> random_word(Kind kind, path::random::Rng& rng) {
  const auto token = [](path::random::Rng& r) { return static_cast<int>(path::random::integer(r, 1, kVocabulary - 1)); };
  const long long max_length = kind == Kind::uniform ? kLongWords : kLongWords - 4;
  std::vector<int> w(static_cast<std::size_t>(path::random::integer(rng, 1, max_length)));
  for (int& t : w) t = token(rng);
  if (kind == Kind::uniform) return w;
  for (int t : restoring_swaps(evaluate(w))) w.push_back(t);  // now the identity
  const std::size_t p = static_cast<std::size_t>(path::random::below(rng, w.size()));
  const auto [a, b] = swap_of(w[p]);
  if (kind == Kind::mirrored) w[p] = token_of(b, a);  // same transposition: still the identity
  if (kind == Kind::near_miss) {                       // a different transposition: never the identity
    int other = token(rng);
    while (swap_of(other) == std::pair{a, b} || swap_of(other) == std::pair{b, a}) other = token(rng);
    w[p] = other;
  }
  return w;
}

void check_random_word(const std::vector<int>& w, SwapForward<Q64>& fq, SwapForward<BigQ>& fb, Tally& prefixes,
                       Tally& agreement) {
  List list = identity_list();
  fq.push(kStartToken);
  fb.push(kStartToken);
  std::vector<Q64> sq;
  for (std::size_t i = 0; i < w.size(); ++i) {
    fq.push(w[i]);
    fb.push(w[i]);
    apply(w[i], list);
    const Decision d = fq.decide(&sq);
    const bool identity = is_identity(list);
    prefixes.record(d.certified && d.sign == (identity ? 1 : -1), [&] {
      return "prefix of " + std::to_string(i + 1) + " swaps -> " + verdict_text(d) + " of " + word_name(w);
    });
  }
  std::vector<BigQ> sb;
  const Decision db = fb.decide(&sb);
  bool same = sq.size() == sb.size() && db.certified && db.sign == (is_identity(list) ? 1 : -1);
  for (std::size_t j = 0; same && j < sq.size(); ++j) same = to_bigq(sq[j]) == sb[j];
  agreement.record(same, [&] { return "BigQ logits differ from Q64's or BigQ decision wrong on " + word_name(w); });
  for (std::size_t i = 0; i <= w.size(); ++i) {
    fq.pop();
    fb.pop();
  }
}

void random_words(int per_kind, const Options& o, std::vector<Tally>& out) {
  Stopwatch clock;
  path::random::Rng rng(o.seed);
  SwapForward<Q64> fq(build_swap_transformer<Q64>(kLongWords, o.plant_bug()));
  SwapForward<BigQ> fb(build_swap_transformer<BigQ>(kLongWords, o.plant_bug()));
  Tally prefixes{"random words of 1.." + std::to_string(kLongWords) + " swaps (" + std::to_string(per_kind) +
                 " each: uniform, forced identity, mirrored token, near miss): every prefix"};
  Tally agreement{"same words, whole word in BigQ (exact rationals): final logits identical to Q64's and decision correct"};
  long long identities = 0;
  for (Kind kind : {Kind::uniform, Kind::identity, Kind::mirrored, Kind::near_miss})
    for (int r = 0; r < per_kind; ++r) {
      const std::vector<int> w = random_word(kind, rng);
      identities += is_identity(evaluate(w)) ? 1 : 0;
      check_random_word(w, fq, fb, prefixes, agreement);
    }
  std::cout << "  (" << identities << " of the " << 4 * per_kind << " whole words are the identity)\n";
  print_tally(prefixes, clock.seconds());
  print_tally(agreement, clock.seconds());
  out.push_back(prefixes);
  out.push_back(agreement);
}

}  // namespace
}  // namespace proofs::swaps

int main(int argc, char** argv) {
  using namespace proofs;
  using namespace proofs::swaps;
  const Options o = parse_options(argc, argv, "proof_theorem_2_1: PaTH Theorem 2.1 (swap word problem on 5 elements)", {"k5-weight"});
  if (o.plant_bug()) std::cout << "PLANTED BUG: k_#[5] = 4 instead of 5 (this run must FAIL)\n";
  std::vector<Tally> tallies;
  tallies.push_back(check_transitions(build_swap_transformer<BigQ>(kLongWords, o.plant_bug())));
  print_tally(tallies.back(), 0);
  exhaustive(o.long_run ? 6 : 5, o.plant_bug(), tallies);
  random_words(o.long_run ? 250 : 25, o, tallies);
  long long failures = 0;
  for (const Tally& t : tallies) failures += t.failures;
  std::cout << (failures == 0 ? "PASS" : "FAIL") << "\n";
  return failures == 0 ? 0 : 1;
}
