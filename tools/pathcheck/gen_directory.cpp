#include "gen_directory.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "path/conformance/case.hpp"
#include "path/conformance/manifest.hpp"
#include "path/conformance/suite.hpp"
#include "path/io/safetensors.hpp"

namespace pathcheck {

namespace fs = std::filesystem;
namespace pc = path::conformance;
using json = nlohmann::json;
using path::io::FileError;

namespace {

std::string marker_path(const std::string& out, const pc::Shard& shard) {
  const std::string suffix =
      shard.whole() ? "" : "." + std::to_string(shard.index) + "-of-" + std::to_string(shard.count);
  return (fs::path(out) / (".pathcheck-gen" + suffix + ".json")).string();
}

json marker_json(const GenRequest& r, std::uint64_t seed) {
  return {{"suite", r.suite}, {"dtype", r.dtype},     {"seed", seed},   {"c", r.c},
          {"floor_ulps", r.floor_ulps}, {"outputs", r.outputs}, {"cases", r.cases}, {"shard", r.shard.text()}};
}

std::optional<json> read_marker(const std::string& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception&) {
    return json::object();  // unreadable: matches nothing, so only --force starts over
  }
}

// Everything but the seed equal, and the seed too when one was given.
bool same_request(const json& marker, const GenRequest& r) {
  json want = marker_json(r, 0);
  json have = marker;
  if (!have.is_object() || !have.contains("seed") || !have["seed"].is_number_unsigned()) return false;
  const std::uint64_t seed = have["seed"].get<std::uint64_t>();
  have.erase("seed");
  want.erase("seed");
  return have == want && (!r.seed || *r.seed == seed);
}

// A case file an interrupted gen finished: it reads (every check of case_from_file) and is the
// case of this suite and seed.
bool finished_case(const std::string& file, const std::string& name, const GenRequest& r, std::uint64_t seed) {
  try {
    const pc::Case c = pc::read_case(file);
    return c.name() == name && c.provenance.at("seed") == std::to_string(seed) && c.provenance.at("suite") == r.suite &&
           std::string(path::dtype_label(c.spec().dtype)) == r.dtype;
  } catch (const std::exception&) {
    return false;
  }
}

void remove_manifests_replaced_by(const std::string& out, const pc::Shard& shard) {
  std::error_code ec;
  fs::remove(pc::manifest_path(out), ec);  // the suite is no longer complete
  if (!shard.whole()) fs::remove(pc::manifest_path(out, shard), ec);
}

void write_marker(const std::string& file, const json& j) {
  std::ofstream out(file, std::ios::trunc);
  out << j.dump(2) << "\n";
  out.close();
  if (!out) throw FileError(file + ": cannot write gen's progress marker");
}

}  // namespace

GenPlan plan_generation(const std::string& out, const GenRequest& r, bool force) {
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec)) throw FileError(out + ": exists and is not a directory");
  fs::create_directories(out, ec);
  if (ec) throw FileError(out + ": cannot create directory: " + ec.message());
  const std::string own_manifest = pc::manifest_path(out, r.shard);
  const bool complete = fs::exists(own_manifest, ec) || (r.shard.whole() && fs::exists(pc::manifest_path(out), ec));
  if (complete && !force)
    throw FileError(out + ": already holds a suite (" + fs::path(own_manifest).filename().string() +
                    "); use --force to replace it");
  const std::vector<std::string> mine = pc::shard_of(r.cases, r.shard);
  const std::string marker_file = marker_path(out, r.shard);
  const std::optional<json> marker = read_marker(marker_file);
  GenPlan plan;
  if (marker && !force && !complete) {
    if (!same_request(*marker, r))
      throw FileError(out + ": holds an interrupted gen of other options (" + marker_file + ": " + marker->dump() +
                      "); rerun that gen (same options and seed) to finish it, or use --force to start over");
    plan.seed = (*marker)["seed"].get<std::uint64_t>();
    for (const std::string& name : mine) {
      if (finished_case(pc::case_path(out, name), name, r, plan.seed)) ++plan.kept;
      else plan.to_build.push_back(name);
    }
    return plan;
  }
  if (!force)
    for (const std::string& name : mine)
      if (fs::exists(pc::case_path(out, name), ec))
        throw FileError(pc::case_path(out, name) + ": already exists (and no unfinished gen of this suite is recorded in " +
                        out + "); use --force to replace it");
  remove_manifests_replaced_by(out, r.shard);
  plan.seed = r.seed ? *r.seed : pc::random_seed();
  plan.to_build = mine;
  write_marker(marker_file, marker_json(r, plan.seed));
  return plan;
}

void remove_marker(const std::string& out, const pc::Shard& shard) {
  std::error_code ec;
  fs::remove(marker_path(out, shard), ec);
}

}  // namespace pathcheck
