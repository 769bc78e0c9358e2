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
// own that SIGKILL ends alone) and sleeps on a futex that the task clears
// when its call returns (and the kernel when the task ends), until then or
// the deadline.
// - In time: the caller returns at once. The task, which runs on the
//   caller's CPU, wakes it there and yields the CPU to it, then ends on its
//   own; it runs on a stack and frame of the caller's thread kept for the
//   purpose (task_slot), and is reaped at the thread's next timed wait or
//   at the thread's end, whichever comes first.
// - On expiry: the caller kills and reaps it before returning. Whether the
//   lock was granted just before the kill is then read from the kernel by
//   the caller (a call without waiting on the same open file description:
//   the owner of a lock asking again is granted), so no outcome is lost.
//
// The task:
// - moves to the caller's CPU, runs one raw system call, wakes the caller,
//   yields and ends; it touches no C library state (no errno, no TLS), so
//   it is safe beside the caller's threads, and is built without sanitizer
//   instrumentation (the sanitizers cannot see a task they did not start);
// - starts with every signal blocked (it inherits the caller's mask, which
//   the caller blocks around clone()), so no handler of the application
//   ever runs in it; SIGKILL cannot be blocked;
// - dies with the thread that started it (PR_SET_PDEATHSIG), so a process
//   killed while waiting leaves no task behind;
// - has no exit signal, so the application sees no SIGCHLD, and
//   waitpid(-1, ...) without __WALL never reaps it (an application that
//   waits with __WALL may reap one that ended in time before we do; we
//   then find none to reap).
//
// Where this is not available (not Linux on x86-64 or AArch64, a process
// limit, a seccomp filter, or valgrind), wait_in_task_until() says so and
// the caller polls.

#ifndef DREADLOCKS_DETAIL_TIMED_KERNEL_WAIT_HPP_
#define DREADLOCKS_DETAIL_TIMED_KERNEL_WAIT_HPP_

#include <algorithm>
#include <chrono>
#include <cstddef>

#include "dreadlocks/detail/raw_syscall.hpp"

#if DREADLOCKS_HAS_RAW_SYSCALL
#define DREADLOCKS_HAS_TIMED_KERNEL_WAIT 1
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
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

namespace timed_kernel_wait {

// What the caller and the task share (CLONE_VM).
struct task_frame {
  kernel_call call;
  long parent = 0;  // the caller's process id, for the task to check
  long result = 0;  // written by the task before it clears `running`
  int made = 0;     // 1 once the task has made the call and kept `result`
  // 1 while the task runs: cleared, with a futex wake, by the task once it
  // has made the call, and by the kernel when the task ends
  // (CLONE_CHILD_CLEARTID), so that a task killed by anyone wakes the
  // caller too.
  int running = 1;
  // The CPU the caller ran on when it started the task (-1: unknown), and
  // that CPU alone as an affinity mask.
  int cpu = -1;
  cpu_set_t on_cpu;
};

// A system call without the C library: no errno, no cancellation point.
#define DREADLOCKS_TASK_FUNCTION                                  \
  __attribute__((no_sanitize("address", "thread", "undefined"), \
                 noinline))

DREADLOCKS_TASK_FUNCTION inline long raw_call(long number, long a0, long a1,
                                              long a2) {
  long result;
  DREADLOCKS_RAW_SYSCALL3(result, number, a0, a1, a2);
  return result;
}

// The task: die with the caller's thread, check that the caller did not
// die first, move to the caller's CPU, make the call, keep its result,
// wake the caller, yield, end. On the caller's CPU, the kernel wakes the
// caller where the task runs (and where the caller slept), and the yield
// hands the CPU over at once; woken elsewhere, the caller waited for
// another CPU, or for the task's exit on this one: most of a timed
// hand-off, measured (docs/timeouts.md). The move is a hint: refused (a
// cpuset without that CPU), the task runs where it is.
DREADLOCKS_TASK_FUNCTION inline int task_main(void* argument) {
  auto* frame = static_cast<task_frame*>(argument);
  raw_call(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0);
  if (raw_call(SYS_getppid, 0, 0, 0) != frame->parent) return 0;
  if (frame->cpu >= 0) {
    raw_call(SYS_sched_setaffinity, 0, sizeof frame->on_cpu,
             reinterpret_cast<long>(&frame->on_cpu));
  }
  frame->result = raw_call(frame->call.number, frame->call.arguments[0],
                           frame->call.arguments[1], frame->call.arguments[2]);
  __atomic_store_n(&frame->made, 1, __ATOMIC_RELAXED);
  __atomic_store_n(&frame->running, 0, __ATOMIC_RELEASE);
  raw_call(SYS_futex, reinterpret_cast<long>(&frame->running), FUTEX_WAKE, 1);
  raw_call(SYS_sched_yield, 0, 0, 0);
  return 0;
}

// clone() as the C library has it. ThreadSanitizer replaces clone() with
// its own, which does not pass on all of its arguments; glibc's __clone,
// the same function under its other exported name, is not replaced.
#if defined(__GLIBC__)
extern "C" int __clone(int (*)(void*), void*, int, void*, ...);
inline constexpr auto* c_library_clone = &__clone;
#else
inline constexpr auto* c_library_clone = &::clone;
#endif

// The task's stack: the task calls two small functions, and no signal
// handler ever runs on it.
inline constexpr std::size_t kStackBytes = 4096;

// Set once clone() refuses the task for good (a seccomp filter): later
// waits poll at once.
inline std::atomic<bool> refused{false};

// Whether the process runs under valgrind, which stops the whole program
// at a clone() that is neither a thread nor a fork. Its launcher preloads
// its own libraries into the program (vgpreload_*.so); read once.
inline bool under_valgrind() noexcept {
  static const bool found = [] {
    const char* preload = ::getenv("LD_PRELOAD");
    return preload != nullptr && ::strstr(preload, "/vgpreload_") != nullptr;
  }();
  return found;
}

// Sleeps until the task clears `running` or `deadline` (on the monotonic
// clock, which steady_clock reads) passes; returns whether it cleared it.
inline bool sleep_on_task(
    int& running, std::chrono::steady_clock::time_point deadline) noexcept {
  using std::chrono::nanoseconds;
  while (__atomic_load_n(&running, __ATOMIC_ACQUIRE) != 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    // A deadline beyond what the kernel takes is waited for in steps.
    const auto at = std::min(deadline, now + std::chrono::hours(24 * 30));
    const auto since_epoch =
        std::chrono::duration_cast<nanoseconds>(at.time_since_epoch());
    timespec until{};
    until.tv_sec = static_cast<time_t>(since_epoch.count() / 1000000000);
    until.tv_nsec = static_cast<long>(since_epoch.count() % 1000000000);
    // An absolute CLOCK_MONOTONIC deadline; returns at once if `running`
    // is no longer 1. Not private: the kernel's wake at the task's end is
    // a shared one.
    ::syscall(SYS_futex, &running, FUTEX_WAIT_BITSET, 1, &until, nullptr,
              FUTEX_BITSET_MATCH_ANY);
  }
  return true;
}

// Reaps the ended (or killed) task `pid`, waiting for its end: our
// unreaped child, so `pid` names no other process.
inline void reap(pid_t pid) noexcept {
  while (::waitpid(pid, nullptr, __WCLONE) == -1 && errno == EINTR) {
  }
}

// task_slot
//
// The task's stack and frame, one per thread, kept across its timed waits:
// a task that woke its caller in time still runs on them for a moment, and
// the caller waits neither for its end nor to reap it. So that task is
// left, ending and then a zombie, until the thread's next timed wait or the
// thread's end (this thread_local's destructor), which reap it before the
// slot is used again or freed: at most one per thread. The memory is
// allocated at the thread's first timed wait that starts a task.
class task_slot {
 public:
  // What the task runs on: its stack, and the frame it shares.
  struct memory {
    alignas(64) unsigned char stack[kStackBytes];
    task_frame frame;
  };

  task_slot() = default;
  task_slot(const task_slot&) = delete;
  task_slot& operator=(const task_slot&) = delete;
  ~task_slot() {
    settle();
    delete memory_;
  }

  // Reaps the task the thread's last wait left, if any; returns the slot's
  // memory, free for a new task, or nullptr if it cannot be allocated.
  memory* ready() noexcept {
    settle();
    if (memory_ == nullptr) memory_ = new (std::nothrow) memory;
    return memory_;
  }

  // Records `pid`, a task of process `owner` (this one) that woke its
  // caller in time and still ends on the slot.
  void leave(pid_t pid, pid_t owner) noexcept {
    pid_ = pid;
    owner_ = owner;
  }

  // Reaps the recorded task, which has made its call and ends without
  // waiting for anything (so this is short), unless this process is a
  // fork() of the one that started it: there the task is no child, its pid
  // may name one, and nothing runs on this copy of the memory.
  void settle() noexcept {
    if (pid_ == 0) return;
    if (owner_ == ::getpid()) {
      const int saved_errno = errno;
      reap(pid_);
      errno = saved_errno;
    }
    pid_ = 0;
  }

 private:
  memory* memory_ = nullptr;
  pid_t pid_ = 0;
  pid_t owner_ = 0;
};

// The calling thread's slot.
inline thread_local task_slot slot;

}  // namespace timed_kernel_wait

// wait_in_task_until()
//
// Makes `call` (a blocking lock call on a descriptor whose lock belongs to
// its open file description) in a task of its own, waiting at most until
// `deadline`. Returns `returned` with `result` set to what the call
// returned (0, or -errno), `expired` once the task is killed and reaped
// (the caller then asks the kernel, without waiting, what it holds), or
// `unavailable` when no task can be started here. Opens no descriptor;
// leaves no task behind but, after `returned`, the one that ends on its
// own and is reaped at the thread's next timed wait or end (task_slot);
// never throws; changes no signal disposition, and the calling thread's
// signal mask only around clone().
inline task_outcome wait_in_task_until(
    const kernel_call& call, std::chrono::steady_clock::time_point deadline,
    long& result) noexcept {
  using namespace timed_kernel_wait;
  if (refused.load(std::memory_order_relaxed) || under_valgrind()) {
    return task_outcome::unavailable;
  }
  if (std::chrono::steady_clock::now() >= deadline) {
    return task_outcome::expired;
  }
  const int saved_errno = errno;
  task_slot::memory* const memory = slot.ready();
  if (memory == nullptr) {
    errno = saved_errno;
    return task_outcome::unavailable;
  }
  task_frame& frame = memory->frame;
  frame = task_frame{};
  frame.call = call;
  frame.parent = static_cast<long>(::getpid());
  frame.cpu = ::sched_getcpu();
  if (frame.cpu >= 0 && frame.cpu < CPU_SETSIZE) {
    CPU_ZERO(&frame.on_cpu);
    CPU_SET(frame.cpu, &frame.on_cpu);
  } else {
    frame.cpu = -1;
  }
  // Every signal blocked in the task from its first instruction: it
  // inherits the mask of the thread that starts it.
  sigset_t all;
  sigset_t saved;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &saved);
  const pid_t pid = c_library_clone(
      &task_main, memory->stack + kStackBytes,
      CLONE_VM | CLONE_FILES | CLONE_UNTRACED | CLONE_CHILD_CLEARTID, &frame,
      nullptr, nullptr, &frame.running);
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid == -1) {
    // Too many processes or too little memory may pass; the rest will not.
    if (errno != EAGAIN && errno != ENOMEM) {
      refused.store(true, std::memory_order_relaxed);
    }
    errno = saved_errno;
    return task_outcome::unavailable;
  }
  if (!sleep_on_task(frame.running, deadline)) {
    // Still our unreaped child, so `pid` names no other process. Latency
    // no longer matters: reaped before returning.
    ::kill(pid, SIGKILL);
    reap(pid);
    errno = saved_errno;
    return task_outcome::expired;
  }
  // The task ends on its own, on the slot: reaped later.
  slot.leave(pid, static_cast<pid_t>(frame.parent));
  errno = saved_errno;
  // A task ended by someone else before its call returned made none.
  if (__atomic_load_n(&frame.made, __ATOMIC_ACQUIRE) == 0) {
    return task_outcome::expired;
  }
  result = frame.result;
  return task_outcome::returned;
}

#undef DREADLOCKS_TASK_FUNCTION

#else  // !DREADLOCKS_HAS_TIMED_KERNEL_WAIT

inline task_outcome wait_in_task_until(const kernel_call&,
                                       std::chrono::steady_clock::time_point,
                                       long&) noexcept {
  return task_outcome::unavailable;
}

#endif

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_TIMED_KERNEL_WAIT_HPP_
