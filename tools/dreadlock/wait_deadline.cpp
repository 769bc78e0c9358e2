// tools/dreadlock/wait_deadline.cpp

#include "tools/dreadlock/wait_deadline.hpp"

#include <sys/time.h>

namespace dreadlock_cli {

namespace {

volatile sig_atomic_t deadline_passed = 0;

extern "C" void on_deadline(int) { deadline_passed = 1; }

// How often the timer fires again after the deadline.
constexpr suseconds_t repeat_microseconds = 5000;

}  // namespace

wait_deadline::wait_deadline(std::optional<std::chrono::nanoseconds> timeout) {
  deadline_passed = 0;
  if (!timeout || timeout->count() <= 0) return;
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

bool wait_deadline::expired() const noexcept { return deadline_passed != 0; }

}  // namespace dreadlock_cli
