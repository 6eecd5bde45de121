#pragma once
// gen's output folder (docs/conformance.md): a gen that was interrupted left case files and its
// marker (.pathcheck-gen.json: what it was generating, with the seed) but no manifest. Rerunning
// the same gen resumes it (the cases already written are checked and kept), --force starts over,
// and anything else is refused: nothing the user has is overwritten without --force.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "path/conformance/selection.hpp"

namespace pathcheck {

// What a gen is asked to make (the marker's contents).
struct GenRequest {
  std::string suite, dtype;               // quick, bf16
  std::optional<std::uint64_t> seed;      // absent: fresh (or the interrupted gen's, on resume)
  double c = 2, floor_ulps = 0.5;
  std::string outputs = "all";
  std::vector<std::string> cases;         // every case of the suite, in order
  path::conformance::Shard shard;
};

struct GenPlan {
  std::uint64_t seed = 0;
  std::vector<std::string> to_build;  // the shard's cases still to make
  std::size_t kept = 0;               // cases of an interrupted gen found complete and kept
};

// Decides what to build in `out` (creating it), or throws io::FileError saying why not and what
// to do. Removes a manifest that --force replaces first, so that an interrupted regeneration
// leaves no valid suite behind, and writes the marker.
GenPlan plan_generation(const std::string& out, const GenRequest& request, bool force);

// The suite is complete: the marker goes.
void remove_marker(const std::string& out, const path::conformance::Shard& shard);

}  // namespace pathcheck
