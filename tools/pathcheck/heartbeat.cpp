#include "heartbeat.hpp"

#include "path/conformance/progress.hpp"

namespace pathcheck {

Heartbeat::Heartbeat(std::ostream* out, std::string what, std::chrono::seconds interval)
    : out_(out), what_(std::move(what)), interval_(interval), start_(std::chrono::steady_clock::now()),
      exceptions_(std::uncaught_exceptions()) {
  if (!out_) return;
  *out_ << what_ << " ..." << std::endl;
  thread_ = std::thread([this] { beat(); });
}

void Heartbeat::beat() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return done_; })) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    *out_ << what_ << ": still running (elapsed " << path::conformance::format_duration(s) << ")" << std::endl;
  }
}

Heartbeat::~Heartbeat() {
  if (!out_) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  wake_.notify_all();
  thread_.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const bool failed = std::uncaught_exceptions() > exceptions_;
  *out_ << what_ << (failed ? ": stopped after " : ": done in ") << path::conformance::format_duration(s) << std::endl;
}

}  // namespace pathcheck
