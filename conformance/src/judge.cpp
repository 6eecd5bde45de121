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

}  // namespace path::conformance
