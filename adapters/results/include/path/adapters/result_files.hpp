#pragma once
// Third-party results as an implementation (pathcheck validate): run() reads
// <dir>/<case>.safetensors and puts its tensors with the expected names into the outputs (a missing
// tensor is removed, so the judge reports it missing; a tensor of another shape replaces the
// poisoned one, so the judge reports the shape). Throws io::FileError when the file is missing or
// malformed, or when it is a conformance case file rather than a result.
#include <string>

#include "path/conformance/implementation.hpp"

namespace path::adapters {

class ResultFiles : public conformance::Implementation {
 public:
  explicit ResultFiles(std::string dir) : dir_(std::move(dir)) {}
  std::string name() const override { return "results:" + dir_; }
  void run(const conformance::CaseInput& input, conformance::Outputs& outputs) override;

 private:
  std::string dir_;
};

}  // namespace path::adapters
