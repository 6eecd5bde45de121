#include "arguments.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace pathcheck {

Arguments::Arguments(const std::vector<std::string>& args, const std::set<std::string>& value_options,
                     const std::set<std::string>& flags) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags.count(a)) {
      flags_.insert(a);
    } else if (value_options.count(a)) {
      if (i + 1 >= args.size()) throw UsageError("option " + a + " needs a value");
      if (values_.count(a)) throw UsageError("option " + a + " given twice");
      values_[a] = args[++i];
    } else {
      throw UsageError("unknown argument '" + a + "'");
    }
  }
}

std::string Arguments::required(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) throw UsageError("missing required option " + name);
  return it->second;
}

std::string Arguments::value_or(const std::string& name, const std::string& fallback) const {
  const auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

long long Arguments::integer_or(const std::string& name, long long fallback) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || errno == ERANGE)
    throw UsageError("option " + name + ": '" + it->second + "' is not an integer");
  return x;
}

double Arguments::positive_or(const std::string& name, double fallback) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& text = it->second;
  char* end = nullptr;
  const double x = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(x > 0) || !std::isfinite(x))
    throw UsageError(name + ": '" + text + "' is not a positive number");
  return x;
}

}  // namespace pathcheck
