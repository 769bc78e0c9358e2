// tests/support/child_process.hpp
//
// Real child processes for cross-process tests: fork a child that runs a
// callable and _exits with its status, wait for it with a bound, and never
// leave it behind.
//
//   dreadlocks_test::child_process child([&] {
//     dreadlocks::path_lock lock(file);
//     held->signal();
//     dreadlocks_test::child_require(release->wait(std::chrono::seconds(10)),
//                                    "told to release");
//     return 0;
//   });
//   ...
//   const auto status = child.wait();          // bounded; kills on timeout
//   BOOST_TEST(status.ok(), status.describe());
//
// Rules for forking (see the notes at child_process):
// - A child that starts threads must be forked while the calling process
//   runs no other thread: ThreadSanitizer kills a child that starts
//   threads after a multi-threaded fork. The watchdog (watchdog.hpp) runs
//   no thread, so it never makes a fork multi-threaded. A child that
//   starts no thread may be forked beside other threads.
// - A child forked while the parent holds dreadlocks locks holds none of
//   them (the library's pthread_atfork handlers empty its registries;
//   docs/process-level.md#fork). Unless that is what a test is about, fork
//   the children a test needs first, then take locks in the parent.
// - A child reports through its exit status (and shared memory), never
//   through Boost.Test assertions: those would be recorded in the child's
//   copy of the test framework and lost. Throwing (child_require) makes the
//   child print the reason and exit with child_exception_exit.

#ifndef DREADLOCKS_TESTS_SUPPORT_CHILD_PROCESS_HPP_
#define DREADLOCKS_TESTS_SUPPORT_CHILD_PROCESS_HPP_

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace dreadlocks_test {

// Exit codes a child uses for its own failures; a body's own codes should
// stay below 64.
inline constexpr int child_exception_exit = 90;          // std::exception
inline constexpr int child_unknown_exception_exit = 91;  // anything else

// The default bounds: a wait in the parent, and the alarm() a child sets so
// that it can never outlive the test.
inline constexpr std::chrono::milliseconds default_child_wait{20000};
inline constexpr unsigned default_child_alarm_seconds = 25;

// Throws (in a child: exits with child_exception_exit after printing
// `what`) unless `ok`.
inline void child_require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("child check failed: " + what);
}

// How a child ended.
struct exit_status {
  enum class how { exited, signalled, timed_out, not_waited };
  how ended = how::not_waited;
  int code = -1;   // the exit code when `exited`
  int signal = 0;  // the signal when `signalled` (SIGKILL after timed_out)

  // True when the child exited with code 0.
  bool ok() const noexcept { return ended == how::exited && code == 0; }
  bool exited_with(int expected) const noexcept {
    return ended == how::exited && code == expected;
  }
  bool killed_by(int sig) const noexcept {
    return ended == how::signalled && signal == sig;
  }

  // A human-readable account, for assertion messages.
  std::string describe() const {
    switch (ended) {
      case how::exited:
        return "child exited with code " + std::to_string(code) +
               (code == child_exception_exit
                    ? " (a std::exception escaped; see its stderr)"
                : code == child_unknown_exception_exit
                    ? " (an unknown exception escaped)"
                    : "");
      case how::signalled:
        return "child killed by signal " + std::to_string(signal) + " (" +
               ::strsignal(signal) + ")";
      case how::timed_out:
        return "child did not exit in time and was killed";
      case how::not_waited:
        break;
    }
    return "child not waited for";
  }
};

inline exit_status decode_wait_status(int status) {
  exit_status result;
  if (WIFEXITED(status)) {
    result.ended = exit_status::how::exited;
    result.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.ended = exit_status::how::signalled;
    result.signal = WTERMSIG(status);
  }
  return result;
}

// child_process
//
// Forks a child that runs `body` (returning int, or void for 0) and
// _exits with its result; an escaping exception becomes
// child_exception_exit. The child first restores the default action of the
// signals Boost.Test catches (so that a crash in the child ends the child
// instead of resuming the parent's test runner inside it), unblocks every
// signal, and sets alarm(alarm_seconds). _exit() skips static destructors
// and atexit handlers, which belong to the parent.
//
// Not copyable or movable; the destructor SIGKILLs and reaps a child still
// running.
class child_process {
 public:
  template <class Body>
  explicit child_process(Body&& body,
                         unsigned alarm_seconds = default_child_alarm_seconds) {
    std::fflush(nullptr);  // no buffered output duplicated in the child
    pid_ = ::fork();
    if (pid_ < 0) {
      throw std::system_error(errno, std::generic_category(),
                              "child_process: fork");
    }
    if (pid_ == 0) run_child(std::forward<Body>(body), alarm_seconds);
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  ~child_process() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }

  pid_t pid() const noexcept { return pid_; }

  // Sends `sig` to the child unless it has been reaped.
  void kill(int sig) const noexcept {
    if (!reaped_) ::kill(pid_, sig);
  }

  // wait()
  //
  // Waits up to `timeout` for the child to end and returns how it ended;
  // on timeout, SIGKILLs and reaps it and returns how::timed_out. Once
  // reaped, returns the same status again.
  exit_status wait(std::chrono::milliseconds timeout = default_child_wait) {
    if (reaped_) return status_;
    if (!wait_readable(timeout)) {
      ::kill(pid_, SIGKILL);
      reap();
      status_ = exit_status{};
      status_.ended = exit_status::how::timed_out;
      status_.signal = SIGKILL;
      return status_;
    }
    reap();
    return status_;
  }

 private:
  template <class Body>
  [[noreturn]] static void run_child(Body&& body, unsigned alarm_seconds) {
    for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGALRM, SIGTERM,
                    SIGINT, SIGPIPE}) {
      ::signal(sig, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::alarm(alarm_seconds);
    int code = 0;
    try {
      if constexpr (std::is_void_v<decltype(body())>) {
        body();
      } else {
        code = static_cast<int>(body());
      }
    } catch (const std::exception& error) {
      std::fprintf(stderr, "child %ld: %s\n", static_cast<long>(::getpid()),
                   error.what());
      code = child_exception_exit;
    } catch (...) {
      std::fprintf(stderr, "child %ld: unknown exception\n",
                   static_cast<long>(::getpid()));
      code = child_unknown_exception_exit;
    }
    std::fflush(nullptr);
    ::_exit(code);
  }

  // True once the child has ended (it is then a zombie, reaped by reap()).
  bool wait_readable(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      bool ended = false;
      for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd entry{pidfd, POLLIN, 0};
        const int ready = ::poll(
            &entry, 1, left.count() > 0 ? static_cast<int>(left.count()) : 0);
        if (ready > 0) {
          ended = true;
          break;
        }
        if (ready == 0 || errno != EINTR) break;
      }
      ::close(pidfd);
      return ended;
    }
    // No pidfd (old kernel): poll waitpid, bounded by the deadline.
    for (;;) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        reaped_ = true;
        status_ = decode_wait_status(status);
        return true;
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
      const timespec pause{0, 1000000};
      ::nanosleep(&pause, nullptr);
    }
  }

  void reap() {
    if (reaped_) return;
    int status = 0;
    pid_t done;
    do {
      done = ::waitpid(pid_, &status, 0);
    } while (done < 0 && errno == EINTR);
    reaped_ = true;
    status_ = done == pid_ ? decode_wait_status(status) : exit_status{};
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  exit_status status_;
};

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_SUPPORT_CHILD_PROCESS_HPP_
