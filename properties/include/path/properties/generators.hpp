#pragma once
// RapidCheck generators for PaTH problems (docs/design.md section 4, docs/fuzzing.md).
//
// What RapidCheck generates and shrinks is a FuzzChoice: a handful of small integers (the shape,
// the gate, the mode, which value distribution each tensor family comes from and how much detail
// its values keep) and one seed. make_input() turns a choice into the tensors with our own
// portable transforms (path/core/random.hpp), so a seed gives the same case on every standard
// library, and so that no value ever comes from RapidCheck's arbitrary<double> (which never yields
// the values a kernel gets wrong: exact zeros, beta exactly 2, gates exactly 0).
//
// Shrinking order (RapidCheck shrinks a tuple's components in order, and the campaign driver
// restarts from the first component after every accepted step): the shape first -- batch, heads,
// head dim, value dim and gradients (what multiplies the cost of judging every later candidate),
// then T (prefixes, then chunks of tokens removed anywhere), the varlen sequences, the gate and the
// mode -- then the value distributions toward the standard ones and each family's detail toward
// coarse values (integers, beta in {0, 1, 2}, axis-like unit w), so that a minimal case is small
// and its numbers simple.
// The seed never shrinks: it is what makes a shrunk case reproducible.
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <rapidcheck.h>

#include "path/conformance/implementation.hpp"
#include "path/core/dtype.hpp"

namespace path::properties {

// Value distributions (the names are those of conformance/suite.hpp where they coincide).
enum class LogitKind { standard = 0, large };                       // q, k ~ N(0, 1) or N(0, 16)
enum class WKind { unit = 0, colinear, half_zero, zero };           // random unit; near-colinear; every other 0; all 0
enum class BetaKind { uniform = 0, near_zero, near_two };           // U(0, 2); near 0 (some 0); near 2 (some 2)
enum class GateKind { standard = 0, near_zero, strong_negative };   // log sigmoid(N + 2); near 0 (some 0); -5 .. -20

inline constexpr int kLogitKinds = 2, kWKinds = 4, kBetaKinds = 3, kGateKinds = 3;
// Detail of one family's values: level L < kFullDetail rounds them to multiples of 2^-L (w: its
// components times sqrt(D), then renormalized); kFullDetail keeps them as drawn.
inline constexpr int kFullDetail = 12;

struct ValueChoice {
  LogitKind logits = LogitKind::standard;
  WKind w = WKind::unit;
  BetaKind beta = BetaKind::uniform;
  GateKind gate = GateKind::standard;
  int q_detail = kFullDetail, k_detail = kFullDetail, v_detail = kFullDetail, w_detail = kFullDetail,
      beta_detail = kFullDetail, g_detail = kFullDetail, do_detail = kFullDetail;
  std::uint64_t seed = 0;
};

// Tokens are identities: token id's values (its q, k, v, w, beta, g, do rows) come from its own
// stream, derive_seed(seed, family + id), so removing tokens leaves the others' values alone and
// a shrink can cut a sequence down to the very tokens that matter (the one with beta > 1.9 and a
// predecessor), not just to a prefix.
// Kv heads are identities too: head id's values are those of head id in a draw with every head up
// to the largest id present, so a shrink can drop head 0 and keep head 1 (the one whose beta at
// the failing position is large), not only drop the last head.
struct FuzzChoice {
  std::vector<int> tokens;     // the ids of one sequence's tokens (T = their number; unused with segments)
  std::vector<int> heads = {0};  // the kv heads' ids (H = their number)
  int group = 1;               // G = HQ / H
  int head_dim = 0;            // index into GeneratorOptions::head_dims
  std::vector<std::vector<int>> segments;  // varlen: each sequence's token ids (empty and length-1
                                           // sequences included); none: B sequences of `tokens`
  int batch = 1;               // B (without segments)
  int value_dim = 0;           // 0: Dv = D; k > 0: Dv = head_dims[k - 1]
  int gate = 0;                // 0 none, 1 paper, 2 fla
  int decode = 0;              // 1: decode mode (prefill then steps)
  int prefill = 0;             // decode: tokens of each sequence taken by prefill (clamped to T)
  int gradients = 0;           // prefill: 1 = also the gradients
  ValueChoice values;
};

struct GeneratorOptions {
  DType dtype = DType::BF16;
  int max_tokens = 160;                        // T, or the sum of the varlen segments
  std::vector<int> head_dims = {16, 32, 64, 128};
  int max_kv_heads = 3;
  int max_group = 4;
  int max_batch = 3;
  bool varlen = true;
  bool gates = true;
  bool gradients = true;                       // false: no gradient cases (--outputs without them)
  bool decode = true;                          // false: no decode cases (--outputs without k_cache)
  bool prefill = true;                         // false: decode cases only
};

// Throws std::invalid_argument naming the bad option (no head dims, a non-positive bound, ...).
void check(const GeneratorOptions& options);

// The generator of choices; `size` (RapidCheck's size, 0 .. 100) scales the lengths drawn, so a
// campaign that ramps the size starts with small, fast cases.
rc::Gen<FuzzChoice> fuzz_choice(const GeneratorOptions& options);

// The case a choice describes, or nullopt when it describes none (every varlen segment empty).
// q, k, v and do are rounded to the input dtype, w, beta and g to F32, scale = fp32(D^-1/2), as
// the conformance suites store them (docs/conformance.md).
std::optional<conformance::CaseInput> make_input(const FuzzChoice& choice, const GeneratorOptions& options,
                                                 const std::string& name);

// The spec alone (shape, gate, mode), without drawing values; nullopt as make_input.
std::optional<conformance::CaseSpec> make_spec(const FuzzChoice& choice, const GeneratorOptions& options,
                                               const std::string& name);

// "T=65 B=1 HQ=1 H=1 D=16 Dv=16 gate=paper decode(P=3) grad varlen[1,0,4]": the shape in words.
std::string describe_shape(const conformance::CaseSpec& spec);
// The whole choice as JSON text (stored in a reproducer's provenance).
std::string choice_json(const FuzzChoice& choice);
// RapidCheck prints counterexamples with this.
void showValue(const FuzzChoice& choice, std::ostream& os);

std::string_view to_string(LogitKind k);
std::string_view to_string(WKind k);
std::string_view to_string(BetaKind k);
std::string_view to_string(GateKind k);

}  // namespace path::properties
