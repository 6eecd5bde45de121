#pragma once
// Input checks shared by every entry point: an invalid problem is reported with the tensor and the
// problem named, never computed on.
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

#include "path/problem.hpp"
#include "path/scalar.hpp"

namespace path {

class InvalidProblem : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace detail {

[[noreturn]] inline void reject(const std::string& tensor, const std::string& problem) {
  throw InvalidProblem("tensor '" + tensor + "': " + problem);
}

template <class S>
bool is_finite_scalar(const S& x) {
  if constexpr (is_exact_v<S>) {
    return true;
  } else {
    using std::isfinite;
    using boost::multiprecision::isfinite;
    return static_cast<bool>(isfinite(x));
  }
}

// "[b, t, h, d] (flat i)": a tensor element as people index it ([B, T, heads, dim] layout).
inline std::string element_text(std::size_t flat, const std::vector<index_t>& dims) {
  std::vector<index_t> idx(dims.size(), 0);
  std::size_t rest = flat;
  for (std::size_t d = dims.size(); d-- > 0;) {
    const auto n = static_cast<std::size_t>(dims[d] > 0 ? dims[d] : 1);
    idx[d] = static_cast<index_t>(rest % n);
    rest /= n;
  }
  std::string text = "[";
  for (std::size_t d = 0; d < idx.size(); ++d) text += (d ? ", " : "") + std::to_string(idx[d]);
  return text + "] (flat " + std::to_string(flat) + ")";
}

// dims: the tensor's shape, to name a bad element by its multi-index.
template <class S>
void check_tensor(const std::string& name, const std::vector<S>& values, std::size_t expected,
                  const std::vector<index_t>& dims) {
  if (values.size() != expected) {
    std::ostringstream msg;
    msg << "has " << values.size() << " elements, the shape requires " << expected;
    reject(name, msg.str());
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!is_finite_scalar(values[i])) {
      std::ostringstream msg;
      msg << "element " << element_text(i, dims) << " is not finite (NaN or Inf)";
      reject(name, msg.str());
    }
  }
}

inline void check_shape(const Shape& s) {
  auto positive = [](const char* what, index_t n) {
    if (n < 1) reject(what, std::string("dimension must be at least 1, got ") + std::to_string(n));
  };
  positive("q (batch B)", s.B);
  positive("q (sequence length T)", s.T);
  positive("q (query heads HQ)", s.HQ);
  positive("k (key/value heads H)", s.H);
  positive("q (head dim D)", s.D);
  positive("v (value dim Dv)", s.Dv);
  if (s.HQ % s.H != 0)
    reject("q", "query heads HQ = " + std::to_string(s.HQ) + " is not a multiple of key/value heads H = " +
                    std::to_string(s.H));
}

inline void check_cu_seqlens(const Shape& s, const std::vector<index_t>& cu) {
  if (cu.empty()) return;
  if (s.B != 1) reject("cu_seqlens", "varlen packing needs batch B = 1, got B = " + std::to_string(s.B));
  if (cu.size() < 2) reject("cu_seqlens", "needs at least 2 entries [0, ..., T]");
  if (cu.front() != 0) reject("cu_seqlens", "must start at 0, starts at " + std::to_string(cu.front()));
  if (cu.back() != s.T)
    reject("cu_seqlens", "must end at T = " + std::to_string(s.T) + ", ends at " + std::to_string(cu.back()));
  for (std::size_t n = 1; n < cu.size(); ++n)
    if (cu[n] < cu[n - 1])
      reject("cu_seqlens", "is not non-decreasing at entry " + std::to_string(n) + " (" + std::to_string(cu[n - 1]) +
                               " then " + std::to_string(cu[n]) + ")");
}

}  // namespace detail

template <class S>
void validate(const Problem<S>& p) {
  detail::check_shape(p.shape);
  const Shape& s = p.shape;
  detail::check_tensor("q", p.q, s.q_size(), {s.B, s.T, s.HQ, s.D});
  detail::check_tensor("k", p.k, s.k_size(), {s.B, s.T, s.H, s.D});
  detail::check_tensor("v", p.v, s.v_size(), {s.B, s.T, s.H, s.Dv});
  detail::check_tensor("w", p.w, s.k_size(), {s.B, s.T, s.H, s.D});
  detail::check_tensor("beta", p.beta, s.beta_size(), {s.B, s.T, s.H});
  if (p.has_gate()) detail::check_tensor("g", p.g, s.g_size(), {s.B, s.T, s.HQ});
  if (!detail::is_finite_scalar(p.scale)) detail::reject("scale", "is not finite");
  detail::check_cu_seqlens(s, p.cu_seqlens);
}

}  // namespace path
