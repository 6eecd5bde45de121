// Command line, bookkeeping and the final verdict shared by every proof program.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace proofs {

// The command line of every proof program (the theorem programs and proofs/identities/):
//   --long        the longer setting
//   --seed N      seed of the random inputs
//   --plant NAME  break one named term or weight; the run must then FAIL (NAME from the program's
//                 list); --plant-bug is --plant with the program's first (for the theorem
//                 programs: only) planted bug
struct Options {
  bool long_run = false;
  std::string plant;  // empty: no planted bug
  std::uint64_t seed = 20250522;
  bool plant_bug() const { return !plant.empty(); }
};

inline Options parse_options(int argc, char** argv, std::string_view what, const std::vector<std::string>& plants) {
  Options o;
  auto usage = [&](int status) {
    std::cout << what << "\n  --long        longer setting: wider exhaustive ranges, more random inputs\n"
              << "  --seed N      seed of the random inputs (default " << o.seed << ")\n"
              << "  --plant NAME  break one term (the run must then FAIL); NAME one of:";
    for (const auto& p : plants) std::cout << " " << p;
    std::cout << "\n  --plant-bug   the same with " << (plants.empty() ? std::string("-") : plants.front()) << "\n";
    std::exit(status);
  };
  for (int a = 1; a < argc; ++a) {
    const std::string_view arg = argv[a];
    if (arg == "--long") {
      o.long_run = true;
    } else if (arg == "--seed" && a + 1 < argc) {
      o.seed = std::strtoull(argv[++a], nullptr, 10);
    } else if (arg == "--plant-bug" && !plants.empty()) {
      o.plant = plants.front();
    } else if (arg == "--plant" && a + 1 < argc) {
      o.plant = argv[++a];
      bool known = false;
      for (const auto& p : plants) known = known || p == o.plant;
      if (!known) {
        std::cout << "unknown plant '" << o.plant << "'\n";
        usage(2);
      }
    } else {
      usage(arg == "--help" ? 0 : 2);
    }
  }
  std::cout << what << " [" << (o.long_run ? "long" : "default") << " setting, seed " << o.seed
            << (o.plant.empty() ? "" : ", PLANTED BUG '" + o.plant + "'") << "]\n";
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
