#include "path/conformance/selection.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace path::conformance {

namespace {

std::vector<std::string> split(std::string_view list) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    parts.emplace_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return parts;
}

bool is_gradient(std::string_view name) {
  return name == "dq" || name == "dk" || name == "dv" || name == "dw" || name == "dbeta" || name == "dg";
}

}  // namespace

const std::vector<std::string>& all_output_names() {
  static const std::vector<std::string> names = {"o", "lse", "k_cache", "dq", "dk", "dv", "dw", "dbeta", "dg"};
  return names;
}

OutputSelection::OutputSelection(std::vector<std::string> names) : names_(std::move(names)) {}

OutputSelection OutputSelection::parse(std::string_view list) {
  std::vector<std::string> names;
  for (const std::string& part : split(list)) {
    const auto& known = all_output_names();
    if (std::find(known.begin(), known.end(), part) == known.end())
      throw std::invalid_argument("'" + part + "' is not an output (the outputs are o, lse, k_cache, dq, dk, dv, dw, "
                                  "dbeta, dg)");
    if (std::find(names.begin(), names.end(), part) != names.end())
      throw std::invalid_argument("'" + part + "' is listed twice");
    names.push_back(part);
  }
  // The order of all_output_names, so that reports and manifests do not depend on how it was typed.
  std::vector<std::string> ordered;
  for (const std::string& n : all_output_names())
    if (std::find(names.begin(), names.end(), n) != names.end()) ordered.push_back(n);
  return OutputSelection(std::move(ordered));
}

bool OutputSelection::selects(std::string_view output) const {
  return all() || std::find(names_.begin(), names_.end(), output) != names_.end();
}

std::vector<std::string> OutputSelection::judged(const CaseSpec& spec) const {
  std::vector<std::string> out;
  for (const std::string& n : output_names(spec))
    if (selects(n)) out.push_back(n);
  return out;
}

std::vector<std::string> OutputSelection::not_judged(const CaseSpec& spec) const {
  std::vector<std::string> out;
  for (const std::string& n : output_names(spec))
    if (!selects(n)) out.push_back(n);
  return out;
}

bool OutputSelection::any_gradient() const {
  return all() || std::any_of(names_.begin(), names_.end(), [](const std::string& n) { return is_gradient(n); });
}

std::string OutputSelection::text() const {
  if (all()) return "all";
  std::string s;
  for (const std::string& n : names_) s += (s.empty() ? "" : ",") + n;
  return s;
}

Shard Shard::parse(std::string_view text) {
  const std::size_t slash = text.find('/');
  const auto number = [&](std::string_view part, std::size_t& x) {
    const auto r = std::from_chars(part.data(), part.data() + part.size(), x);
    return !part.empty() && r.ec == std::errc() && r.ptr == part.data() + part.size();
  };
  Shard s;
  if (slash == std::string_view::npos || !number(text.substr(0, slash), s.index) ||
      !number(text.substr(slash + 1), s.count))
    throw std::invalid_argument("'" + std::string(text) + "' is not K/N (shard K of N, for example 2/8)");
  if (s.count < 1 || s.count > 100000 || s.index < 1 || s.index > s.count)
    throw std::invalid_argument("'" + std::string(text) + "': need 1 <= K <= N (and N <= 100000)");
  return s;
}

std::string Shard::text() const { return std::to_string(index) + "/" + std::to_string(count); }

std::vector<std::string> filter_names(const std::vector<std::string>& names, std::string_view filter) {
  const std::vector<std::string> parts = split(filter);
  std::vector<std::string> out;
  for (const std::string& n : names)
    if (std::any_of(parts.begin(), parts.end(), [&](const std::string& p) { return !p.empty() && n.find(p) != std::string::npos; }))
      out.push_back(n);
  return out;
}

}  // namespace path::conformance
