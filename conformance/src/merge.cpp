#include "path/conformance/merge.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "path/io/safetensors.hpp"

namespace path::conformance {

using json = nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string& source, const std::string& problem) { throw io::FileError(source + ": " + problem); }

json parse_report(const ReportText& r) {
  json j;
  try {
    j = json::parse(r.text);
  } catch (const json::exception& e) {
    fail(r.source, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object() || j.value("format", std::string()) != "pathcheck-report")
    fail(r.source, "not a pathcheck JSON report (written by run or validate --report-json; a check report holds one "
                   "per implementation)");
  if (!j.contains("cases") || !j["cases"].is_array()) fail(r.source, "'cases' is missing or not an array");
  if (j.value("suite_identity", std::string()).empty())
    fail(r.source, "has no suite identity (written by an older pathcheck): cannot tell which suite it judged");
  return j;
}

// The fields every report of one merge must share.
void require_same(const json& first, const ReportText& first_source, const json& j, const ReportText& source) {
  std::vector<const char*> keys = {"suite_identity", "dtype", "command", "outputs", "suite_cases"};
  if (j.value("command", std::string()) != "validate") keys.push_back("implementation");  // validate: each job its results folder
  for (const char* key : keys)
    if (j.value(key, json()) != first.value(key, json()))
      fail(source.source, std::string("its '") + key + "' is " + j.value(key, json()).dump() + ", but " +
                              first_source.source + "'s is " + first.value(key, json()).dump() +
                              (std::string(key) == "suite_identity" ? " (reports of different suites)" : ""));
}

json summary_of(const json& cases, std::size_t not_judged, bool complete) {
  std::size_t passed = 0, failed = 0, skipped = 0;
  for (const json& c : cases) {
    const std::string v = c.value("verdict", std::string());
    passed += v == "PASS";
    failed += v == "FAIL";
    skipped += v == "SKIP";
  }
  return {{"cases", cases.size()},
          {"passed", passed},
          {"failed", failed},
          {"skipped", skipped},
          {"not_judged_cases", not_judged},
          {"complete", complete},
          {"all_passed", complete && !cases.empty() && failed == 0 && skipped == 0 && passed == cases.size()}};
}

}  // namespace

MergedReport merge_reports(const std::vector<ReportText>& reports) {
  if (reports.empty()) throw io::FileError("merge: no reports");
  std::vector<json> parsed;
  for (const ReportText& r : reports) parsed.push_back(parse_report(r));
  std::map<std::string, std::string> owner;  // case -> file
  json cases = json::array(), not_judged = json::array();
  std::vector<std::string> sources;
  MergedReport m;
  double seconds = 0;
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    const json& j = parsed[i];
    require_same(parsed.front(), reports.front(), j, reports[i]);
    auto claim = [&](const std::string& name) {
      const auto [it, fresh] = owner.emplace(name, reports[i].source);
      if (!fresh) fail(reports[i].source, "case '" + name + "' is also in " + it->second + " (overlapping shards?)");
    };
    for (const json& c : j["cases"]) {
      if (!c.is_object() || !c.contains("case") || !c["case"].is_string()) fail(reports[i].source, "a case without a name");
      claim(c["case"].get<std::string>());
      cases.push_back(c);
    }
    if (j.contains("not_judged_cases") && j["not_judged_cases"].is_array())
      for (const json& c : j["not_judged_cases"]) {
        claim(c.get<std::string>());
        not_judged.push_back(c);
      }
    seconds += j.value("seconds", 0.0);
    sources.push_back(reports[i].source);
    m.shards.push_back(j.value("shard", std::string()).empty() ? "whole" : j.value("shard", std::string()));
  }
  std::sort(cases.begin(), cases.end(), [](const json& a, const json& b) { return a["case"] < b["case"]; });
  m.suite_cases = parsed.front().value("suite_cases", std::size_t{0});
  m.covered = owner.size();
  m.complete = m.suite_cases > 0 && m.covered == m.suite_cases;
  json out = parsed.front();
  out["cases"] = cases;
  out["not_judged_cases"] = not_judged;
  out["shard"] = "";
  out["merged_from"] = sources;
  out["merged_shards"] = m.shards;
  out["seconds"] = seconds;
  out["summary"] = summary_of(cases, not_judged.size(), m.complete);
  if (parsed.front().value("command", std::string()) == "validate") {
    std::vector<std::string> impls;
    for (const json& j : parsed) impls.push_back(j.value("implementation", std::string()));
    impls.erase(std::unique(impls.begin(), impls.end()), impls.end());
    std::string text;
    for (const std::string& x : impls) text += (text.empty() ? "" : ", ") + x;
    out["implementation"] = text;
  }
  m.json = out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  return m;
}

}  // namespace path::conformance
