// Feed-forward layers made of "ramp units": out_d += clamp01(sum_c a_c x_c + b).
//
// clamp01(z) = min(max(z, 0), 1) = ReLU(z) - ReLU(z - 1): each unit is two ReLU neurons of an
// ordinary FFN. The paper's Theorem A.1 proof uses indicator functions 1{.} in its FFNs, which a
// ReLU FFN cannot compute exactly; a ramp with a margin (0 below 1/3, 1 above 2/3 after the
// scaling used in flip_flop_transformer.hpp) computes them exactly on the inputs that occur.
// On intervals the unit is evaluated through its monotonicity in z, which is rigorous and loses
// nothing to the dependency problem of ReLU(z) - ReLU(z - 1).
#pragma once

#include <utility>
#include <vector>

#include "interval.hpp"

namespace proofs {

struct RampUnit {
  std::size_t out;
  std::vector<std::pair<std::size_t, BigQ>> in;  // (input coordinate, coefficient)
  BigQ bias;
};

inline BigQ clamp01(const BigQ& z) { return z < 0 ? BigQ(0) : z > 1 ? BigQ(1) : z; }

// x <- x + FFN(x): all units read the layer input, then their outputs are added (residual).
inline void apply_ramp_ffn(const std::vector<RampUnit>& units, std::vector<Interval>& x) {
  std::vector<std::pair<std::size_t, Interval>> outputs;
  for (const RampUnit& u : units) {
    Interval z(u.bias);
    for (const auto& [c, a] : u.in) z = z + a * x[c];
    outputs.emplace_back(u.out, apply_monotone(z, clamp01));
  }
  for (const auto& [d, y] : outputs) x[d] = x[d] + y;
}

}  // namespace proofs
