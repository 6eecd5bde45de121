#include "command_options.hpp"

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "path/conformance/manifest.hpp"
#include "path/io/safetensors.hpp"

namespace pathcheck {

namespace fs = std::filesystem;
namespace pc = path::conformance;

const char* const kOutputsHelp =
    "judge only these outputs (o, lse, k_cache, dq, dk, dv, dw, dbeta, dg; comma-separated); the report "
    "says what was not judged";
const char* const kShardHelp = "this job's part of the suite: case i goes to shard i mod N + 1 (docs/sharding.md)";
const char* const kForceHelp = "replace existing output files";

std::optional<pc::OutputSelection> outputs_option(const Arguments& a) {
  if (!a.has("--outputs")) return std::nullopt;
  try {
    return pc::OutputSelection::parse(a.required("--outputs"));
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--outputs: ") + e.what());
  }
}

std::optional<std::uint64_t> seed_option(const Arguments& a) {
  if (!a.has("--seed")) return std::nullopt;
  const std::string text = a.required("--seed");
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 20)
    throw UsageError("--seed: '" + text + "' is not a non-negative integer");
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    throw UsageError("--seed: '" + text + "' is out of range");
  }
}

std::string only_option(const Arguments& a) {
  if (!a.has("--only")) return "";
  const std::string only = a.required("--only");
  if (only.find_first_not_of(", ") == std::string::npos)
    throw UsageError("--only: give part of a case name (q000, or q000,q017); '" + only + "' selects nothing");
  return only;
}

pc::Shard shard_option(const Arguments& a) {
  if (!a.has("--shard")) return {};
  try {
    return pc::Shard::parse(a.required("--shard"));
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--shard: ") + e.what());
  }
}

bool same_or_inside(const std::string& a, const std::string& b) {
  std::error_code ec;
  const fs::path outer = fs::weakly_canonical(a, ec);
  if (ec) return false;
  for (fs::path p = fs::weakly_canonical(b, ec); !ec && !p.empty(); p = p.parent_path()) {
    if (p == outer) return true;
    if (p == p.parent_path()) break;
  }
  return false;
}

void require_writable_directory(const std::string& dir) {
  const std::string probe = (fs::path(dir) / (".pathcheck-write-test." + std::to_string(::getpid()))).string();
  {
    std::ofstream out(probe, std::ios::binary | std::ios::trunc);
    if (!out) throw path::io::FileError(dir + ": cannot create files in this folder (read-only, or no permission)");
  }
  std::error_code ec;
  fs::remove(probe, ec);
}

namespace {

void check_report_path(const std::string& option, const std::string& file, bool force, const std::string& suite_dir) {
  std::error_code ec;
  if (!suite_dir.empty() && same_or_inside(suite_dir, file))
    throw path::io::FileError(file + ": " + option + " points into the suite folder " + suite_dir +
                              " (its case files and manifest are not to be written); choose another path");
  if (fs::is_directory(file, ec)) throw path::io::FileError(file + ": " + option + " names a folder, not a file");
  if (fs::exists(file, ec) && !force)
    throw path::io::FileError(file + ": " + option + ": already exists; use --force to replace it");
  const fs::path parent = fs::path(file).parent_path().empty() ? fs::path(".") : fs::path(file).parent_path();
  if (!fs::is_directory(parent, ec))
    throw path::io::FileError(file + ": " + option + ": the folder " + parent.string() + " does not exist");
  require_writable_directory(parent.string());
}

}  // namespace

ReportPaths report_paths(const Arguments& a, const std::string& suite_dir) {
  ReportPaths p;
  p.overwrite = a.has("--force");
  if (a.has("--report-json")) p.json = a.required("--report-json");
  if (a.has("--junit")) p.junit = a.required("--junit");
  if (p.json && p.junit && fs::weakly_canonical(*p.json) == fs::weakly_canonical(*p.junit))
    throw UsageError("--report-json and --junit name the same file " + *p.json);
  if (p.json) check_report_path("--report-json", *p.json, p.overwrite, suite_dir);
  if (p.junit) check_report_path("--junit", *p.junit, p.overwrite, suite_dir);
  return p;
}

void write_reports(const ReportPaths& paths, const pc::Report& report) {
  if (paths.json) pc::write_text_file(*paths.json, pc::report_json(report), paths.overwrite);
  if (paths.junit) pc::write_text_file(*paths.junit, pc::report_junit(report), paths.overwrite);
}

std::string prepare_results_for(const std::string& dir, const std::string& suite_dir,
                                const std::vector<std::string>& cases, bool force) {
  std::error_code ec;
  if (!suite_dir.empty() && same_or_inside(suite_dir, dir))
    throw path::io::FileError(dir + ": --results is the suite folder or inside it; result files would replace or mix "
                                    "with the case files: give another folder");
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw path::io::FileError(dir + ": not a folder (expected the results folder)");
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir, ec)) throw path::io::FileError(dir + ": cannot create the results folder");
  require_writable_directory(dir);
  if (force) return dir;
  std::vector<std::string> existing;
  for (const std::string& c : cases)
    if (fs::exists(pc::case_path(dir, c), ec)) existing.push_back(pc::case_path(dir, c));
  if (!existing.empty())
    throw path::io::FileError(existing.front() + ": already exists (" + std::to_string(existing.size()) +
                              " result file(s) of this run are already in " + dir +
                              "); use --force to replace them, or give a new folder");
  return dir;
}

}  // namespace pathcheck
