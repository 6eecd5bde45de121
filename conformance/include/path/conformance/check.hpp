#pragma once
// pathcheck check's core (docs/conformance.md): a suite in memory through several
// implementations, each judged on the outputs it computes; one verdict line each, and a line
// saying why for those that cannot run on this machine.
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "path/conformance/case.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/registry.hpp"
#include "path/conformance/selection.hpp"

namespace path::conformance {

struct CheckCandidate {
  std::string name;         // in the registry
  std::string unavailable;  // why it cannot run here at all ("" when it can)
  OutputSelection claims;   // what it computes (all, or o,lse for a forward-only kernel)
};

struct CheckEntry {
  std::string name, description;
  std::string not_run;  // why it did not run ("" when it ran)
  std::string claims;   // "" for every output, else what it computes
  Report report;        // when it ran
  // It ran, judged at least one case, and failed none (cases it cannot run are listed, not failed).
  bool passed() const;
};

struct CheckOptions {
  std::optional<OutputSelection> outputs;  // --outputs: judged where the implementation computes them
  JudgeOptions judge{};
  std::ostream* progress = nullptr;
};

std::vector<CheckEntry> check_implementations(const Registry& registry, const std::vector<CheckCandidate>& candidates,
                                              const std::vector<Case>& cases, const CheckOptions& options);

// At least one implementation ran, and every one that ran passed.
bool check_passed(const std::vector<CheckEntry>& entries);

// The verdict table; under it what each implementation was not judged on and, for the failing
// cases (every case with verbose), the report table.
void print_check(std::ostream& os, const std::vector<CheckEntry>& entries, bool verbose);

// {"format": "pathcheck-check", "suite", "dtype", "seed", "implementations": [{"implementation",
// "ran", "not_run" | "report": report_json}], "all_passed"}.
std::string check_json(const std::vector<CheckEntry>& entries, const std::string& suite, const std::string& dtype,
                       std::uint64_t seed);

}  // namespace path::conformance
