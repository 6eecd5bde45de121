// Command line, bookkeeping and the final verdict shared by the two proof programs.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

namespace proofs {

struct Options {
  bool long_run = false;   // --long: longer exhaustive sweep and more random words
  bool plant_bug = false;  // --plant-bug: perturb one weight; the program must then fail
  std::uint64_t seed = 20250522;
};

inline Options parse_options(int argc, char** argv, std::string_view usage) {
  Options o;
  for (int a = 1; a < argc; ++a) {
    const std::string_view arg = argv[a];
    if (arg == "--long") {
      o.long_run = true;
    } else if (arg == "--plant-bug") {
      o.plant_bug = true;
    } else if (arg == "--seed" && a + 1 < argc) {
      o.seed = std::strtoull(argv[++a], nullptr, 10);
    } else {
      std::cout << usage << "\n  --long        longer exhaustive sweep and more random inputs\n"
                << "  --plant-bug   perturb one construction weight (the run must then FAIL)\n"
                << "  --seed N      seed of the random inputs (default " << o.seed << ")\n";
      std::exit(arg == "--help" ? 0 : 2);
    }
  }
  return o;
}

// Counts checks and keeps the first counterexample of one kind of check.
struct Tally {
  explicit Tally(std::string name) : what(std::move(name)) {}

  std::string what;
  long long checked = 0;
  long long failures = 0;
  std::string first_failure;

  // detail() builds the description of a failure; it is only called when ok is false.
  template <class Detail>
  void record(bool ok, Detail detail) {
    ++checked;
    if (ok) return;
    if (failures == 0) first_failure = detail();
    ++failures;
  }
};

class Stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

inline void print_tally(const Tally& t, double seconds) {
  std::cout << t.what << ": " << t.checked << " checked, " << t.failures << " failures (" << seconds << " s)\n";
  if (t.failures > 0) std::cout << "  first failure: " << t.first_failure << "\n";
}

}  // namespace proofs
