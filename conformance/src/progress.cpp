#include "path/conformance/progress.hpp"

#include <cmath>
#include <cstdio>
#include <numeric>

namespace path::conformance {

std::string format_duration(double seconds) {
  char buf[64];
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  else if (seconds < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(seconds) / 60, int(seconds) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", int(seconds) / 3600, (int(seconds) % 3600) / 60);
  return buf;
}

Progress::Progress(std::ostream* out, std::string label, std::vector<double> weights, std::size_t total)
    : out_(out), label_(std::move(label)), weights_(std::move(weights)), total_(total),
      start_(std::chrono::steady_clock::now()) {
  if (weights_.size() != total_) weights_.assign(total_, 1.0);
  total_weight_ = std::accumulate(weights_.begin(), weights_.end(), 0.0);
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::done(std::size_t index, const std::string& name, const std::string& note) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++done_;
  if (index < weights_.size()) done_weight_ += weights_[index];
  if (!out_) return;
  const double elapsed = elapsed_seconds();
  const double left = done_weight_ > 0 ? elapsed * (total_weight_ - done_weight_) / done_weight_ : 0;
  char head[64];
  const int width = static_cast<int>(std::to_string(total_).size());
  std::snprintf(head, sizeof head, "[%*zu/%zu]", width, done_, total_);
  *out_ << label_ << " " << head << " " << name;
  if (!note.empty()) *out_ << "  " << note;
  *out_ << "  (elapsed " << format_duration(elapsed);
  if (done_ < total_) *out_ << ", about " << format_duration(left) << " left";
  *out_ << ")" << std::endl;
}

}  // namespace path::conformance
