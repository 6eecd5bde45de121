// pathcheck refresh (tools/pathcheck/refresh_command.cpp): a suite's tolerances re-derived by this
// pathcheck. It must (1) turn the 2026-12-02 decode reproducers, whose stored tolerances predate the
// widened decode family, into cases the modelled GPU kernels pass, exactly as case_tolerances
// does; (2) change nothing in a suite this pathcheck made; (3) keep inputs and expected outputs;
// (4) refuse a tampered source, its own source as output, and an existing suite without --force.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "path/conformance/case.hpp"
#include "path/conformance/manifest.hpp"
#include "path/conformance/tolerance.hpp"
#include "support/cli.hpp"
#include "support/kernel_emulated.hpp"

namespace path {
namespace {

namespace fs = std::filesystem;
using namespace conformance;
using testing::run_pathcheck;
using testing::TempDir;

using testing::q;

class Refresh : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::pathcheck_binary().empty()) GTEST_FAIL() << "PATHCHECK_BIN is not set (run through ctest)";
  }
};

TEST_F(Refresh, DecodeReproducersPassTheModelledKernelsAfterIt) {
  TempDir dir("refresh");
  for (const testing::DecodeReproducer& k : testing::kDecodeReproducers) {
    const std::string file = testing::decode_reproducers_dir() + k.file + ".safetensors";
    const std::string src = fs::path(file).parent_path().string(), out = dir.file(k.model);
    const auto r = run_pathcheck("refresh --suite " + q(src) + " --out " + q(out));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const Case before = read_case(file);
    const Case after = read_case(case_path(out, before.name()));
    EXPECT_EQ(after.expected, before.expected) << "refresh must keep the oracle's expected outputs";
    EXPECT_EQ(after.input.problem.q, before.input.problem.q);
    EXPECT_EQ(after.provenance.at("seed"), before.provenance.at("seed"));
    const OutputValues model = testing::read_kernel_emulated(k.model);
    ASSERT_EQ(model.count(k.failed), 1u) << k.model;
    EXPECT_FALSE(assess(model.at(k.failed), before.expected.at(k.failed), before.tolerances.at(k.failed)).pass);
    for (const char* name : {"o", "lse"}) {
      const Assessment a = assess(model.at(name), after.expected.at(name), after.tolerances.at(name));
      EXPECT_TRUE(a.pass) << k.file << " " << name << ": ratio " << a.ratio;
    }
    // The refreshed folder is a suite run and validate accept (its digests match).
    const auto v = run_pathcheck("run --quiet --impl cpu-blockwise --suite " + q(out) + " --results " + q(out + "-r"));
    EXPECT_EQ(v.exit_code, 0) << v.output;
  }
}

TEST_F(Refresh, ASuiteOfThisPathcheckComesOutUnchanged) {
  TempDir dir("refresh-same");
  const std::string src = dir.file("s"), out = dir.file("t");
  const auto g = run_pathcheck("gen --quiet --suite quick --dtype fp16 --jobs 2 --only q000,q014,q019 --seed 11 --out " + q(src));
  ASSERT_EQ(g.exit_code, 0) << g.output;
  const auto r = run_pathcheck("refresh --quiet --suite " + q(src) + " --out " + q(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const SuiteManifest m = read_manifest(src);
  ASSERT_FALSE(m.cases.empty());
  for (const std::string& name : m.cases) {
    const Case a = read_case(case_path(src, name)), b = read_case(case_path(out, name));
    ASSERT_EQ(a.tolerances.size(), b.tolerances.size()) << name;
    for (const auto& [output, t] : a.tolerances) {
      EXPECT_EQ(b.tolerances.at(output).tolerance, t.tolerance) << name << " " << output;
      EXPECT_EQ(b.tolerances.at(output).baseline_error, t.baseline_error) << name << " " << output;
      EXPECT_EQ(b.tolerances.at(output).c, t.c) << name << " " << output;
    }
  }
}

TEST_F(Refresh, RefusesWhatItMustNotDo) {
  TempDir dir("refresh-refuse");
  const std::string src = dir.file("s"), out = dir.file("t");
  ASSERT_EQ(run_pathcheck("gen --quiet --suite quick --dtype bf16 --jobs 2 --only q000 --seed 3 --out " + q(src)).exit_code, 0);
  // Its own source as output.
  const auto self = run_pathcheck("refresh --suite " + q(src) + " --out " + q(src));
  EXPECT_EQ(self.exit_code, 1) << self.output;
  EXPECT_NE(self.output.find("the suite being refreshed"), std::string::npos) << self.output;
  // An existing suite without --force, then with it.
  ASSERT_EQ(run_pathcheck("refresh --quiet --suite " + q(src) + " --out " + q(out)).exit_code, 0);
  const auto again = run_pathcheck("refresh --quiet --suite " + q(src) + " --out " + q(out));
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_NE(again.output.find("--force"), std::string::npos) << again.output;
  EXPECT_EQ(run_pathcheck("refresh --quiet --force --suite " + q(src) + " --out " + q(out)).exit_code, 0);
  // A tampered source: one byte of a case file changed; nothing is written.
  const SuiteManifest m = read_manifest(src);
  const std::string victim = case_path(src, m.cases.front());
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-1, std::ios::end);
    char c = 0;
    f.get(c);
    f.seekp(-1, std::ios::end);
    f.put(static_cast<char>(c ^ 1));
  }
  const std::string out2 = dir.file("u");
  const auto tampered = run_pathcheck("refresh --suite " + q(src) + " --out " + q(out2));
  EXPECT_EQ(tampered.exit_code, 1) << tampered.output;
  EXPECT_FALSE(fs::exists(manifest_path(out2))) << "a refused refresh must leave no suite";
  // A bad command line.
  EXPECT_EQ(run_pathcheck("refresh --suite " + q(src)).exit_code, 2);
}

}  // namespace
}  // namespace path
