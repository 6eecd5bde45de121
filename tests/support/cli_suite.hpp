#pragma once
// A small suite generated once per test program (a few quick cases: T = 1, GQA, varlen, decode)
// and the cpu-blockwise results for it, for the command-line tests; helpers to damage copies.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "path/conformance/manifest.hpp"
#include "support/cli.hpp"
#include "support/seed.hpp"

namespace path::testing {

// A shell word: the command lines go through /bin/sh.
inline std::string shq(const std::string& s) { return "'" + s + "'"; }

class SmallSuite {
 public:
  // q000 T = 1 with gradients, q001 GQA with Dv != D, q014 varlen with an empty and a length-1
  // sequence, q017 decode after a prefill, q018 decode from an empty cache.
  static constexpr const char* kOnly = "q000,q001,q014,q017,q018";

  explicit SmallSuite(const std::string& tag) : dir_(tag) {
    suite_ = dir_.file("suite");
    results_ = dir_.file("results");
    gen = run_pathcheck("gen --quiet --suite quick --dtype bf16 --jobs 2 --only " + std::string(kOnly) + " --seed " +
                        std::to_string(session_seed()) + " --out " + shq(suite_));
    if (gen.exit_code == 0)
      run = run_pathcheck("run --quiet --impl cpu-blockwise --suite " + shq(suite_) + " --results " + shq(results_));
  }
  const std::string& suite() const { return suite_; }
  const std::string& results() const { return results_; }
  std::string file(const std::string& name) const { return dir_.file(name); }
  std::vector<std::string> cases() const { return conformance::read_manifest(suite_).cases; }
  // A fresh copy of a folder of this fixture, to damage.
  std::string copy(const std::string& from, const std::string& name) const {
    const std::string to = dir_.file(name);
    std::filesystem::remove_all(to);
    std::filesystem::copy(from, to);
    return to;
  }

  CommandResult gen, run;

 private:
  TempDir dir_;
  std::string suite_, results_;
};

}  // namespace path::testing
