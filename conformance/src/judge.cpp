// Judging results against a case (the reports are in report.cpp).
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

// The failed criteria of an assessment in words, one phrase each.
std::vector<std::string> failure_reasons(const Assessment& a, const Tolerance& t, const std::vector<double>& got,
                                         const std::vector<double>& expected, const std::vector<std::int64_t>& shape) {
  std::vector<std::string> why;
  if (a.max.nonfinite) {
    why.push_back(std::to_string(a.max.nonfinite) + " of " + std::to_string(got.size()) +
                  " elements are NaN or Inf (unwritten or overflowed); the first is shown");
    return why;
  }
  const std::string over_c = " > c = " + num(t.c) + ")";
  for (const std::string& f : a.failed) {
    if (f == "max")
      why.push_back("error " + num(std::fabs(got[a.max_worst] - expected[a.max_worst])) + " exceeds the tolerance " +
                    num(a.max_worst_tolerance) + " at element " + shape_text(unflatten(a.max_worst, shape)) +
                    " (ratio " + num(a.max_ratio) + over_c);
    if (f == "norm")
      why.push_back("normwise error ||R - E||_2 = " + num(a.norm_error) + " exceeds its tolerance " +
                    num(t.norm_tolerance) + " (ratio " + num(a.norm_ratio) + over_c);
    if (f == "rows") {
      std::vector<std::int64_t> at = unflatten(a.worst_row * t.row_length, shape);
      if (t.row_length > 1) at.pop_back();
      why.push_back("row " + shape_text(at) + " has error " + num(a.worst_row_error) + " over its tolerance " +
                    num(a.worst_row_tolerance) + " (ratio " + num(a.row_ratio) + " > c = " + num(t.c) +
                    "; the row's term scale is " + num(t.row_scale[a.worst_row]) + ")");
    }
  }
  return why;
}

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
      const Assessment a = assess(got, expected, o.tolerance);
      o.error = a.max.max_abs_error;
      o.ratio = a.ratio;
      o.ratios["max"] = a.max_ratio;
      if (o.tolerance.model_version >= 2) {
        o.ratios["norm"] = a.norm_ratio;
        o.ratios["rows"] = a.row_ratio;
      }
      o.failed = a.failed;
      if (!expected.empty()) o.worst = WorstElement{a.max.worst, unflatten(a.max.worst, shape), got[a.max.worst], expected[a.max.worst]};
      const std::vector<std::string> why = failure_reasons(a, o.tolerance, got, expected, shape);
      for (const std::string& w : why) o.problem += (o.problem.empty() ? "" : "; ") + w;
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

}  // namespace path::conformance
