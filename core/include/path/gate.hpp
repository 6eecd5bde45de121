#pragma once
// Forget-gate conventions (docs/design.md section 1). With G_i = g_0 + ... + g_i:
//   paper: s_ij = scale * r_ij + (G_i - G_j)      (the FoX term is not scaled)
//   fla:   s_ij = scale * (r_ij + G_i - G_j)      (what flash-linear-attention computes)
// where r_ij = k_j^T H_{j+1} ... H_i q_i is the raw PaTH logit.
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace path {

enum class GateConvention { paper, fla };

inline std::string_view to_string(GateConvention c) {
  return c == GateConvention::paper ? "paper" : "fla";
}

inline std::optional<GateConvention> parse_gate_convention(std::string_view s) {
  if (s == "paper") return GateConvention::paper;
  if (s == "fla") return GateConvention::fla;
  return std::nullopt;
}

// The final logit from the raw one; gate_difference = G_i - G_j (0 without a gate).
template <class S>
S gated_logit(const S& raw, const S& scale, const S& gate_difference, GateConvention c) {
  if (c == GateConvention::paper) return scale * raw + gate_difference;
  return scale * (raw + gate_difference);
}

}  // namespace path
