// tools/dreadlock/wait_deadline.hpp
//
// A -w timeout for waits in the kernel (flock(2), F_OFD_SETLKW), which take
// no timeout: as flock(1) does, a SIGALRM with a handler that does not
// restart system calls interrupts the wait with EINTR, and the caller
// then asks expired(), which reads the clock. The timer repeats every few
// milliseconds after it first fires, so a wait entered just after a
// signal is interrupted too (no lost wakeup).

#ifndef DREADLOCKS_TOOLS_DREADLOCK_WAIT_DEADLINE_HPP_
#define DREADLOCKS_TOOLS_DREADLOCK_WAIT_DEADLINE_HPP_

#include <signal.h>

#include <chrono>
#include <optional>

namespace dreadlock_cli {

// wait_deadline
//
// Arms the timer for `timeout` (nothing for nullopt or zero) and restores
// the previous SIGALRM disposition and timer when destroyed. One at a time.
class wait_deadline {
 public:
  explicit wait_deadline(std::optional<std::chrono::nanoseconds> timeout);
  ~wait_deadline();
  wait_deadline(const wait_deadline&) = delete;
  wait_deadline& operator=(const wait_deadline&) = delete;

  // True once the timeout has passed.
  bool expired() const noexcept;

 private:
  bool armed_ = false;
  std::chrono::steady_clock::time_point deadline_;
  struct sigaction previous_ {};
};

}  // namespace dreadlock_cli

#endif  // DREADLOCKS_TOOLS_DREADLOCK_WAIT_DEADLINE_HPP_
