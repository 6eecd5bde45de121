#pragma once
// Fresh random inputs on every run, reproducible from the printed seed:
//   PATHCHECK_SEED=<n> ./test_x   reruns with the seed a failure printed.
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <random>

#include "path/core/random.hpp"
#include <string>

namespace path::testing {

inline std::uint64_t session_seed() {
  static const std::uint64_t seed = [] {
    std::uint64_t s;
    if (const char* env = std::getenv("PATHCHECK_SEED")) {
      s = std::strtoull(env, nullptr, 10);
    } else {
      std::random_device rd;
      s = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }
    std::cerr << "[pathcheck tests] PATHCHECK_SEED=" << s << "\n";
    return s;
  }();
  return seed;
}

// One generator per test, derived from the session seed and the test's name, so a test's inputs
// do not depend on which other tests ran before it.
// Portable draws (path/core/random.hpp): the same seed gives the same inputs on every standard
// library (std::hash and the std:: distributions are implementation-defined).
inline path::random::Rng rng_for(const std::string& test_name) {
  return path::random::Rng(path::random::derive_seed(session_seed(), test_name));
}

inline std::string seed_note() { return "rerun with PATHCHECK_SEED=" + std::to_string(session_seed()); }

}  // namespace path::testing
