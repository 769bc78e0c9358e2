// tools/dreadlock/wait_deadline.cpp

#include "tools/dreadlock/wait_deadline.hpp"

#include <sys/time.h>

namespace dreadlock_cli {

namespace {

// Does nothing: the signal is there to interrupt the wait (EINTR);
// expired() reads the clock, so it does not depend on when the handler
// runs (a sanitizer may defer it past the interrupted call).
extern "C" void on_deadline(int) {}

// How often the timer fires again after the deadline.
constexpr suseconds_t repeat_microseconds = 5000;

}  // namespace

wait_deadline::wait_deadline(std::optional<std::chrono::nanoseconds> timeout) {
  if (!timeout || timeout->count() <= 0) return;
  deadline_ = std::chrono::steady_clock::now() + *timeout;
  struct sigaction action {};
  action.sa_handler = on_deadline;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: the wait returns EINTR
  if (::sigaction(SIGALRM, &action, &previous_) != 0) return;
  const auto micro =
      std::chrono::ceil<std::chrono::microseconds>(*timeout).count();
  itimerval timer{};
  timer.it_value.tv_sec = static_cast<time_t>(micro / 1000000);
  timer.it_value.tv_usec = static_cast<suseconds_t>(micro % 1000000);
  timer.it_interval.tv_usec = repeat_microseconds;
  ::setitimer(ITIMER_REAL, &timer, nullptr);
  armed_ = true;
}

wait_deadline::~wait_deadline() {
  if (!armed_) return;
  const itimerval off{};
  ::setitimer(ITIMER_REAL, &off, nullptr);
  ::sigaction(SIGALRM, &previous_, nullptr);
}

bool wait_deadline::expired() const noexcept {
  return armed_ && std::chrono::steady_clock::now() >= deadline_;
}

}  // namespace dreadlock_cli
