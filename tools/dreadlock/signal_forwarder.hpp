// tools/dreadlock/signal_forwarder.hpp
//
// Passing the signals sent to dreadlock on to the command, and waiting for
// the command to end, without asynchronous signal handlers: the signals
// are blocked and taken synchronously with sigwait.

#ifndef DREADLOCKS_TOOLS_DREADLOCK_SIGNAL_FORWARDER_HPP_
#define DREADLOCKS_TOOLS_DREADLOCK_SIGNAL_FORWARDER_HPP_

#include <signal.h>
#include <sys/types.h>

#include <optional>
#include <vector>

namespace dreadlock_cli {

// signal_forwarder
//
// From its construction on, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and
// SIGUSR2 (each unless dreadlock was started with it ignored, e.g. SIGHUP
// under nohup) and SIGCHLD are blocked in dreadlock, for the rest of its
// life: a signal that arrives after the command ended must not change
// dreadlock's exit status. Create it before fork(); the child calls
// restore_in_child() before exec, so that the command starts with
// dreadlock's original signal mask and dispositions.
class signal_forwarder {
 public:
  signal_forwarder();
  signal_forwarder(const signal_forwarder&) = delete;
  signal_forwarder& operator=(const signal_forwarder&) = delete;

  // Restores the original mask and SIGCHLD disposition. Async-signal-safe.
  void restore_in_child() const noexcept;

  // wait_for()
  //
  // Passes each forwarded signal dreadlock receives on to `child` until it
  // ends, then returns its wait status (nullopt if waitpid fails). A
  // SIGINT or SIGQUIT the terminal sent to its foreground process group
  // (Ctrl-C, Ctrl-\) is not passed on while `child` is in dreadlock's
  // process group, which got it already (Linux only, where the sender is
  // known; other systems pass everything on).
  std::optional<int> wait_for(pid_t child);

 private:
  sigset_t waited_;  // forwarded signals and SIGCHLD
  sigset_t original_mask_;
  struct sigaction original_sigchld_;
  std::vector<int> forwarded_;
};

}  // namespace dreadlock_cli

#endif  // DREADLOCKS_TOOLS_DREADLOCK_SIGNAL_FORWARDER_HPP_
