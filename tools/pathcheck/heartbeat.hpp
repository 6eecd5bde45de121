#pragma once
// Progress for one long computation that cannot report its own (an oracle call at mp100): a line
// when it starts, then one every interval while it runs, with the time elapsed, and one at the end.
#include <chrono>
#include <exception>
#include <condition_variable>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>

namespace pathcheck {

class Heartbeat {
 public:
  // out == nullptr: silent.
  Heartbeat(std::ostream* out, std::string what, std::chrono::seconds interval = std::chrono::seconds(10));
  ~Heartbeat();
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

 private:
  void beat();
  std::ostream* out_;
  std::string what_;
  std::chrono::seconds interval_;
  std::chrono::steady_clock::time_point start_;
  int exceptions_ = 0;  // in flight when it started: more at the end means the computation threw
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace pathcheck
