// Q64: an exact rational number with 64-bit numerator and denominator.
//
// Every operation is exact or throws std::overflow_error: there is no rounding anywhere. It is
// the fast scalar of the exhaustive sweeps (all weights of both constructions are small
// rationals, so the PaTH logits of a short word fit easily); the random long-word checks
// recompute the same logits with GMP rationals (big_rational.hpp) and compare them exactly.
#pragma once

#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>

namespace proofs {

class Q64 {
 public:
  Q64() = default;
  Q64(long long n) : num_(n), den_(1) {}  // NOLINT: implicit, like an integer literal
  static Q64 ratio(long long n, long long d) { return normalized(n, d); }

  long long num() const { return num_; }
  long long den() const { return den_; }
  bool is_zero() const { return num_ == 0; }

  friend Q64 operator+(const Q64& a, const Q64& b) {
    if (a.den_ == 1 && b.den_ == 1) return Q64(checked(static_cast<__int128>(a.num_) + b.num_));
    return normalized(static_cast<__int128>(a.num_) * b.den_ + static_cast<__int128>(b.num_) * a.den_,
                      static_cast<__int128>(a.den_) * b.den_);
  }
  friend Q64 operator-(const Q64& a) { return Q64(checked(-static_cast<__int128>(a.num_)), a.den_, raw_tag{}); }
  friend Q64 operator-(const Q64& a, const Q64& b) { return a + (-b); }
  friend Q64 operator*(const Q64& a, const Q64& b) {
    if (a.num_ == 0 || b.num_ == 0) return Q64(0);
    if (a.den_ == 1 && b.den_ == 1) return Q64(checked(static_cast<__int128>(a.num_) * b.num_));
    return normalized(static_cast<__int128>(a.num_) * b.num_, static_cast<__int128>(a.den_) * b.den_);
  }
  friend Q64 operator/(const Q64& a, const Q64& b) {
    if (b.num_ == 0) throw std::domain_error("Q64: division by zero");
    return normalized(static_cast<__int128>(a.num_) * b.den_, static_cast<__int128>(a.den_) * b.num_);
  }
  Q64& operator+=(const Q64& b) { return *this = *this + b; }
  Q64& operator-=(const Q64& b) { return *this = *this - b; }
  Q64& operator*=(const Q64& b) { return *this = *this * b; }

  friend bool operator==(const Q64& a, const Q64& b) { return a.num_ == b.num_ && a.den_ == b.den_; }
  friend bool operator<(const Q64& a, const Q64& b) {
    return static_cast<__int128>(a.num_) * b.den_ < static_cast<__int128>(b.num_) * a.den_;
  }
  friend bool operator>(const Q64& a, const Q64& b) { return b < a; }
  friend bool operator<=(const Q64& a, const Q64& b) { return !(b < a); }
  friend bool operator>=(const Q64& a, const Q64& b) { return !(a < b); }

  friend std::ostream& operator<<(std::ostream& os, const Q64& q) {
    os << q.num_;
    if (q.den_ != 1) os << '/' << q.den_;
    return os;
  }

 private:
  struct raw_tag {};
  Q64(long long n, long long d, raw_tag) : num_(n), den_(d) {}

  static long long checked(__int128 v) {
    if (v > INT64_MAX || v < -INT64_MAX) throw std::overflow_error("Q64 overflow: the exact value left 64 bits");
    return static_cast<long long>(v);
  }
  static unsigned __int128 gcd(unsigned __int128 a, unsigned __int128 b) {
    while (b != 0) {
      unsigned __int128 t = a % b;
      a = b;
      b = t;
    }
    return a;
  }
  static Q64 normalized(__int128 n, __int128 d) {
    if (d == 0) throw std::domain_error("Q64: zero denominator");
    if (d < 0) {
      n = -n;
      d = -d;
    }
    unsigned __int128 an = n < 0 ? static_cast<unsigned __int128>(-n) : static_cast<unsigned __int128>(n);
    unsigned __int128 g = gcd(an, static_cast<unsigned __int128>(d));
    if (g > 1) {
      n /= static_cast<__int128>(g);
      d /= static_cast<__int128>(g);
    }
    return Q64(checked(n), checked(d), raw_tag{});
  }

  long long num_ = 0;
  long long den_ = 1;
};

}  // namespace proofs
