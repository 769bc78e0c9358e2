// tools/dreadlock/signal_forwarder.cpp

#include "tools/dreadlock/signal_forwarder.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace dreadlock_cli {

namespace {

constexpr int forwardable[] = {SIGINT,  SIGTERM, SIGHUP,
                               SIGQUIT, SIGUSR1, SIGUSR2};

// SIGCHLD must not be ignored (children would be reaped by the kernel) and
// must stay pending while blocked on every system: a handler that does
// nothing ensures both.
extern "C" void ignore_signal(int) {}

bool ignored_at_start(int signal_number) {
  struct sigaction current {};
  return ::sigaction(signal_number, nullptr, &current) == 0 &&
         current.sa_handler == SIG_IGN;
}

// Whether `signal_number` is a SIGINT or SIGQUIT the terminal (Ctrl-C,
// Ctrl-\) sent to its foreground process group, which holds `child` too
// unless it moved to a group of its own: passing it on would deliver it
// twice. The kernel sends these two only to a foreground process group;
// other signals it sends (a hangup's SIGHUP goes to the session leader
// alone) are always passed on.
bool child_got_it_from_the_terminal(pid_t child, int signal_number, int code) {
#if defined(__linux__)
  return (signal_number == SIGINT || signal_number == SIGQUIT) &&
         code == SI_KERNEL && ::getpgid(child) == ::getpgrp();
#else
  (void)child;
  (void)signal_number;
  (void)code;
  return false;
#endif
}

}  // namespace

signal_forwarder::signal_forwarder() {
  sigemptyset(&waited_);
  for (int signal_number : forwardable) {
    if (ignored_at_start(signal_number)) continue;
    forwarded_.push_back(signal_number);
    sigaddset(&waited_, signal_number);
  }
  sigaddset(&waited_, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &waited_, &original_mask_);
  struct sigaction quiet {};
  quiet.sa_handler = ignore_signal;
  sigemptyset(&quiet.sa_mask);
  ::sigaction(SIGCHLD, &quiet, &original_sigchld_);
}

void signal_forwarder::restore_in_child() const noexcept {
  ::sigaction(SIGCHLD, &original_sigchld_, nullptr);
  ::sigprocmask(SIG_SETMASK, &original_mask_, nullptr);
}

std::optional<int> signal_forwarder::wait_for(pid_t child) {
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(child, &status, WNOHANG);
    if (done == child) return status;
    if (done < 0 && errno != EINTR) {
      std::fprintf(stderr, "dreadlock: waiting for the command: %s\n",
                   std::strerror(errno));
      return std::nullopt;
    }
    int signal_number = 0;
    int code = SI_USER;
#if defined(__linux__)
    siginfo_t info{};
    signal_number = ::sigwaitinfo(&waited_, &info);
    if (signal_number < 0) continue;  // EINTR (e.g. SIGCONT)
    code = info.si_code;
#else
    if (::sigwait(&waited_, &signal_number) != 0) continue;
#endif
    if (signal_number == SIGCHLD) continue;
    if (!child_got_it_from_the_terminal(child, signal_number, code)) {
      ::kill(child, signal_number);
    }
  }
}

}  // namespace dreadlock_cli
