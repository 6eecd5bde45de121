#pragma once
// Progress of long runs on stderr: cases done / total, elapsed time and an estimate of the time
// left (weighted by each case's estimated cost, so a suite whose last cases are the long ones is
// not under-estimated). Thread-safe; one line per finished case.
#include <chrono>
#include <cstddef>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

namespace path::conformance {

class Progress {
 public:
  // weights[i]: the relative cost of item i (all 1 when empty).
  Progress(std::ostream* out, std::string label, std::vector<double> weights, std::size_t total);
  // Item `index` finished; `note` is appended to the line (e.g. "PASS", "2.1 s").
  void done(std::size_t index, const std::string& name, const std::string& note);
  double elapsed_seconds() const;

 private:
  std::ostream* out_;
  std::string label_;
  std::vector<double> weights_;
  double total_weight_ = 0, done_weight_ = 0;
  std::size_t total_ = 0, done_ = 0;
  std::chrono::steady_clock::time_point start_;
  mutable std::mutex mutex_;
};

std::string format_duration(double seconds);

}  // namespace path::conformance
