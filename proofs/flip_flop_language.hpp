// The flip-flop language (Liu et al. 2023, "Exposing attention glitches with flip-flop language
// modeling"; PaTH paper Theorem A.1): instruction/data pairs
//   w b  (write b),   r b  (read: b must equal the last written bit),   i b  (ignore b)
// with b in {0,1}, the first instruction always w. This file is the ground truth: the state
// (last written bit) and the next-token distribution the paper's LM head targets: uniform over
// {w, r, i} after a bit, uniform over {0, 1} after w or i, the state bit after r.
#pragma once

#include <array>
#include <string>
#include <vector>

namespace proofs::flipflop {

enum Token : int { W = 0, R = 1, I = 2, ZERO = 3, ONE = 4 };  // order of paper dims 1..5
inline constexpr int kVocabulary = 5;

inline bool is_instruction(int t) { return t == W || t == R || t == I; }
inline int bit_token(int b) { return b == 0 ? ZERO : ONE; }

inline char token_char(int t) { return "wri01"[t]; }

inline std::string sequence_name(const std::vector<int>& s, std::size_t max_tokens = 40) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max_tokens; ++i) out += token_char(s[i]);
  if (s.size() > max_tokens) out += "... (" + std::to_string(s.size()) + " tokens)";
  return out;
}

using Distribution = std::array<int, kVocabulary>;  // target as 0/1 support; uniform over it

// Target next-token support after the prefix ending in `last`, given the state (last written bit).
inline Distribution target_support(int last, int state) {
  if (last == R) return bit_token(state) == ZERO ? Distribution{0, 0, 0, 1, 0} : Distribution{0, 0, 0, 0, 1};
  if (is_instruction(last)) return {0, 0, 0, 1, 1};
  return {1, 1, 1, 0, 0};
}

// Incremental validity/state tracking of a token stream.
struct Tracker {
  int state = -1;        // last written bit; -1 before the first write
  int previous = -1;     // previous token
  bool valid = true;

  void push(int t) {
    const bool expect_instruction = previous < 0 || !is_instruction(previous);
    if (expect_instruction != is_instruction(t)) valid = false;
    if (previous < 0 && t != W) valid = false;
    if (previous == W) state = t == ZERO ? 0 : 1;
    if (previous == R && bit_token(state) != t) valid = false;
    previous = t;
  }
};

}  // namespace proofs::flipflop
