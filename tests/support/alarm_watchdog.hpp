// tests/support/alarm_watchdog.hpp
//
// A watchdog without a thread, for tests that fork children which start
// threads: it bounds the test with alarm() and, when the alarm fires,
// prints what was still running and aborts the test process.
//
//   dreadlocks_test::alarm_watchdog dog("many_shared_then_one_exclusive",
//                                       std::chrono::seconds(20));
//
// Which watchdog: this one when a child the test forks starts threads (a
// child_process body that runs a std::thread, say); otherwise
// watchdog.hpp, which has none of the limits below. The thread of
// watchdog.hpp would be alive at every fork(), and ThreadSanitizer kills a
// child that starts a thread after a multi-threaded fork ("starting new
// threads after multi-threaded fork is not supported"; with
// die_after_fork=0, "dup thread with used id" once the new thread reuses
// the stack of the thread the child lacks). The test must then fork while
// it runs no other thread either.
// Limits: only one alarm_watchdog may be alive at a time (alarm() is per
// process); limits are rounded up to whole seconds; children do not
// inherit the alarm (child_process sets its own).

#ifndef DREADLOCKS_TESTS_SUPPORT_ALARM_WATCHDOG_HPP_
#define DREADLOCKS_TESTS_SUPPORT_ALARM_WATCHDOG_HPP_

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace dreadlocks_test {

class alarm_watchdog {
 public:
  // Aborts the process unless destroyed within `limit` (rounded up to
  // whole seconds).
  explicit alarm_watchdog(
      const std::string& what,
      std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    if (active()) {
      throw std::logic_error("alarm_watchdog: one is already armed");
    }
    const long long ms = limit.count();
    std::snprintf(message(), message_size,
                  "alarm_watchdog: \"%s\" still running after %lld ms: "
                  "deadlock? aborting\n",
                  what.c_str(), ms);
    struct sigaction action {};
    action.sa_handler = &expired;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGALRM, &action, &previous_);
    sigset_t alarm_only;
    sigemptyset(&alarm_only);
    sigaddset(&alarm_only, SIGALRM);
    ::pthread_sigmask(SIG_UNBLOCK, &alarm_only, nullptr);
    active() = true;
    ::alarm(static_cast<unsigned>((ms + 999) / 1000));
  }

  alarm_watchdog(const alarm_watchdog&) = delete;
  alarm_watchdog& operator=(const alarm_watchdog&) = delete;

  ~alarm_watchdog() {
    ::alarm(0);
    ::sigaction(SIGALRM, &previous_, nullptr);
    active() = false;
  }

 private:
  static constexpr std::size_t message_size = 512;
  static char* message() {
    static char text[message_size];
    return text;
  }
  static bool& active() {
    static bool armed = false;
    return armed;
  }

  // Async-signal-safe: write, restore the default action, abort.
  static void expired(int) {
    const char* text = message();
    ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
    (void)ignored;
    ::signal(SIGABRT, SIG_DFL);
    std::abort();
  }

  struct sigaction previous_ {};
};

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_SUPPORT_ALARM_WATCHDOG_HPP_
