// The task of Theorem 2.1 (appendix A; Lemma 2 of Peng et al. 2025, RWKV-7): a word
//   c_0 c_1 ... c_n,  c_0 = '#',  c_t = [a_t <-> b_t] (a_t != b_t in {1..5})
// swaps positions a_t and b_t of the list [1,2,3,4,5] at step t; decide whether the final list
// is [1,2,3,4,5] again (the product of the transpositions is the identity permutation).
// There are 20 swap tokens: ordered pairs, so [x<->y] and [y<->x] are different tokens with the
// same effect. This file is the ground truth; it knows nothing of transformers.
#pragma once

#include <array>
#include <string>
#include <utility>
#include <vector>

namespace proofs::swaps {

inline constexpr int kElements = 5;
inline constexpr int kStartToken = 0;  // '#'
inline constexpr int kVocabulary = 21;  // '#' and the 20 ordered swaps

using List = std::array<int, kElements>;  // the permuted list; identity = {1,2,3,4,5}

// Token 1 + 4a + r swaps a with the r-th element of {0..4} \ {a} (0-based positions).
inline std::pair<int, int> swap_of(int token) {
  const int a = (token - 1) / (kElements - 1);
  const int r = (token - 1) % (kElements - 1);
  return {a, r < a ? r : r + 1};
}

inline int token_of(int a, int b) { return 1 + a * (kElements - 1) + (b < a ? b : b - 1); }

inline List identity_list() { return {1, 2, 3, 4, 5}; }

inline void apply(int token, List& list) {
  const auto [a, b] = swap_of(token);
  std::swap(list[a], list[b]);
}

inline bool is_identity(const List& list) { return list == identity_list(); }

inline List evaluate(const std::vector<int>& word) {  // word excludes the leading '#'
  List list = identity_list();
  for (int t : word) apply(t, list);
  return list;
}

// Swap tokens that bring `list` back to [1..5] (at most 4: selection by transpositions).
inline std::vector<int> restoring_swaps(List list) {
  std::vector<int> out;
  for (int p = 0; p < kElements; ++p) {
    if (list[p] == p + 1) continue;
    int q = p + 1;
    while (list[q] != p + 1) ++q;
    out.push_back(token_of(p, q));
    std::swap(list[p], list[q]);
  }
  return out;
}

inline std::string token_name(int token) {
  if (token == kStartToken) return "#";
  const auto [a, b] = swap_of(token);
  std::string s = "[?<->?]";
  s[1] = static_cast<char>('1' + a);
  s[5] = static_cast<char>('1' + b);
  return s;
}

inline std::string word_name(const std::vector<int>& word, std::size_t max_tokens = 24) {
  std::string s = "#";
  for (std::size_t t = 0; t < word.size() && t < max_tokens; ++t) {
    s += ' ';
    s += token_name(word[t]);
  }
  if (word.size() > max_tokens) {
    s += " ... (";
    s += std::to_string(word.size());
    s += " swaps)";
  }
  return s;
}

}  // namespace proofs::swaps
