#pragma once
// Third-party results as an implementation (pathcheck validate): run() reads
// <dir>/<case>.safetensors and puts its tensors with the expected names into the outputs (a missing
// tensor is removed, so the judge reports it missing; a tensor of another shape replaces the
// poisoned one, so the judge reports the shape). Throws io::FileError when the file is missing or
// malformed, or when it is a conformance case file rather than a result.
//
// A harness says "the implementation failed on this case, with message X" by writing X into
// <dir>/<case>.error.txt (UTF-8 text; docs/conformance.md, "Reporting a failed case"). run() then
// throws ReportedFailure with that message, whether or not a result file exists too: the harness
// said the case failed, so no result file can make it pass.
#include <cstddef>
#include <stdexcept>
#include <string>

#include "path/conformance/implementation.hpp"

namespace path::adapters {

inline constexpr const char* kErrorFileSuffix = ".error.txt";
// What of an error file is kept: a message, not a log (a traceback's last lines fit).
inline constexpr std::size_t kErrorFileKeptBytes = 4096;
// The start of every ReportedFailure's message.
inline constexpr const char* kReportedPrefix = "the implementation reported: ";

// The failure a harness reported for one case (its error file's text, made printable).
class ReportedFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// <dir>/<case>.error.txt
std::string error_file_path(const std::string& dir, const std::string& case_name);

class ResultFiles : public conformance::Implementation {
 public:
  explicit ResultFiles(std::string dir) : dir_(std::move(dir)) {}
  std::string name() const override { return "results:" + dir_; }
  void run(const conformance::CaseInput& input, conformance::Outputs& outputs) override;

 private:
  std::string dir_;
};

}  // namespace path::adapters
