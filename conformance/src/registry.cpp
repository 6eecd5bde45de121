#include "path/conformance/registry.hpp"

namespace path::conformance {

void Registry::add(const std::string& name, const std::string& description, ImplementationFactory factory) {
  for (Entry& e : entries_)
    if (e.name == name) {
      e = {name, description, std::move(factory)};
      return;
    }
  entries_.push_back({name, description, std::move(factory)});
}

std::vector<std::pair<std::string, std::string>> Registry::list() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Entry& e : entries_) out.emplace_back(e.name, e.description);
  return out;
}

std::unique_ptr<Implementation> Registry::make(const std::string& name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return e.factory();
  return nullptr;
}

std::string Registry::names() const {
  std::string s;
  for (const Entry& e : entries_) s += (s.empty() ? "" : ", ") + e.name;
  return s;
}

}  // namespace path::conformance
