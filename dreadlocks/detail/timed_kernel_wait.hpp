// dreadlocks/detail/timed_kernel_wait.hpp
//
// A blocking lock call bounded by a deadline, without polling and without a
// signal handler: the call runs in a task of its own that the caller kills
// if the deadline passes first.
//
// The kernel has no timed F_SETLKW or flock(2), and interrupting one with a
// timer signal would take a signal, and a handler, from the application.
// But an OFD or flock(2) lock belongs to the open file description, not to
// the process or thread that asked for it: a task sharing the caller's
// descriptor table can wait in the kernel for it, and what it is granted is
// the caller's. So the caller starts such a task (clone(2) with CLONE_VM |
// CLONE_FILES, no exit signal: as cheap as a thread, but a process of its
// own that SIGKILL ends alone), sleeps on its pidfd until it ends or the
// deadline passes, and on expiry kills and reaps it. Whether the lock was
// granted just before the kill is then read from the kernel by the caller
// (a call without waiting on the same open file description: the owner of
// a lock asking again is granted), so no outcome is lost.
//
// The task:
// - runs one raw system call and ends; it touches no C library state (no
//   errno, no TLS), so it is safe beside the caller's threads, and is built
//   without sanitizer instrumentation (the sanitizers cannot see a task
//   they did not start);
// - starts with every signal blocked (it inherits the caller's mask, which
//   the caller blocks around clone()), so no handler of the application
//   ever runs in it; SIGKILL cannot be blocked;
// - dies with the thread that started it (PR_SET_PDEATHSIG), so a process
//   killed while waiting leaves no task behind;
// - has no exit signal, so the application sees no SIGCHLD, and
//   waitpid(-1, ...) without __WALL never reaps it.
//
// Where this is not available (not Linux on x86-64 or AArch64, a kernel
// before 5.2 without CLONE_PIDFD, a process limit, a seccomp filter, or
// valgrind), wait_in_task_until() says so and the caller polls.

#ifndef DREADLOCKS_DETAIL_TIMED_KERNEL_WAIT_HPP_
#define DREADLOCKS_DETAIL_TIMED_KERNEL_WAIT_HPP_

#include <algorithm>
#include <chrono>
#include <cstddef>

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#define DREADLOCKS_HAS_TIMED_KERNEL_WAIT 1
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#else
#define DREADLOCKS_HAS_TIMED_KERNEL_WAIT 0
#endif

namespace dreadlocks::detail {

// One system call with up to three arguments, as the task makes it.
struct kernel_call {
  long number = 0;
  long arguments[3] = {0, 0, 0};
};

// How wait_in_task_until() ended.
enum class task_outcome {
  returned,     // the call returned `result` (0 or -errno) in time
  expired,      // the deadline passed; the task was killed and reaped
  unavailable,  // no task could be started: poll instead
};

#if DREADLOCKS_HAS_TIMED_KERNEL_WAIT

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

namespace timed_kernel_wait {

// What the caller and the task share, on the caller's stack (CLONE_VM).
struct task_frame {
  kernel_call call;
  long parent = 0;   // the caller's process id, for the task to check
  long result = 0;   // written by the task, read after it is reaped
};

// A system call without the C library: no errno, no cancellation point.
#define DREADLOCKS_TASK_FUNCTION                                  \
  __attribute__((no_sanitize("address", "thread", "undefined"), \
                 noinline))

DREADLOCKS_TASK_FUNCTION inline long raw_call(long number, long a0, long a1,
                                              long a2) {
#if defined(__x86_64__)
  long result;
  __asm__ volatile("syscall"
                   : "=a"(result)
                   : "a"(number), "D"(a0), "S"(a1), "d"(a2)
                   : "rcx", "r11", "memory");
  return result;
#else
  register long x8 __asm__("x8") = number;
  register long x0 __asm__("x0") = a0;
  register long x1 __asm__("x1") = a1;
  register long x2 __asm__("x2") = a2;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
  return x0;
#endif
}

// The task: die with the caller's thread, check that the caller did not
// die first, make the call, keep its result.
DREADLOCKS_TASK_FUNCTION inline int task_main(void* argument) {
  auto* frame = static_cast<task_frame*>(argument);
  raw_call(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0);
  if (raw_call(SYS_getppid, 0, 0, 0) != frame->parent) return 0;
  frame->result = raw_call(frame->call.number, frame->call.arguments[0],
                           frame->call.arguments[1], frame->call.arguments[2]);
  return 0;
}

// clone() as the C library has it. ThreadSanitizer replaces clone() with
// its own, which does not pass on CLONE_PIDFD's pointer; glibc's __clone,
// the same function under its other exported name, is not replaced.
#if defined(__GLIBC__)
extern "C" int __clone(int (*)(void*), void*, int, void*, ...);
inline constexpr auto* c_library_clone = &__clone;
#else
inline constexpr auto* c_library_clone = &::clone;
#endif

// The task's stack: it calls two functions with no locals of note.
inline constexpr std::size_t kStackBytes = 64 * 1024;

// Sleeps until `pidfd` is readable (the task ended) or `deadline`; returns
// whether the task ended.
template <class Clock, class Duration>
bool sleep_on_task(int pidfd,
                   std::chrono::time_point<Clock, Duration> deadline) noexcept {
  for (;;) {
    const auto now = Clock::now();
    if (now >= deadline) return false;
    const auto left =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now);
    // A wait too long for timespec is as good as forever: waited in steps.
    const auto step = std::min(left, std::chrono::nanoseconds(
                                         std::chrono::hours(24 * 365)));
    timespec pause{};
    pause.tv_sec = static_cast<time_t>(step.count() / 1000000000);
    pause.tv_nsec = static_cast<long>(step.count() % 1000000000);
    pollfd watched{pidfd, POLLIN, 0};
    const int ready = ::ppoll(&watched, 1, &pause, nullptr);
    if (ready > 0) return true;
    // 0: the pause ended (the deadline is checked above); -1: EINTR.
  }
}

// Reaps the ended (or killed) task `pid`.
inline void reap(pid_t pid) noexcept {
  while (::waitpid(pid, nullptr, __WCLONE) == -1 && errno == EINTR) {
  }
}

}  // namespace timed_kernel_wait

// wait_in_task_until()
//
// Makes `call` (a blocking lock call on a descriptor whose lock belongs to
// its open file description) in a task of its own, waiting at most until
// `deadline`. Returns `returned` with `result` set to what the call
// returned (0, or -errno), `expired` once the task is killed and reaped
// (the caller then asks the kernel, without waiting, what it holds), or
// `unavailable` when no task can be started here. Leaves no task, stack or
// descriptor behind; never throws; changes no signal disposition, and the
// calling thread's signal mask only around clone().
template <class Clock, class Duration>
task_outcome wait_in_task_until(
    const kernel_call& call, std::chrono::time_point<Clock, Duration> deadline,
    long& result) noexcept {
  using namespace timed_kernel_wait;
  const int saved_errno = errno;
  void* stack = ::mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    errno = saved_errno;
    return task_outcome::unavailable;
  }
  task_frame frame;
  frame.call = call;
  frame.parent = static_cast<long>(::getpid());
  int pidfd = -1;
  // Every signal blocked in the task from its first instruction: it
  // inherits the mask of the thread that starts it.
  sigset_t all;
  sigset_t saved;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &saved);
  const pid_t pid = c_library_clone(
      &task_main, static_cast<char*>(stack) + kStackBytes,
      CLONE_VM | CLONE_FILES | CLONE_PIDFD | CLONE_UNTRACED, &frame, &pidfd);
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid == -1) {
    ::munmap(stack, kStackBytes);
    errno = saved_errno;
    return task_outcome::unavailable;
  }
  const bool ended = sleep_on_task(pidfd, deadline);
  if (!ended) ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  reap(pid);
  ::close(pidfd);
  ::munmap(stack, kStackBytes);
  errno = saved_errno;
  if (!ended) return task_outcome::expired;
  // Reaped: the task's write is complete and seen (waitpid orders it).
  result = __atomic_load_n(&frame.result, __ATOMIC_ACQUIRE);
  return task_outcome::returned;
}

#undef DREADLOCKS_TASK_FUNCTION

#else  // !DREADLOCKS_HAS_TIMED_KERNEL_WAIT

template <class Clock, class Duration>
task_outcome wait_in_task_until(const kernel_call&,
                                std::chrono::time_point<Clock, Duration>,
                                long&) noexcept {
  return task_outcome::unavailable;
}

#endif

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_TIMED_KERNEL_WAIT_HPP_
