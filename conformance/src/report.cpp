// The reports of a run (judge.hpp): the table for people, JSON (and reading it back, for
// pathcheck merge) and JUnit XML for machines, and writing them without overwriting.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

#include "path/conformance/judge.hpp"

namespace path::conformance {

using json = nlohmann::json;

namespace {

std::string num(double x, int digits = 3) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, x);
  return buf;
}

std::string full(double x) { return num(x, 17); }

std::string joined(const std::vector<std::string>& items, const std::string& separator) {
  std::string s;
  for (const std::string& x : items) s += (s.empty() ? "" : separator) + x;
  return s;
}

// A table whose columns are as wide as their widest cell plus two spaces, so that no two cells
// ever run together; lines between rows (a failure's detail) are kept in place.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back({std::move(header), {}}); }
  void row(std::vector<std::string> cells) { rows_.push_back({std::move(cells), {}}); }
  void note(const std::string& line) { rows_.back().notes.push_back(line); }
  void print(std::ostream& os) const {
    std::vector<std::size_t> width;
    for (const Row& r : rows_)
      for (std::size_t i = 0; i < r.cells.size(); ++i) {
        if (width.size() <= i) width.push_back(0);
        width[i] = std::max(width[i], r.cells[i].size());
      }
    for (const Row& r : rows_) {
      std::string line;
      for (std::size_t i = 0; i < r.cells.size(); ++i) {
        line += r.cells[i];
        if (i + 1 < r.cells.size()) line += std::string(width[i] - r.cells[i].size() + 2, ' ');
      }
      os << line << "\n";
      for (const std::string& n : r.notes) os << "    " << n << "\n";
    }
  }

 private:
  struct Row {
    std::vector<std::string> cells, notes;
  };
  std::vector<Row> rows_;
};

std::string worst_text(const OutputVerdict& o) {
  std::string s = "worst element " + o.output + "[";
  for (std::size_t i = 0; i < o.worst->index.size(); ++i) s += (i ? ", " : "") + std::to_string(o.worst->index[i]);
  return s + "] (flat " + std::to_string(o.worst->flat) + "): got " + full(o.worst->got) + ", expected " +
         full(o.worst->expected);
}

// The names of the further ratios any output of the report has, in order (OutputVerdict::ratios).
std::vector<std::string> ratio_names(const Report& r) {
  std::vector<std::string> names;
  for (const CaseVerdict& c : r.cases)
    for (const OutputVerdict& o : c.outputs)
      for (const auto& [name, value] : o.ratios)
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

void add_case_rows(Table& t, const CaseVerdict& c, const std::vector<std::string>& extra) {
  if (!c.problem.empty() || c.outputs.empty()) {
    std::vector<std::string> cells = {c.name, "-", "-", "-", "-", "-"};
    cells.insert(cells.end(), extra.size(), "-");
    cells.push_back(std::string(to_string(c.verdict)));
    t.row(std::move(cells));
    t.note(c.problem);
    return;
  }
  for (const OutputVerdict& o : c.outputs) {
    std::vector<std::string> cells = {c.name, o.output, num(o.error), num(o.tolerance.baseline_error),
                                      num(o.tolerance.tolerance), num(o.ratio)};
    for (const std::string& name : extra) {
      const auto it = o.ratios.find(name);
      cells.push_back(it == o.ratios.end() ? "-" : num(it->second));
    }
    cells.push_back(std::string(to_string(o.verdict)));
    t.row(std::move(cells));
    if (o.verdict != Verdict::fail) continue;
    t.note(o.output + ": " + o.problem);
    if (o.worst) t.note(worst_text(o));
  }
}

}  // namespace

std::string not_judged_summary(const Report& r) {
  std::map<std::string, std::size_t> counts;
  std::vector<std::string> order;
  for (const CaseVerdict& c : r.cases) {
    const std::string key = joined(c.not_judged, " ");
    if (key.empty()) continue;
    if (!counts.count(key)) order.push_back(key);
    ++counts[key];
  }
  std::string s;
  for (const std::string& k : order)
    s += (s.empty() ? "" : "; ") + k + " in " + std::to_string(counts[k]) + (counts[k] == 1 ? " case" : " cases");
  return s;
}

namespace {

std::vector<std::string> names_with(const Report& r, Verdict v) {
  std::vector<std::string> names;
  for (const CaseVerdict& c : r.cases)
    if (c.verdict == v) names.push_back(c.name);
  return names;
}

void print_scope(std::ostream& os, const Report& r) {
  if (!r.shard.empty())
    os << "shard " << r.shard << ": " << r.cases.size() + r.not_judged_cases.size() << " of the suite's "
       << r.suite_cases << " cases\n";
  if (r.outputs == "all") return;
  const std::string left_out = not_judged_summary(r);
  os << "judged outputs: " << r.outputs << " (--outputs); not judged: " << (left_out.empty() ? "nothing" : left_out) << "\n";
  if (!r.not_judged_cases.empty())
    os << "not run, none of their outputs is judged: " << r.not_judged_cases.size() << " cases ("
       << joined(r.not_judged_cases, ", ") << ")\n";
}

}  // namespace

void print_report(std::ostream& os, const Report& r) {
  const std::vector<std::string> extra = ratio_names(r);
  std::vector<std::string> header = {"case", "output", "error", "baseline", "tolerance", "ratio"};
  for (const std::string& name : extra) header.push_back(name + " ratio");
  header.push_back("verdict");
  Table table(std::move(header));
  double worst_ratio = 0;
  std::size_t judged = 0;
  for (const CaseVerdict& c : r.cases) {
    add_case_rows(table, c, extra);
    for (const OutputVerdict& o : c.outputs) {
      ++judged;
      worst_ratio = std::isfinite(o.ratio) ? std::max(worst_ratio, o.ratio) : o.ratio;
    }
  }
  table.print(os);
  print_scope(os, r);
  os << r.command << ": " << r.cases.size() << " cases, " << r.count(Verdict::pass) << " passed, "
     << r.count(Verdict::fail) << " failed, " << r.count(Verdict::skip) << " skipped; " << judged
     << " outputs judged, worst ratio " << num(worst_ratio) << " (pass: ratio <= c)";
  if (r.seconds > 0) os << "; " << num(r.seconds, 3) << " s";
  os << "\n";
  if (const auto failed = names_with(r, Verdict::fail); !failed.empty()) os << "failed: " << joined(failed, ", ") << "\n";
  if (const auto skipped = names_with(r, Verdict::skip); !skipped.empty()) os << "skipped: " << joined(skipped, ", ") << "\n";
  if (r.cases.empty()) os << "no case was judged\n";
  os << (r.all_passed() ? "ALL PASSED" : "NOT PASSED") << "\n";
}

namespace {

json number_or_null(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

json output_json(const OutputVerdict& o) {
  json j = {{"output", o.output},
            {"verdict", to_string(o.verdict)},
            {"error", number_or_null(o.error)},
            {"baseline_error", o.tolerance.baseline_error},
            {"floor", o.tolerance.floor},
            {"floor_ulps", o.tolerance.floor_ulps},
            {"c", o.tolerance.c},
            {"tolerance", o.tolerance.tolerance},
            {"ratio", number_or_null(o.ratio)},
            {"dtype", io::dtype_name(o.tolerance.dtype)},
            {"max_abs_expected", o.tolerance.max_abs_expected}};
  if (!o.problem.empty()) j["problem"] = o.problem;
  if (!o.ratios.empty()) {
    json ratios = json::object();
    for (const auto& [name, value] : o.ratios) ratios[name] = number_or_null(value);
    j["ratios"] = ratios;
  }
  if (o.worst)
    j["worst"] = {{"index", o.worst->index}, {"flat", o.worst->flat}, {"got", number_or_null(o.worst->got)},
                  {"got_text", full(o.worst->got)}, {"expected", o.worst->expected}};
  return j;
}

json case_json(const CaseVerdict& c) {
  json outputs = json::array();
  for (const OutputVerdict& o : c.outputs) outputs.push_back(output_json(o));
  json j = {{"case", c.name}, {"verdict", to_string(c.verdict)}, {"seconds", c.seconds}, {"outputs", outputs}};
  if (!c.problem.empty()) j["problem"] = c.problem;
  if (!c.not_judged.empty()) j["not_judged"] = c.not_judged;
  return j;
}

}  // namespace

std::string report_json(const Report& r) {
  json cases = json::array();
  for (const CaseVerdict& c : r.cases) cases.push_back(case_json(c));
  json j = {{"format", "pathcheck-report"},
            {"format_version", 1},
            {"command", r.command},
            {"suite", r.suite},
            {"suite_identity", r.suite_identity},
            {"suite_cases", r.suite_cases},
            {"implementation", r.implementation},
            {"dtype", r.dtype},
            {"outputs", r.outputs},
            {"shard", r.shard},
            {"seconds", r.seconds},
            {"summary",
             {{"cases", r.cases.size()},
              {"passed", r.count(Verdict::pass)},
              {"failed", r.count(Verdict::fail)},
              {"skipped", r.count(Verdict::skip)},
              {"not_judged_cases", r.not_judged_cases.size()},
              {"all_passed", r.all_passed()}}},
            {"not_judged_cases", r.not_judged_cases},
            {"cases", cases}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

namespace {

[[noreturn]] void malformed(const std::string& source, const std::string& problem) {
  throw io::FileError(source + ": not a pathcheck JSON report: " + problem);
}

Verdict verdict_from(const std::string& source, const json& j) {
  const std::string v = j.is_string() ? j.get<std::string>() : "";
  if (v == "PASS") return Verdict::pass;
  if (v == "FAIL") return Verdict::fail;
  if (v == "SKIP") return Verdict::skip;
  malformed(source, "verdict " + j.dump() + " is not PASS, FAIL or SKIP");
}

// A number that report_json writes as null when it is not finite (error, ratio: +inf).
double number_from(const json& j, const char* key, double if_null) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return if_null;
  return it->is_number() ? it->get<double>() : if_null;
}

OutputVerdict output_from(const std::string& source, const json& j) {
  const double inf = std::numeric_limits<double>::infinity();
  OutputVerdict o;
  o.output = j.value("output", std::string());
  o.verdict = verdict_from(source, j.value("verdict", json()));
  o.error = number_from(j, "error", inf);
  o.ratio = number_from(j, "ratio", inf);
  o.problem = j.value("problem", std::string());
  o.tolerance.baseline_error = number_from(j, "baseline_error", 0);
  o.tolerance.floor = number_from(j, "floor", 0);
  o.tolerance.floor_ulps = number_from(j, "floor_ulps", 0);
  o.tolerance.c = number_from(j, "c", 0);
  o.tolerance.tolerance = number_from(j, "tolerance", 0);
  o.tolerance.max_abs_expected = number_from(j, "max_abs_expected", 0);
  if (const auto dt = io::dtype_from_name(j.value("dtype", std::string()))) o.tolerance.dtype = *dt;
  if (j.contains("ratios") && j["ratios"].is_object())
    for (const auto& [name, value] : j["ratios"].items()) o.ratios[name] = number_from(j["ratios"], name.c_str(), inf);
  if (j.contains("worst") && j["worst"].is_object()) {
    const json& w = j["worst"];
    WorstElement e;
    e.flat = w.value("flat", std::size_t{0});
    if (w.contains("index") && w["index"].is_array()) e.index = w["index"].get<std::vector<std::int64_t>>();
    const std::string got = w.value("got_text", std::string());
    e.got = got.empty() ? number_from(w, "got", 0) : std::strtod(got.c_str(), nullptr);  // "nan", "inf" too
    e.expected = number_from(w, "expected", 0);
    o.worst = e;
  }
  return o;
}

CaseVerdict case_from(const std::string& source, const json& j) {
  if (!j.is_object() || !j.contains("case") || !j["case"].is_string()) malformed(source, "a case without a name");
  CaseVerdict c;
  c.name = j["case"].get<std::string>();
  c.verdict = verdict_from(source, j.value("verdict", json()));
  c.problem = j.value("problem", std::string());
  c.seconds = number_from(j, "seconds", 0);
  if (j.contains("not_judged") && j["not_judged"].is_array()) c.not_judged = j["not_judged"].get<std::vector<std::string>>();
  if (j.contains("outputs") && j["outputs"].is_array())
    for (const json& o : j["outputs"]) c.outputs.push_back(output_from(source, o));
  return c;
}

}  // namespace

Report report_from_json(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    malformed(source, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object() || j.value("format", std::string()) != "pathcheck-report")
    malformed(source, "no \"format\": \"pathcheck-report\" (written by pathcheck run, validate or check --report-json?)");
  try {
    Report r;
    r.command = j.value("command", std::string());
    r.suite = j.value("suite", std::string());
    r.suite_identity = j.value("suite_identity", std::string());
    r.suite_cases = j.value("suite_cases", std::size_t{0});
    r.implementation = j.value("implementation", std::string());
    r.dtype = j.value("dtype", std::string());
    r.outputs = j.value("outputs", std::string("all"));
    r.shard = j.value("shard", std::string());
    r.seconds = number_from(j, "seconds", 0);
    if (j.contains("not_judged_cases") && j["not_judged_cases"].is_array())
      r.not_judged_cases = j["not_judged_cases"].get<std::vector<std::string>>();
    if (!j.contains("cases") || !j["cases"].is_array()) malformed(source, "'cases' is missing or not an array");
    for (const json& c : j["cases"]) r.cases.push_back(case_from(source, c));
    return r;
  } catch (const json::exception& e) {
    malformed(source, e.what());
  }
}

namespace {

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (c < 0x20 && ch != '\n' && ch != '\t') out += "?";  // not allowed in XML 1.0
        else out += ch;
    }
  }
  return out;
}

void junit_case(std::ostream& os, const Report& r, const CaseVerdict& c) {
  os << "    <testcase classname=\"pathcheck." << xml_escape(r.dtype.empty() ? "conformance" : r.dtype) << "\" name=\""
     << xml_escape(c.name) << "\" time=\"" << c.seconds << "\"";
  std::ostringstream detail;
  for (const OutputVerdict& o : c.outputs) {
    detail << o.output << ": " << to_string(o.verdict) << " error " << num(o.error) << " baseline "
           << num(o.tolerance.baseline_error) << " tolerance " << num(o.tolerance.tolerance) << " ratio " << num(o.ratio);
    for (const auto& [name, value] : o.ratios) detail << " " << name << " ratio " << num(value);
    detail << (o.problem.empty() ? "" : " -- " + o.problem) << "\n";
  }
  if (!c.not_judged.empty()) detail << "not judged (--outputs " << r.outputs << "): " << joined(c.not_judged, " ") << "\n";
  if (c.verdict == Verdict::pass && c.not_judged.empty()) {
    os << "/>\n";
    return;
  }
  os << ">\n";
  std::string message = c.problem;
  for (const OutputVerdict& o : c.outputs)
    if (o.verdict == Verdict::fail) message += (message.empty() ? "" : "; ") + o.output + ": " + o.problem;
  if (c.verdict == Verdict::skip) os << "      <skipped message=\"" << xml_escape(message) << "\"/>\n";
  else if (c.verdict == Verdict::fail)
    os << "      <failure message=\"" << xml_escape(message) << "\">" << xml_escape(detail.str()) << "</failure>\n";
  else os << "      <system-out>" << xml_escape(detail.str()) << "</system-out>\n";
  os << "    </testcase>\n";
}

void junit_suite(std::ostream& os, const Report& r) {
  std::string name = r.implementation + " on " + r.suite;
  if (!r.shard.empty()) name += " (shard " + r.shard + ")";
  os << "  <testsuite name=\"" << xml_escape(name) << "\" tests=\"" << r.cases.size() << "\" failures=\""
     << r.count(Verdict::fail) << "\" skipped=\"" << r.count(Verdict::skip) << "\" time=\"" << r.seconds << "\">\n";
  if (r.outputs != "all" || !r.not_judged_cases.empty()) {
    os << "    <properties>\n      <property name=\"outputs\" value=\"" << xml_escape(r.outputs) << "\"/>\n";
    if (!r.not_judged_cases.empty())
      os << "      <property name=\"not_judged_cases\" value=\"" << xml_escape(joined(r.not_judged_cases, ",")) << "\"/>\n";
    os << "    </properties>\n";
  }
  for (const CaseVerdict& c : r.cases) junit_case(os, r, c);
  os << "  </testsuite>\n";
}

}  // namespace

std::string report_junit(const std::vector<Report>& reports, const std::string& name) {
  std::size_t tests = 0, failures = 0, skipped = 0;
  double seconds = 0;
  for (const Report& r : reports) {
    tests += r.cases.size();
    failures += r.count(Verdict::fail);
    skipped += r.count(Verdict::skip);
    seconds += r.seconds;
  }
  std::ostringstream os;
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  os << "<testsuites name=\"" << xml_escape(name) << "\" tests=\"" << tests << "\" failures=\"" << failures
     << "\" skipped=\"" << skipped << "\" time=\"" << seconds << "\">\n";
  for (const Report& r : reports) junit_suite(os, r);
  os << "</testsuites>\n";
  return os.str();
}

std::string report_junit(const Report& r) { return report_junit(std::vector<Report>{r}, "pathcheck " + r.command); }

void write_text_file(const std::string& path, const std::string& text, bool overwrite) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!overwrite && fs::exists(path, ec))
    throw io::FileError(path + ": already exists; use --force to replace it");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw io::FileError(path + ": cannot open for writing");
    out << text;
    out.close();
    if (!out) {
      fs::remove(tmp, ec);
      throw io::FileError(path + ": write failed");
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw io::FileError(path + ": cannot write: " + ec.message());
  }
}

}  // namespace path::conformance
