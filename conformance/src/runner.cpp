// Suite directories, running an implementation through cases, result files.
#include "path/conformance/runner.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace path::conformance {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Case names become file names: letters, digits, '.', '_', '-' only, not starting with '.'.
bool safe_name(const std::string& s) {
  if (s.empty() || s.size() > 200 || s[0] == '.') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

constexpr std::uintmax_t kMaxManifestBytes = 16u << 20;

}  // namespace

std::string case_path(const std::string& dir, const std::string& case_name) {
  return (fs::path(dir) / (case_name + ".safetensors")).string();
}

void write_manifest(const std::string& dir, const SuiteManifest& m) {
  json j = {{"format", "pathcheck-conformance-suite"},
            {"format_version", kCaseFormatVersion},
            {"suite", m.suite},
            {"dtype", m.dtype},
            {"seed", m.seed},
            {"cases", m.cases}};
  const std::string path = (fs::path(dir) / kManifestName).string();
  std::ofstream out(path, std::ios::trunc);
  if (!out) throw io::FileError(path + ": cannot open for writing");
  out << j.dump(2) << "\n";
  out.close();
  if (!out) throw io::FileError(path + ": write failed");
}

SuiteManifest read_manifest(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw io::FileError(dir + ": not a directory (expected a suite directory)");
  const fs::path manifest = fs::path(dir) / kManifestName;
  SuiteManifest m;
  if (fs::exists(manifest, ec)) {
    const std::string path = manifest.string();
    const auto size = fs::file_size(manifest, ec);
    if (ec || size > kMaxManifestBytes) throw io::FileError(path + ": unreadable or larger than 16 MiB");
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    json j;
    try {
      j = json::parse(ss.str());
    } catch (const json::exception& e) {
      throw io::FileError(path + ": not valid JSON: " + e.what());
    }
    if (!j.is_object() || j.value("format", std::string()) != "pathcheck-conformance-suite")
      throw io::FileError(path + ": not a pathcheck suite manifest (format != pathcheck-conformance-suite)");
    const auto cases = j.find("cases");
    if (cases == j.end() || !cases->is_array()) throw io::FileError(path + ": 'cases' is missing or not an array");
    for (const json& c : *cases) {
      if (!c.is_string() || !safe_name(c.get<std::string>()))
        throw io::FileError(path + ": case name " + c.dump(-1, ' ', false, json::error_handler_t::replace) +
                            " is not a plain file name ([A-Za-z0-9._-], not starting with '.')");
      m.cases.push_back(c.get<std::string>());
    }
    if (j.contains("suite") && j["suite"].is_string()) m.suite = j["suite"].get<std::string>();
    if (j.contains("dtype") && j["dtype"].is_string()) m.dtype = j["dtype"].get<std::string>();
    if (j.contains("seed") && j["seed"].is_number_unsigned()) m.seed = j["seed"].get<std::uint64_t>();
  } else {
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_regular_file() && e.path().extension() == ".safetensors" && safe_name(e.path().stem().string()))
        m.cases.push_back(e.path().stem().string());
    std::sort(m.cases.begin(), m.cases.end());
    m.suite = dir;
  }
  if (m.cases.empty()) throw io::FileError(dir + ": no conformance cases (no suite.json and no *.safetensors files)");
  return m;
}

io::TensorFile results_file(const Case& c, const Outputs& outputs, const std::string& implementation) {
  io::TensorFile f;
  for (const auto& [name, t] : outputs) f.tensors[name] = t;
  f.metadata["case"] = c.name();
  f.metadata["implementation"] = implementation;
  return f;
}

CaseVerdict run_case(Implementation& impl, const Case& c, const JudgeOptions& judge_options,
                     const std::optional<std::string>& results_dir) {
  if (const std::string why = impl.cannot_run(c.spec()); !why.empty())
    return skipped_case(c, impl.name() + " cannot run this case: " + why);
  Outputs outputs = poisoned_outputs(c.spec());
  const auto start = std::chrono::steady_clock::now();
  CaseVerdict v;
  try {
    impl.run(c.input, outputs);
  } catch (const io::FileError& e) {
    v = failed_case(c, std::string("results unreadable: ") + e.what());
  } catch (const std::exception& e) {
    v = failed_case(c, impl.name() + " failed: " + e.what());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (v.problem.empty()) {
    v = judge(c, outputs, judge_options);
    if (results_dir) {
      // A failing case's outputs are kept too, for inspection.
      io::write_safetensors(case_path(*results_dir, c.name()), results_file(c, outputs, impl.name()), true);
    }
  }
  v.seconds = seconds;
  return v;
}

namespace {

std::string note_of(const CaseVerdict& v) {
  std::string note(to_string(v.verdict));
  if (v.verdict != Verdict::pass) {
    if (!v.problem.empty()) note += ": " + v.problem;
    for (const OutputVerdict& o : v.outputs)
      if (o.verdict == Verdict::fail) note += " " + o.output;
  }
  return note;
}

CaseVerdict unreadable_case(const std::string& name, const std::string& problem) {
  CaseVerdict v;
  v.name = name;
  v.verdict = Verdict::fail;
  v.problem = "case file unreadable: " + problem;
  return v;
}

}  // namespace

Report run_suite_directory(Implementation& impl, const std::string& suite_dir, const SuiteRunOptions& options) {
  const SuiteManifest m = read_manifest(suite_dir);
  Report r;
  r.suite = suite_dir;
  r.implementation = impl.name();
  r.dtype = m.dtype;
  const auto start = std::chrono::steady_clock::now();
  Progress progress(options.progress, impl.name(), {}, m.cases.size());
  for (std::size_t i = 0; i < m.cases.size(); ++i) {
    const std::string& name = m.cases[i];
    CaseVerdict v;
    try {
      const Case c = read_case(case_path(suite_dir, name));
      if (c.name() != name)
        v = unreadable_case(name, "its metadata 'case' is '" + c.name() + "', not its file name");
      else
        v = run_case(impl, c, options.judge, options.results_dir);
      if (r.dtype.empty()) r.dtype = std::string(dtype_label(c.spec().dtype));
    } catch (const io::FileError& e) {
      v = unreadable_case(name, e.what());
    }
    progress.done(i, name, note_of(v));
    r.cases.push_back(std::move(v));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

Report run_cases(Implementation& impl, const std::vector<Case>& cases, const SuiteRunOptions& options) {
  Report r;
  r.implementation = impl.name();
  if (!cases.empty()) r.dtype = std::string(dtype_label(cases.front().spec().dtype));
  const auto start = std::chrono::steady_clock::now();
  Progress progress(options.progress, impl.name(), {}, cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CaseVerdict v = run_case(impl, cases[i], options.judge, options.results_dir);
    progress.done(i, cases[i].name(), note_of(v));
    r.cases.push_back(std::move(v));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace path::conformance
