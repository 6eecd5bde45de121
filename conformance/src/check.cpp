#include "path/conformance/check.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

#include "path/conformance/runner.hpp"

namespace path::conformance {

bool CheckEntry::passed() const {
  return not_run.empty() && report.count(Verdict::fail) == 0 && report.count(Verdict::pass) > 0;
}

namespace {

// The outputs both the user and the implementation want judged; empty when they share none.
std::vector<std::string> shared_outputs(const OutputSelection& user, const OutputSelection& claimed) {
  std::vector<std::string> both;
  for (const std::string& n : user.all() ? all_output_names() : user.names())
    if (claimed.selects(n)) both.push_back(n);
  return both;
}

CheckEntry check_one(const Registry& registry, const CheckCandidate& candidate, const std::vector<Case>& cases,
                     const CheckOptions& options) {
  CheckEntry e;
  e.name = candidate.name;
  e.not_run = candidate.unavailable;
  const std::unique_ptr<Implementation> impl = e.not_run.empty() ? registry.make(candidate.name) : nullptr;
  if (e.not_run.empty() && !impl) e.not_run = "not in this build";
  if (!e.not_run.empty()) return e;
  e.description = impl->description();
  OutputSelection outputs = options.outputs.value_or(OutputSelection{});
  if (!candidate.claims.all()) {
    e.claims = candidate.claims.text();
    const std::vector<std::string> both = shared_outputs(outputs, candidate.claims);
    if (both.empty()) {
      e.not_run = "computes " + candidate.claims.text() + " only, none of --outputs " + outputs.text();
      return e;
    }
    outputs = OutputSelection(both);
  }
  SuiteRunOptions run;
  run.outputs = outputs;
  run.judge = options.judge;
  run.progress = options.progress;
  e.report = run_cases(*impl, cases, run);
  e.report.command = "check";
  e.report.implementation = candidate.name;
  return e;
}

std::string worst_ratio(const Report& r) {
  double worst = 0;
  for (const CaseVerdict& c : r.cases)
    for (const OutputVerdict& o : c.outputs) worst = std::isfinite(o.ratio) ? std::max(worst, o.ratio) : o.ratio;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", worst);
  return buf;
}

std::vector<std::string> row_of(const CheckEntry& e) {
  if (!e.not_run.empty()) return {e.name, "-", "-", "-", "-", "-", "-", "NOT RUN: " + e.not_run};
  const Report& r = e.report;
  char time[32];
  std::snprintf(time, sizeof time, "%.2g s", r.seconds);
  return {e.name,
          std::to_string(r.cases.size() + r.not_judged_cases.size()),
          std::to_string(r.count(Verdict::pass)),
          std::to_string(r.count(Verdict::fail)),
          std::to_string(r.count(Verdict::skip) + r.not_judged_cases.size()),
          worst_ratio(r),
          time,
          e.passed() ? "PASS" : "FAIL"};
}

void print_rows(std::ostream& os, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i)
      line += row[i] + (i + 1 < row.size() ? std::string(width[i] - row[i].size() + 2, ' ') : "");
    os << line << "\n";
  }
}

}  // namespace

std::vector<CheckEntry> check_implementations(const Registry& registry, const std::vector<CheckCandidate>& candidates,
                                              const std::vector<Case>& cases, const CheckOptions& options) {
  std::vector<CheckEntry> entries;
  for (const CheckCandidate& c : candidates) entries.push_back(check_one(registry, c, cases, options));
  return entries;
}

bool check_passed(const std::vector<CheckEntry>& entries) {
  bool any_ran = false;
  for (const CheckEntry& e : entries) {
    if (!e.not_run.empty()) continue;
    if (!e.passed()) return false;
    any_ran = true;
  }
  return any_ran;
}

void print_check(std::ostream& os, const std::vector<CheckEntry>& entries, bool verbose) {
  std::vector<std::vector<std::string>> rows = {
      {"implementation", "cases", "passed", "failed", "not run", "worst ratio", "time", "verdict"}};
  for (const CheckEntry& e : entries) rows.push_back(row_of(e));
  print_rows(os, rows);
  for (const CheckEntry& e : entries) {
    if (!e.not_run.empty()) continue;
    const Report& r = e.report;
    if (r.outputs != "all") {
      const std::string left_out = not_judged_summary(r);
      os << e.name << ": judged on " << r.outputs
         << (e.claims.empty() ? " (--outputs)" : " (it computes " + e.claims + " only)")
         << "; not judged: " << (left_out.empty() ? "nothing" : left_out) << "\n";
    }
    for (const CaseVerdict& c : r.cases)
      if (c.verdict == Verdict::skip) os << e.name << ": not run " << c.name << ": " << c.problem << "\n";
    Report shown = r;
    if (!verbose) std::erase_if(shown.cases, [](const CaseVerdict& c) { return c.verdict != Verdict::fail; });
    if (verbose || !shown.cases.empty()) {
      os << "\n" << e.name << " (" << e.description << "):\n";
      print_report(os, shown);
    }
  }
}

std::string check_json(const std::vector<CheckEntry>& entries, const std::string& suite, const std::string& dtype,
                       std::uint64_t seed) {
  using json = nlohmann::json;
  json impls = json::array();
  for (const CheckEntry& e : entries) {
    json j = {{"implementation", e.name}, {"ran", e.not_run.empty()}};
    if (!e.not_run.empty()) j["not_run"] = e.not_run;
    else j["report"] = json::parse(report_json(e.report));
    impls.push_back(std::move(j));
  }
  const json j = {{"format", "pathcheck-check"}, {"format_version", 1}, {"suite", suite}, {"dtype", dtype},
                  {"seed", seed},                {"implementations", impls}, {"all_passed", check_passed(entries)}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace path::conformance
