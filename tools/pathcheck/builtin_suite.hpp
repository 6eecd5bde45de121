#pragma once
// A built-in suite made in memory (run without --suite, check): the same cases gen would write,
// so a verdict here and one on a generated suite of the same seed are the same verdict.
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "path/conformance/case.hpp"
#include "path/conformance/selection.hpp"

namespace pathcheck {

// The cases of `suite` gen makes for these options: --only, then what --outputs needs (gradient
// cases without gradients when no gradient output is selected; no case with none of the outputs).
// UsageError when nothing is left.
std::vector<path::conformance::CaseSpec> select_specs(const std::string& suite, path::DType dtype, const std::string& only,
                                                      const path::conformance::OutputSelection& outputs);

struct BuiltinSuite {
  std::string suite;
  path::DType dtype = path::DType::BF16;
  std::uint64_t seed = 0;
  std::vector<std::string> all_cases;          // the suite's cases (every shard)
  std::vector<path::conformance::Case> cases;  // this shard's, built
  std::string identity;                        // manifest.hpp's suite_identity
  double seconds = 0;                          // to build them
};

// Builds the shard's cases on `jobs` threads, with progress lines on `progress` (may be null).
BuiltinSuite build_builtin_suite(const std::string& suite, path::DType dtype, std::uint64_t seed,
                                 const std::vector<path::conformance::CaseSpec>& specs,
                                 const path::conformance::Shard& shard, unsigned jobs, std::ostream* progress);

}  // namespace pathcheck
