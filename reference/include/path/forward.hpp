#pragma once
// The public forward API: one entry point, three independent algorithms (docs/algorithms.md).
//   forward(problem, options)  -> o [B, T, HQ, Dv], lse [B, T, HQ]      (floating scalars)
//   logits(problem, options)   -> final logits per (sequence, query head) (any scalar, exact too)
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "path/algorithms/blockwise.hpp"
#include "path/algorithms/naive.hpp"
#include "path/algorithms/naive_matrix.hpp"
#include "path/algorithms/ut_masked.hpp"
#include "path/softmax.hpp"
#include "path/validate.hpp"

namespace path {

enum class Algorithm { naive, naive_matrix, ut, blockwise };

inline std::string_view to_string(Algorithm a) {
  switch (a) {
    case Algorithm::naive: return "naive";
    case Algorithm::naive_matrix: return "naive_matrix";
    case Algorithm::ut: return "ut";
    case Algorithm::blockwise: return "blockwise";
  }
  return "?";
}

inline std::optional<Algorithm> parse_algorithm(std::string_view s) {
  for (Algorithm a : {Algorithm::naive, Algorithm::naive_matrix, Algorithm::ut, Algorithm::blockwise})
    if (s == to_string(a)) return a;
  return std::nullopt;
}

struct ForwardOptions {
  Algorithm algorithm = Algorithm::blockwise;
  index_t block_size = 64;  // blockwise only; any value >= 1 (larger than the sequence means one block)
};

template <class S>
struct ForwardResult {
  Shape shape;
  std::vector<S> o;    // [B, T, HQ, Dv]
  std::vector<S> lse;  // [B, T, HQ], natural log
};

// Final logits of one (sequence, query head): s_ij for j <= i, 0 above the diagonal.
template <class S>
struct HeadLogits {
  SequenceRange sequence;
  index_t query_head = 0;
  Mat<S> logits;
};

template <class S>
Mat<S> raw_logits(const HeadSlice<S>& h, const ForwardOptions& opt) {
  switch (opt.algorithm) {
    case Algorithm::naive: return naive_raw_logits(h);
    case Algorithm::naive_matrix: return naive_matrix_raw_logits(h);
    case Algorithm::ut: return ut_masked_raw_logits(h);
    case Algorithm::blockwise: return blockwise_raw_logits(h, opt.block_size);
  }
  throw std::logic_error("unknown algorithm");
}

template <class S>
HeadOutput<S> head_forward(const HeadSlice<S>& h, const ForwardOptions& opt) {
  if (opt.algorithm == Algorithm::blockwise) return blockwise_forward(h, opt.block_size);
  return softmax_attention(final_logits(h, raw_logits(h, opt)), h.v);
}

inline void check_options(const ForwardOptions& opt) {
  if (opt.algorithm == Algorithm::blockwise && opt.block_size < 1)
    throw InvalidProblem("option 'block': block size must be at least 1, got " + std::to_string(opt.block_size));
}

template <class S>
std::vector<HeadLogits<S>> logits(const Problem<S>& p, const ForwardOptions& opt = {}) {
  validate(p);
  check_options(opt);
  std::vector<HeadLogits<S>> out;
  for (const SequenceRange& seq : sequences_of(p.shape, p.cu_seqlens)) {
    if (seq.length == 0) continue;
    for (index_t hq = 0; hq < p.shape.HQ; ++hq) {
      const HeadSlice<S> h = extract_slice(p, seq, hq);
      out.push_back({seq, hq, final_logits(h, raw_logits(h, opt))});
    }
  }
  return out;
}

template <class S>
ForwardResult<S> forward(const Problem<S>& p, const ForwardOptions& opt = {}) {
  static_assert(!is_exact_v<S>, "softmax needs exp and log: use a floating scalar (mp100 for ~100 digits)");
  validate(p);
  check_options(opt);
  const Shape& s = p.shape;
  ForwardResult<S> r{s, std::vector<S>(s.o_size(), S(0)), std::vector<S>(s.lse_size(), S(0))};
  for (const SequenceRange& seq : sequences_of(s, p.cu_seqlens)) {
    if (seq.length == 0) continue;
    for (index_t hq = 0; hq < s.HQ; ++hq) {
      store_head_output(r.o, r.lse, s, seq, hq, head_forward(extract_slice(p, seq, hq), opt));
    }
  }
  return r;
}

}  // namespace path
