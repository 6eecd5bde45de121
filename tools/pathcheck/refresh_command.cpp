// pathcheck refresh: a suite's cases with their tolerances re-derived by this pathcheck.
//
// Why: a case file stores its tolerances (docs/conformance.md), measured when it was generated
// from the baseline family of that day. When the family grows (as on 2026-12-02, e48acd9: decode
// members that score before the cache is rounded), a reproducer kept in a repository is judged by
// its old tolerances forever: the H200 replays of that day failed for exactly that reason. Refresh
// keeps everything a case is (inputs, do, the mp100 expected outputs, the seed, c and the floor it
// was made with) and recomputes only what the tolerance model derives from them
// (case_tolerances: the baseline family on the stored inputs, row scales, floors), so the result
// is the case that `pathcheck gen` would write today for the same inputs. The source suite is
// read (its digests checked) and never written; DIR gets a new suite.json.
#include "refresh_command.hpp"

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "command_options.hpp"
#include "path/conformance/case.hpp"
#include "path/conformance/manifest.hpp"
#include "path/conformance/suite.hpp"
#include "path/conformance/tolerance.hpp"
#include "path/io/safetensors.hpp"

namespace pathcheck {

namespace pc = path::conformance;
namespace fs = std::filesystem;

CommandLine refresh_command_line() {
  return CommandLine("pathcheck refresh --suite SRC --out DIR [--force] [--quiet]",
                     "Writes the cases of the suite SRC to DIR with their tolerances re-derived by this pathcheck: "
                     "the same inputs, do, expected outputs (the mp100 oracle's, as stored), seed, c and floor; "
                     "the baseline family's errors, row scales and tolerances recomputed under the current "
                     "tolerance model (docs/tolerance.md). For reproducers kept from an older pathcheck, whose "
                     "stored tolerances predate a change of the baseline family. Format 1 cases come out as "
                     "format 2.")
      .option("--suite", "SRC", "the suite folder to refresh (read only; its SHA-256 digests are checked)")
      .option("--out", "DIR", "the new suite folder (must not be SRC; an existing suite is kept unless --force)")
      .flag("--force", "replace a suite in DIR")
      .flag("--quiet", "no line per case")
      .footer("Exit status: 0 written, 1 an error (named: a file, a tensor, a digest), 2 a bad command line.");
}

namespace {

// The c and floor a case was made with (every output of a case has the same ones).
pc::ToleranceModel model_of(const pc::Case& c) {
  pc::ToleranceModel m;
  if (c.tolerances.empty()) throw path::io::FileError(c.source + ": the case has no tolerances");
  const pc::Tolerance& t = c.tolerances.begin()->second;
  m.c = t.c;
  m.floor_ulps = t.floor_ulps;
  return m;
}

void refuse_unsafe_output(const std::string& src, const std::string& out, bool force) {
  std::error_code ec;
  if (fs::exists(out, ec) && fs::equivalent(src, out, ec))
    throw path::io::FileError(out + ": --out is the suite being refreshed; write the refreshed cases elsewhere");
  if (fs::exists(pc::manifest_path(out), ec) && !force)
    throw path::io::FileError(out + ": already holds a suite (" + std::string(pc::kManifestName) +
                              "); use --force to replace it");
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out, ec)) throw path::io::FileError(out + ": cannot create the folder");
}

std::string tolerance_change(const std::string& output, const pc::Tolerance& before, const pc::Tolerance& after) {
  std::ostringstream os;
  os << output << " " << std::setprecision(3) << before.tolerance << " -> " << after.tolerance;
  return os.str();
}

}  // namespace

int run_refresh(const std::vector<std::string>& args) {
  const Arguments a = refresh_command_line().parse(args);
  const std::string src = a.required("--suite"), out = a.required("--out");
  const bool force = a.has("--force"), quiet = a.has("--quiet");
  const pc::SuiteManifest m = pc::read_manifest(src);
  pc::verify_case_files(src, m, m.cases);  // a tampered or partial source is refused before anything is written
  refuse_unsafe_output(src, out, force);
  // The old manifest goes first: an interrupted refresh must not leave a suite that looks complete.
  std::error_code ec;
  fs::remove(pc::manifest_path(out), ec);
  for (const std::string& name : m.cases) {
    pc::Case c = pc::read_case(pc::case_path(src, name));
    const std::map<std::string, pc::Tolerance> before = c.tolerances;
    pc::derive_tolerances(c, model_of(c));
    c.provenance["refreshed_from"] = c.provenance["generator"] + ", " + src;
    c.provenance["generator"] = "pathcheck refresh (format " + std::to_string(pc::kCaseFormatVersion) + ")";
    pc::write_case(pc::case_path(out, name), c, true);
    if (!quiet) {
      std::cout << "  " << name << ":";
      for (const auto& [output, t] : c.tolerances)
        if (before.count(output)) std::cout << " " << tolerance_change(output, before.at(output), t);
      std::cout << "\n";
    }
  }
  pc::write_manifest(out, m);
  std::cout << "pathcheck refresh: " << m.cases.size() << " cases of " << src << " -> " << out
            << " (tolerances re-derived; inputs and expected outputs unchanged)\n";
  return 0;
}

}  // namespace pathcheck
