// Judging results against a case, and the reports (table, JSON, JUnit XML).
#include "path/conformance/judge.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>

namespace path::conformance {

using json = nlohmann::json;

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::pass: return "PASS";
    case Verdict::fail: return "FAIL";
    case Verdict::skip: return "SKIP";
  }
  return "?";
}

namespace {


std::vector<std::int64_t> unflatten(std::size_t flat, const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> idx(shape.size(), 0);
  for (std::size_t d = shape.size(); d-- > 0;) {
    const auto n = static_cast<std::size_t>(std::max<std::int64_t>(shape[d], 1));
    idx[d] = static_cast<std::int64_t>(flat % n);
    flat /= n;
  }
  return idx;
}

std::string num(double x, int digits = 3) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, x);
  return buf;
}

std::string full(double x) { return num(x, 17); }

}  // namespace

CaseVerdict judge(const Case& c, const Outputs& results, const JudgeOptions& options) {
  CaseVerdict v;
  v.name = c.name();
  v.verdict = Verdict::pass;
  const double inf = std::numeric_limits<double>::infinity();
  for (const std::string& name : output_names(c.spec())) {
    OutputVerdict o;
    o.output = name;
    o.tolerance = options.c ? with_c(c.tolerances.at(name), *options.c) : c.tolerances.at(name);
    const std::vector<double>& expected = c.expected.at(name);
    const std::vector<std::int64_t> shape = output_shape(c.spec(), name);
    const auto it = results.find(name);
    o.error = inf;
    o.ratio = inf;
    if (it == results.end()) {
      o.problem = "missing from the results";
    } else if (!is_floating(it->second.dtype)) {
      o.problem = "has dtype " + std::string(io::dtype_name(it->second.dtype)) + ", expected a floating dtype";
    } else if (it->second.shape != shape || it->second.values.size() != expected.size()) {
      o.problem = "has shape " + shape_text(it->second.shape) + ", expected " + shape_text(shape);
    } else {
      const std::vector<double>& got = it->second.values;
      const Comparison cmp = compare(got, expected);
      o.error = cmp.max_abs_error;
      o.ratio = error_ratio(o.error, o.tolerance);
      if (!expected.empty()) o.worst = WorstElement{cmp.worst, unflatten(cmp.worst, shape), got[cmp.worst], expected[cmp.worst]};
      if (cmp.nonfinite)
        o.problem = std::to_string(cmp.nonfinite) + " of " + std::to_string(got.size()) +
                    " elements are NaN or Inf (unwritten or overflowed); the first is shown";
      else if (!cmp.passes(o.tolerance))
        o.problem = "error " + num(o.error) + " exceeds the tolerance " + num(o.tolerance.tolerance) + " (ratio " +
                    num(o.ratio) + " > c = " + num(o.tolerance.c) + ")";
    }
    o.verdict = o.problem.empty() ? Verdict::pass : Verdict::fail;
    if (o.verdict == Verdict::fail) v.verdict = Verdict::fail;
    v.outputs.push_back(std::move(o));
  }
  return v;
}

CaseVerdict failed_case(const Case& c, const std::string& problem) {
  CaseVerdict v;
  v.name = c.name();
  v.verdict = Verdict::fail;
  v.problem = problem;
  return v;
}

CaseVerdict skipped_case(const Case& c, const std::string& why) {
  CaseVerdict v = failed_case(c, why);
  v.verdict = Verdict::skip;
  return v;
}

std::size_t Report::count(Verdict v) const {
  std::size_t n = 0;
  for (const CaseVerdict& c : cases) n += c.verdict == v;
  return n;
}

void print_report(std::ostream& os, const Report& r) {
  std::size_t width = 4;
  for (const CaseVerdict& c : r.cases) width = std::max(width, c.name.size());
  auto row = [&](const std::string& a, const std::string& b, const std::string& e, const std::string& base,
                 const std::string& tol, const std::string& ratio, const std::string& verdict) {
    os << std::left << std::setw(static_cast<int>(width) + 2) << a << std::setw(9) << b << std::setw(11) << e
       << std::setw(11) << base << std::setw(11) << tol << std::setw(8) << ratio << verdict << "\n";
  };
  row("case", "output", "error", "baseline", "tolerance", "ratio", "verdict");
  double worst_ratio = 0;
  std::size_t judged = 0;
  for (const CaseVerdict& c : r.cases) {
    if (!c.problem.empty() || c.outputs.empty()) {
      row(c.name, "-", "-", "-", "-", "-", std::string(to_string(c.verdict)));
      os << "    " << c.problem << "\n";
      continue;
    }
    for (const OutputVerdict& o : c.outputs) {
      ++judged;
      if (std::isfinite(o.ratio)) worst_ratio = std::max(worst_ratio, o.ratio);
      else worst_ratio = o.ratio;
      row(c.name, o.output, num(o.error), num(o.tolerance.baseline_error), num(o.tolerance.tolerance), num(o.ratio),
          std::string(to_string(o.verdict)));
      if (o.verdict == Verdict::fail) {
        os << "    " << o.output << ": " << o.problem << "\n";
        if (o.worst) {
          os << "    worst element " << o.output << "[";
          for (std::size_t i = 0; i < o.worst->index.size(); ++i) os << (i ? ", " : "") << o.worst->index[i];
          os << "] (flat " << o.worst->flat << "): got " << full(o.worst->got) << ", expected "
             << full(o.worst->expected) << "\n";
        }
      }
    }
  }
  os << r.command << ": " << r.cases.size() << " cases, " << r.count(Verdict::pass) << " passed, "
     << r.count(Verdict::fail) << " failed, " << r.count(Verdict::skip) << " skipped; " << judged
     << " outputs judged, worst ratio " << num(worst_ratio) << " (pass: ratio <= c)";
  if (r.seconds > 0) os << "; " << num(r.seconds, 3) << " s";
  os << "\n" << (r.all_passed() ? "ALL PASSED" : "NOT PASSED") << "\n";
}

namespace {

json number_or_null(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

}  // namespace

std::string report_json(const Report& r) {
  json cases = json::array();
  for (const CaseVerdict& c : r.cases) {
    json outputs = json::array();
    for (const OutputVerdict& o : c.outputs) {
      json j = {{"output", o.output},
                {"verdict", to_string(o.verdict)},
                {"error", number_or_null(o.error)},
                {"baseline_error", o.tolerance.baseline_error},
                {"floor", o.tolerance.floor},
                {"c", o.tolerance.c},
                {"tolerance", o.tolerance.tolerance},
                {"ratio", number_or_null(o.ratio)},
                {"dtype", io::dtype_name(o.tolerance.dtype)},
                {"max_abs_expected", o.tolerance.max_abs_expected}};
      if (!o.problem.empty()) j["problem"] = o.problem;
      if (o.worst)
        j["worst"] = {{"index", o.worst->index}, {"flat", o.worst->flat}, {"got", number_or_null(o.worst->got)},
                      {"got_text", full(o.worst->got)}, {"expected", o.worst->expected}};
      outputs.push_back(std::move(j));
    }
    json cj = {{"case", c.name}, {"verdict", to_string(c.verdict)}, {"seconds", c.seconds}, {"outputs", outputs}};
    if (!c.problem.empty()) cj["problem"] = c.problem;
    cases.push_back(std::move(cj));
  }
  json j = {{"command", r.command},
            {"suite", r.suite},
            {"implementation", r.implementation},
            {"dtype", r.dtype},
            {"seconds", r.seconds},
            {"summary",
             {{"cases", r.cases.size()},
              {"passed", r.count(Verdict::pass)},
              {"failed", r.count(Verdict::fail)},
              {"skipped", r.count(Verdict::skip)},
              {"all_passed", r.all_passed()}}},
            {"cases", cases}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
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

}  // namespace

std::string report_junit(const Report& r) {
  std::ostringstream os;
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  os << "<testsuites name=\"pathcheck " << xml_escape(r.command) << "\" tests=\"" << r.cases.size() << "\" failures=\""
     << r.count(Verdict::fail) << "\" skipped=\"" << r.count(Verdict::skip) << "\" time=\"" << r.seconds << "\">\n";
  os << "  <testsuite name=\"" << xml_escape(r.implementation + " on " + r.suite) << "\" tests=\"" << r.cases.size()
     << "\" failures=\"" << r.count(Verdict::fail) << "\" skipped=\"" << r.count(Verdict::skip) << "\" time=\""
     << r.seconds << "\">\n";
  for (const CaseVerdict& c : r.cases) {
    os << "    <testcase classname=\"pathcheck." << xml_escape(r.dtype.empty() ? "conformance" : r.dtype) << "\" name=\""
       << xml_escape(c.name) << "\" time=\"" << c.seconds << "\"";
    std::ostringstream detail;
    for (const OutputVerdict& o : c.outputs)
      detail << o.output << ": " << to_string(o.verdict) << " error " << num(o.error) << " baseline "
             << num(o.tolerance.baseline_error) << " tolerance " << num(o.tolerance.tolerance) << " ratio " << num(o.ratio)
             << (o.problem.empty() ? "" : " -- " + o.problem) << "\n";
    if (c.verdict == Verdict::pass) {
      os << "/>\n";
      continue;
    }
    os << ">\n";
    std::string message = c.problem;
    for (const OutputVerdict& o : c.outputs)
      if (o.verdict == Verdict::fail) message += (message.empty() ? "" : "; ") + o.output + ": " + o.problem;
    if (c.verdict == Verdict::skip) os << "      <skipped message=\"" << xml_escape(message) << "\"/>\n";
    else os << "      <failure message=\"" << xml_escape(message) << "\">" << xml_escape(detail.str()) << "</failure>\n";
    os << "    </testcase>\n";
  }
  os << "  </testsuite>\n</testsuites>\n";
  return os.str();
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw io::FileError(path + ": cannot open for writing");
  out << text;
  out.close();
  if (!out) throw io::FileError(path + ": write failed");
}

}  // namespace path::conformance
