#pragma once
// The manifest of a suite directory (docs/conformance.md): suite.json lists every case of the
// suite, in order, with the SHA-256 of its file. gen writes it last, atomically, so a directory
// whose gen was interrupted has none and is not a suite; run and validate refuse a directory whose
// case files do not match their digests (edited, truncated or swapped after generation).
//
// A sharded gen (--shard K/N, docs/sharding.md) writes suite.K-of-N.json for its own cases (the
// whole case list, the digests of its shard); the job that completes the set also writes suite.json.
// A directory holding only some shard manifests is a partial suite: its shards can be run, and
// reading it says which shards are missing.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "path/conformance/selection.hpp"

namespace path::conformance {

inline constexpr const char* kManifestName = "suite.json";
inline constexpr const char* kManifestFormat = "pathcheck-conformance-suite";
inline constexpr int kManifestFormatVersion = 2;  // 2: with the digests and the outputs

struct SuiteManifest {
  std::string suite;   // quick / standard / full / custom
  std::string dtype;   // bf16 / fp16 / fp32
  std::uint64_t seed = 0;
  std::vector<std::string> outputs;           // the outputs gen was asked for (empty: all)
  std::vector<std::string> cases;             // every case of the suite; the files are <name>.safetensors
  std::map<std::string, std::string> sha256;  // case -> digest of its file (those present)
  std::vector<std::string> missing_shards;    // read_manifest of a partial sharded suite: "2/8", ...
};

std::string case_path(const std::string& dir, const std::string& case_name);
// suite.json, or suite.K-of-N.json for a shard.
std::string manifest_path(const std::string& dir, const Shard& shard = {});

// Hashes the case files of the shard (every case of m for the whole suite; m.sha256 is ignored)
// and writes the manifest through a temporary file renamed into place. For a shard, once every
// shard manifest of the suite is in the directory, suite.json too. FileError naming the file on
// any failure (a case file missing included).
void write_manifest(const std::string& dir, const SuiteManifest& m, const Shard& shard = {});

// suite.json, else the shard manifests. FileError for a missing directory, no manifest (an
// interrupted gen), a malformed manifest, a case name that is not a plain file name, a case
// without a digest, or shard manifests of different suites.
SuiteManifest read_manifest(const std::string& dir);

// Refuses (FileError, listing the first few) when a case of `names` has no digest in the
// manifest (its shard is missing) or its file does not match it.
void verify_case_files(const std::string& dir, const SuiteManifest& m, const std::vector<std::string>& names);

// A digest of what identifies a suite's contents (suite, dtype, seed, case names): reports of
// shards of one suite carry the same one, and pathcheck merge refuses reports that differ.
std::string suite_identity(const std::string& suite, const std::string& dtype, std::uint64_t seed,
                           const std::vector<std::string>& cases);

// Case names become file names: letters, digits, '.', '_', '-' only, not starting with '.'.
bool is_plain_case_name(const std::string& name);

}  // namespace path::conformance
