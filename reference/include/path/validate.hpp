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

template <class S>
void check_tensor(const std::string& name, const std::vector<S>& values, std::size_t expected) {
  if (values.size() != expected) {
    std::ostringstream msg;
    msg << "has " << values.size() << " elements, the shape requires " << expected;
    reject(name, msg.str());
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!is_finite_scalar(values[i])) {
      std::ostringstream msg;
      msg << "element " << i << " is not finite (NaN or Inf)";
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
  detail::check_tensor("q", p.q, s.q_size());
  detail::check_tensor("k", p.k, s.k_size());
  detail::check_tensor("v", p.v, s.v_size());
  detail::check_tensor("w", p.w, s.k_size());
  detail::check_tensor("beta", p.beta, s.beta_size());
  if (p.has_gate()) detail::check_tensor("g", p.g, s.g_size());
  if (!detail::is_finite_scalar(p.scale)) detail::reject("scale", "is not finite");
  detail::check_cu_seqlens(s, p.cu_seqlens);
}

}  // namespace path
