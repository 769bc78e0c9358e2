// tests/support/watchdog.hpp
//
// Bounds every wait in a test: a watchdog aborts the whole test binary with
// a message naming the running Boost.Test case if it is still alive after
// its limit, so that a deadlock fails in seconds instead of hanging CI.
//
//   BOOST_AUTO_TEST_CASE(opposite_orders_two_threads) {
//     dreadlocks_test::watchdog dog(std::chrono::seconds(25));
//     ...
//   }
//
// One watchdog for every test. It runs no thread: it arms a POSIX timer of
// this process (timer_create) that raises kWatchdogSignal, whose handler
// prints the message and aborts. So a test may fork children that start
// threads under it (ThreadSanitizer kills a child that starts a thread
// after a multi-threaded fork, which a watchdog thread would make every
// fork), any number may be alive at once (up to kMaxWatchdogs), and limits
// are kept to the millisecond. Children do not inherit the timer
// (child_process sets an alarm() of its own).

#ifndef DREADLOCKS_TESTS_SUPPORT_WATCHDOG_HPP_
#define DREADLOCKS_TESTS_SUPPORT_WATCHDOG_HPP_

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace dreadlocks_test {

// The signal a watchdog's timer raises: a real-time one, which nothing
// else in the tests uses.
inline int watchdog_signal() { return SIGRTMIN + 4; }

// How many watchdogs may be alive at once.
inline constexpr std::size_t kMaxWatchdogs = 16;

class watchdog {
 public:
  // Aborts the process, naming the running test case, unless destroyed
  // within `limit`. Throws std::logic_error if kMaxWatchdogs are alive,
  // std::system_error if the timer cannot be made.
  explicit watchdog(std::chrono::milliseconds limit = std::chrono::seconds(20))
      : slot_(claim_slot()) {
    const std::string what =
        boost::unit_test::framework::current_test_case().full_name();
    std::snprintf(messages()[slot_], kMessageSize,
                  "watchdog: \"%s\" still running after %lld ms: "
                  "deadlock? aborting\n",
                  what.c_str(), static_cast<long long>(limit.count()));
    install_handler();
    sigevent event{};
    event.sigev_notify = SIGEV_SIGNAL;
    event.sigev_signo = watchdog_signal();
    event.sigev_value.sival_int = static_cast<int>(slot_);
    if (::timer_create(CLOCK_MONOTONIC, &event, &timer_) != 0) {
      const int error = errno;
      release_slot(slot_);
      throw std::system_error(error, std::generic_category(),
                              "watchdog: timer_create");
    }
    itimerspec when{};
    when.it_value.tv_sec = static_cast<time_t>(limit.count() / 1000);
    when.it_value.tv_nsec = static_cast<long>(limit.count() % 1000) * 1000000;
    if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0) {
      when.it_value.tv_nsec = 1;  // zero would disarm it
    }
    ::timer_settime(timer_, 0, &when, nullptr);
  }

  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

  ~watchdog() {
    ::timer_delete(timer_);
    release_slot(slot_);
  }

 private:
  static constexpr std::size_t kMessageSize = 512;

  static char (*messages())[kMessageSize] {
    static char text[kMaxWatchdogs][kMessageSize];
    return text;
  }
  static std::atomic<bool>* slots() {
    static std::atomic<bool> used[kMaxWatchdogs] = {};
    return used;
  }
  static std::size_t claim_slot() {
    for (std::size_t i = 0; i < kMaxWatchdogs; ++i) {
      if (!slots()[i].exchange(true)) return i;
    }
    throw std::logic_error("watchdog: too many alive at once");
  }
  static void release_slot(std::size_t slot) { slots()[slot].store(false); }

  // Installs the handler (once) and unblocks the signal on this thread.
  static void install_handler() {
    static const bool installed = [] {
      struct sigaction action {};
      action.sa_sigaction = &expired;
      action.sa_flags = SA_SIGINFO;
      sigemptyset(&action.sa_mask);
      ::sigaction(watchdog_signal(), &action, nullptr);
      return true;
    }();
    (void)installed;
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, watchdog_signal());
    ::pthread_sigmask(SIG_UNBLOCK, &only, nullptr);
  }

  // Async-signal-safe: write, restore the default action, abort.
  static void expired(int, siginfo_t* info, void*) {
    const int slot = info->si_value.sival_int;
    const char* text =
        slot >= 0 && static_cast<std::size_t>(slot) < kMaxWatchdogs
            ? messages()[slot]
            : "watchdog: expired: aborting\n";
    ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
    (void)ignored;
    ::signal(SIGABRT, SIG_DFL);
    std::abort();
  }

  std::size_t slot_;
  timer_t timer_{};
};

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_SUPPORT_WATCHDOG_HPP_
