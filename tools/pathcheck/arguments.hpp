#pragma once
// Minimal "--name value" / "--flag" parsing for the pathcheck subcommands: unknown options and
// missing values are errors, never silently ignored.
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace pathcheck {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Arguments {
 public:
  // value_options take one value each; flags take none.
  Arguments(const std::vector<std::string>& args, const std::set<std::string>& value_options,
            const std::set<std::string>& flags);

  bool has(const std::string& name) const { return values_.count(name) != 0 || flags_.count(name) != 0; }
  std::string required(const std::string& name) const;
  std::string value_or(const std::string& name, const std::string& fallback) const;
  long long integer_or(const std::string& name, long long fallback) const;
  double positive_or(const std::string& name, double fallback) const;  // a finite number > 0

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
};

}  // namespace pathcheck
