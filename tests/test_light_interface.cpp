// The light plug-in interface (conformance/include/path/conformance/implementation.hpp) needs
// the C++ standard library alone: a minimal adapter (tests/light_adapter/minimal_adapter.cpp)
// compiles with only core/include and conformance/include on the include path, and the
// compiler's dependency list (-MM style, every header it opened) holds no Eigen, Boost, GMP,
// MPFR or nlohmann-json header and no project header outside the light set.
// This fails if anyone makes implementation.hpp (or a header it includes) include a heavy one.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

const std::string kRoot = PATH_SOURCE_DIR;

// Runs a shell command, returns (exit status, stdout).
std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return {-1, ""};
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int status = pclose(p);
  return {status, out};
}

std::string compile_command(const std::string& extra) {
  return std::string("'") + PATH_CXX_COMPILER + "' -std=c++20 " + extra + " -I'" + kRoot + "/core/include' -I'" + kRoot +
         "/conformance/include' '" + kRoot + "/tests/light_adapter/minimal_adapter.cpp' 2>&1";
}

std::vector<std::string> dependencies() {
  const auto [status, out] = run(compile_command("-M"));
  EXPECT_EQ(status, 0) << out;
  std::vector<std::string> deps;
  std::istringstream in(out);
  std::string word;
  while (in >> word)
    if (word != "\\" && word.back() != ':') deps.push_back(word);
  return deps;
}

TEST(LightInterface, MinimalAdapterCompilesWithOnlyTheLightIncludePaths) {
  const auto [status, out] = run(compile_command("-c -o /dev/null -Wall -Wextra -Werror"));
  EXPECT_EQ(status, 0) << out;
}

TEST(LightInterface, NoHeavyOrNonLightHeaderIsPulledIn) {
  const std::vector<std::string> deps = dependencies();
  ASSERT_GT(deps.size(), 3u);
  bool saw_interface = false;
  for (const std::string& d : deps) {
    for (const char* heavy : {"boost/", "eigen", "Eigen", "gmp", "mpfr", "nlohmann"})
      EXPECT_EQ(d.find(heavy), std::string::npos) << d << " is not a standard-library header";
    if (d.rfind(kRoot, 0) == 0) {
      const std::string rel = d.substr(kRoot.size() + 1);
      const bool light = rel.rfind("core/include/", 0) == 0 || rel == "conformance/include/path/conformance/implementation.hpp" ||
                         rel == "tests/light_adapter/minimal_adapter.cpp";
      EXPECT_TRUE(light) << rel << " is a project header outside the light interface";
      saw_interface = saw_interface || rel == "conformance/include/path/conformance/implementation.hpp";
    }
  }
  EXPECT_TRUE(saw_interface) << "the dependency list does not even name implementation.hpp";
}

}  // namespace
