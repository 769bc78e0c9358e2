// tests/support/watchdog.hpp
//
// Bounds every wait in a test: a watchdog aborts the whole test binary with
// a message if it is still alive after its limit, so that a deadlock fails
// in seconds instead of hanging CI.
//
//   dreadlocks_test::watchdog dog("opposite_orders_two_threads",
//                                 std::chrono::seconds(25));
//
// Which watchdog: this one, unless a child the test forks starts threads;
// then alarm_watchdog.hpp. This one waits in a thread of its own, so every
// fork() under it is a multi-threaded fork, and ThreadSanitizer kills a
// child that starts a thread after one. Children that only lock, signal
// and exit (child_process bodies without threads, hold_in_process) are
// fine. Unlike alarm_watchdog, any number may be alive at once, and limits
// are kept to the millisecond.

#ifndef DREADLOCKS_TESTS_SUPPORT_WATCHDOG_HPP_
#define DREADLOCKS_TESTS_SUPPORT_WATCHDOG_HPP_

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace dreadlocks_test {

class watchdog {
 public:
  // Aborts the process unless destroyed within `limit`.
  explicit watchdog(std::string what,
                    std::chrono::milliseconds limit = std::chrono::seconds(20))
      : what_(std::move(what)), thread_([this, limit] { guard(limit); }) {}

  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

  ~watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    done_changed_.notify_all();
    thread_.join();
  }

 private:
  void guard(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!done_changed_.wait_for(lock, limit, [this] { return done_; })) {
      std::fprintf(stderr, "watchdog: \"%s\" still running after %lld ms: "
                           "deadlock? aborting\n",
                   what_.c_str(), static_cast<long long>(limit.count()));
      std::fflush(stderr);
      std::abort();
    }
  }

  std::string what_;
  std::mutex mutex_;
  std::condition_variable done_changed_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_SUPPORT_WATCHDOG_HPP_
