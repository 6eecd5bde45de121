// Suite manifests: writing them atomically with the case files' digests, reading and checking them.
#include "path/conformance/manifest.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <unistd.h>

#include "path/conformance/sha256.hpp"
#include "path/io/safetensors.hpp"

namespace path::conformance {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::uintmax_t kMaxManifestBytes = 64u << 20;

[[noreturn]] void fail(const std::string& file, const std::string& problem) { throw io::FileError(file + ": " + problem); }

// Temporary file in the same directory, then rename: a reader sees the old manifest or the new
// one, never half of one, and a gen killed before this point leaves no manifest at all.
void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(path, "cannot open " + tmp + " for writing");
    out << text;
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      fail(path, "write failed");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    fail(path, "cannot rename " + tmp + " into place: " + ec.message());
  }
}

json manifest_json(const SuiteManifest& m, const Shard& shard) {
  json j = {{"format", kManifestFormat}, {"format_version", kManifestFormatVersion},
            {"suite", m.suite},          {"dtype", m.dtype},
            {"seed", m.seed},            {"outputs", m.outputs.empty() ? json("all") : json(m.outputs)},
            {"cases", m.cases},          {"sha256", m.sha256}};
  if (!shard.whole()) j["shard"] = {{"index", shard.index}, {"count", shard.count}};
  return j;
}

std::string read_small_file(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec || size > kMaxManifestBytes) fail(path, "unreadable or larger than 64 MiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open for reading");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> string_list(const std::string& path, const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array()) fail(path, std::string("'") + key + "' is missing or not an array");
  std::vector<std::string> out;
  for (const json& x : *it) {
    if (!x.is_string()) fail(path, std::string("'") + key + "' holds " + x.dump(-1, ' ', false, json::error_handler_t::replace) + ", not a string");
    out.push_back(x.get<std::string>());
  }
  return out;
}

struct ParsedManifest {
  SuiteManifest m;
  Shard shard;
};

ParsedManifest parse_manifest(const std::string& path) {
  json j;
  try {
    j = json::parse(read_small_file(path));
  } catch (const json::exception& e) {
    fail(path, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object() || j.value("format", std::string()) != kManifestFormat)
    fail(path, std::string("not a pathcheck suite manifest (format != ") + kManifestFormat + ")");
  if (!j.contains("format_version") || !j["format_version"].is_number_integer() ||
      j["format_version"].get<int>() != kManifestFormatVersion)
    fail(path, "format_version " + (j.contains("format_version") ? j["format_version"].dump() : std::string("(none)")) +
                   " is not " + std::to_string(kManifestFormatVersion) +
                   ": a manifest without case digests (an older pathcheck, or written by hand); regenerate the "
                   "suite with pathcheck gen");
  ParsedManifest p;
  SuiteManifest& m = p.m;
  m.cases = string_list(path, j, "cases");
  std::set<std::string> seen;
  for (const std::string& c : m.cases) {
    if (!is_plain_case_name(c))
      fail(path, "case name " + json(c).dump(-1, ' ', false, json::error_handler_t::replace) +
                     " is not a plain file name ([A-Za-z0-9._-], not starting with '.')");
    if (!seen.insert(c).second) fail(path, "case '" + c + "' is listed twice");
  }
  if (j.contains("suite") && j["suite"].is_string()) m.suite = j["suite"].get<std::string>();
  if (j.contains("dtype") && j["dtype"].is_string()) m.dtype = j["dtype"].get<std::string>();
  if (j.contains("seed") && j["seed"].is_number_unsigned()) m.seed = j["seed"].get<std::uint64_t>();
  if (j.contains("outputs") && !(j["outputs"].is_string() && j["outputs"] == "all"))
    m.outputs = OutputSelection::parse([&] {
                  std::string s;
                  for (const std::string& o : string_list(path, j, "outputs")) s += (s.empty() ? "" : ",") + o;
                  return s;
                }()).names();
  const auto digests = j.find("sha256");
  if (digests == j.end() || !digests->is_object()) fail(path, "'sha256' is missing or not an object");
  static const std::regex hex("[0-9a-f]{64}");
  for (const auto& [name, d] : digests->items()) {
    if (!seen.count(name)) fail(path, "'sha256' has a digest for '" + name + "', which is not a case of the suite");
    if (!d.is_string() || !std::regex_match(d.get<std::string>(), hex))
      fail(path, "'sha256' entry '" + name + "' is not 64 lower-case hex digits");
    m.sha256[name] = d.get<std::string>();
  }
  if (j.contains("shard")) {
    const json& s = j["shard"];
    if (!s.is_object() || !s.contains("index") || !s.contains("count") || !s["index"].is_number_unsigned() ||
        !s["count"].is_number_unsigned())
      fail(path, "'shard' is not {\"index\": K, \"count\": N}");
    try {
      p.shard = Shard::parse(std::to_string(s["index"].get<std::size_t>()) + "/" + std::to_string(s["count"].get<std::size_t>()));
    } catch (const std::invalid_argument& e) {
      fail(path, std::string("'shard': ") + e.what());
    }
  }
  // Every case this manifest describes has its digest: a whole suite all of them, a shard its own.
  for (std::size_t i = 0; i < m.cases.size(); ++i)
    if (p.shard.holds(i) && !m.sha256.count(m.cases[i]))
      fail(path, "no digest for case '" + m.cases[i] + "' (every case file is listed with its SHA-256)");
  return p;
}

// suite.K-of-N.json files of the directory.
std::vector<std::string> shard_manifest_files(const std::string& dir) {
  static const std::regex name(R"(suite\.[0-9]+-of-[0-9]+\.json)");
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (std::regex_match(e.path().filename().string(), name)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

bool same_suite(const SuiteManifest& a, const SuiteManifest& b) {
  return a.suite == b.suite && a.dtype == b.dtype && a.seed == b.seed && a.cases == b.cases && a.outputs == b.outputs;
}

// The union of the shard manifests in the directory; std::nullopt when there are none.
std::optional<SuiteManifest> read_shard_manifests(const std::string& dir) {
  const std::vector<std::string> files = shard_manifest_files(dir);
  if (files.empty()) return std::nullopt;
  std::optional<SuiteManifest> all;
  std::size_t count = 0;
  std::set<std::size_t> present;
  for (const std::string& f : files) {
    const ParsedManifest p = parse_manifest(f);
    if (p.shard.whole() || f != manifest_path(dir, p.shard))
      fail(f, "its 'shard' entry does not match its file name");
    if (!all) {
      all = p.m;
      count = p.shard.count;
    } else if (!same_suite(*all, p.m) || p.shard.count != count) {
      fail(f, "is a shard of another suite than " + files.front() + " (suite, dtype, seed, cases or shard count differ)");
    }
    all->sha256.insert(p.m.sha256.begin(), p.m.sha256.end());
    present.insert(p.shard.index);
  }
  for (std::size_t k = 1; k <= count; ++k)
    if (!present.count(k)) all->missing_shards.push_back(Shard{k, count}.text());
  return all;
}

}  // namespace

bool is_plain_case_name(const std::string& s) {
  if (s.empty() || s.size() > 200 || s[0] == '.') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

std::string case_path(const std::string& dir, const std::string& case_name) {
  return (fs::path(dir) / (case_name + ".safetensors")).string();
}

std::string manifest_path(const std::string& dir, const Shard& shard) {
  if (shard.whole()) return (fs::path(dir) / kManifestName).string();
  return (fs::path(dir) / ("suite." + std::to_string(shard.index) + "-of-" + std::to_string(shard.count) + ".json")).string();
}

void write_manifest(const std::string& dir, const SuiteManifest& m, const Shard& shard) {
  SuiteManifest hashed = m;
  hashed.sha256.clear();
  hashed.missing_shards.clear();
  for (std::size_t i = 0; i < m.cases.size(); ++i)
    if (shard.holds(i)) hashed.sha256[m.cases[i]] = sha256_file(case_path(dir, m.cases[i]));
  write_atomically(manifest_path(dir, shard), manifest_json(hashed, shard).dump(2) + "\n");
  if (shard.whole()) return;
  // The shard that finds every shard manifest present completes the suite. Two shards finishing
  // together may both do it: they write the same text, each through its own rename.
  const std::optional<SuiteManifest> all = read_shard_manifests(dir);
  if (all && all->missing_shards.empty()) write_atomically(manifest_path(dir), manifest_json(*all, {}).dump(2) + "\n");
}

SuiteManifest read_manifest(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw io::FileError(dir + ": not a directory (expected a suite directory)");
  SuiteManifest m;
  if (fs::exists(manifest_path(dir), ec)) {
    m = parse_manifest(manifest_path(dir)).m;
  } else if (auto shards = read_shard_manifests(dir)) {
    m = std::move(*shards);
  } else {
    throw io::FileError(dir + ": no " + std::string(kManifestName) +
                        ": not a complete suite (pathcheck gen writes it last, so an interrupted gen leaves none; "
                        "rerun the same gen to finish it)");
  }
  if (m.cases.empty()) throw io::FileError(manifest_path(dir) + ": lists no cases");
  return m;
}

void verify_case_files(const std::string& dir, const SuiteManifest& m, const std::vector<std::string>& names) {
  std::vector<std::string> problems;
  for (const std::string& name : names) {
    const auto it = m.sha256.find(name);
    const std::string file = case_path(dir, name);
    if (it == m.sha256.end()) {
      problems.push_back(name + ": no digest (its shard's manifest is missing: shards " +
                         [&] {
                           std::string s;
                           for (const std::string& k : m.missing_shards) s += (s.empty() ? "" : ", ") + k;
                           return s;
                         }() + " did not finish)");
      continue;
    }
    std::error_code ec;
    if (!fs::exists(file, ec)) {
      problems.push_back(file + ": missing");
      continue;
    }
    if (sha256_file(file) != it->second) problems.push_back(file + ": does not match its SHA-256 in the manifest");
  }
  if (problems.empty()) return;
  std::string text = dir + ": the suite's files do not match its manifest (edited or replaced after generation?); "
                     "regenerate it with pathcheck gen. " + std::to_string(problems.size()) + " problem(s):";
  for (std::size_t i = 0; i < problems.size() && i < 5; ++i) text += "\n  " + problems[i];
  if (problems.size() > 5) text += "\n  ...";
  throw io::FileError(text);
}

std::string suite_identity(const std::string& suite, const std::string& dtype, std::uint64_t seed,
                           const std::vector<std::string>& cases) {
  Sha256 h;
  const json j = {{"suite", suite}, {"dtype", dtype}, {"seed", seed}, {"cases", cases}};
  h.update(j.dump());
  return h.hex_digest();
}

}  // namespace path::conformance
