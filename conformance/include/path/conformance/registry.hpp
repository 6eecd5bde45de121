#pragma once
// The implementations a program can run by name (pathcheck run --impl NAME, check, fuzz).
// Registration is explicit: whoever builds the program adds each adapter it links
// (adapters/cpu, adapters/cuda, ...), so no implementation depends on static initializers that a
// linker may drop from a static library.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "path/conformance/implementation.hpp"

namespace path::conformance {

using ImplementationFactory = std::function<std::unique_ptr<Implementation>()>;

class Registry {
 public:
  // Adds an implementation, or replaces the one of the same name.
  void add(const std::string& name, const std::string& description, ImplementationFactory factory);
  // (name, description) in the order added.
  std::vector<std::pair<std::string, std::string>> list() const;
  // A fresh instance; nullptr when the name is unknown.
  std::unique_ptr<Implementation> make(const std::string& name) const;
  // "a, b, c": the names, for messages.
  std::string names() const;

 private:
  struct Entry {
    std::string name, description;
    ImplementationFactory factory;
  };
  std::vector<Entry> entries_;
};

}  // namespace path::conformance
