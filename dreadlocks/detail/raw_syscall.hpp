// dreadlocks/detail/raw_syscall.hpp
//
// A system call made without the C library, where the library knows how:
// Linux on x86-64 and AArch64. Used for
// - the lock calls that do not wait (a request asked without waiting, and
//   every release): through the C library, fcntl(2) reaches the kernel two
//   calls deep, and after a system call every return costs a
//   mispredicted branch (docs/performance.md, "Call depth at the system
//   calls"); made here, it is none deep, and sets no errno;
// - the task of a timed kernel wait, which must touch no C library state
//   (detail/timed_kernel_wait.hpp).
// Calls that wait go through the C library, which makes them cancellation
// points. A program that interposes on fcntl() or flock() (LD_PRELOAD) and
// must see every lock call defines DREADLOCKS_LIBC_LOCK_CALLS: they then
// all go through the C library (docs/building.md).

#ifndef DREADLOCKS_DETAIL_RAW_SYSCALL_HPP_
#define DREADLOCKS_DETAIL_RAW_SYSCALL_HPP_

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#define DREADLOCKS_HAS_RAW_SYSCALL 1
#include <sys/syscall.h>
#else
#define DREADLOCKS_HAS_RAW_SYSCALL 0
#endif

// DREADLOCKS_RAW_SYSCALL3(result, number, a0, a1, a2)
//
// Makes system call `number` with three arguments (each converted to long)
// and stores its return in `result` (a long): >= 0, or -errno. A macro
// rather than a function, so that it is inlined alike into code built with
// sanitizer instrumentation and into the timed wait's task, built without
// (a function inlined into both would have to match both).
#if defined(__linux__) && defined(__x86_64__)
#define DREADLOCKS_RAW_SYSCALL3(result, number, a0, a1, a2)             \
  __asm__ volatile("syscall"                                            \
                   : "=a"(result)                                       \
                   : "a"(static_cast<long>(number)),                    \
                     "D"(static_cast<long>(a0)),                        \
                     "S"(static_cast<long>(a1)),                        \
                     "d"(static_cast<long>(a2))                         \
                   : "rcx", "r11", "memory")
#elif defined(__linux__) && defined(__aarch64__)
#define DREADLOCKS_RAW_SYSCALL3(result, number, a0, a1, a2)             \
  do {                                                                  \
    register long dreadlocks_x8 __asm__("x8") = static_cast<long>(number); \
    register long dreadlocks_x0 __asm__("x0") = static_cast<long>(a0);  \
    register long dreadlocks_x1 __asm__("x1") = static_cast<long>(a1);  \
    register long dreadlocks_x2 __asm__("x2") = static_cast<long>(a2);  \
    __asm__ volatile("svc 0"                                            \
                     : "+r"(dreadlocks_x0)                              \
                     : "r"(dreadlocks_x8), "r"(dreadlocks_x1),          \
                       "r"(dreadlocks_x2)                               \
                     : "memory");                                       \
    (result) = dreadlocks_x0;                                           \
  } while (false)
#endif

// DREADLOCKS_RAW_LOCK_CALLS: 1 where the lock calls that do not wait are
// made with DREADLOCKS_RAW_SYSCALL3, 0 where they go through the C library.
#if DREADLOCKS_HAS_RAW_SYSCALL && !defined(DREADLOCKS_LIBC_LOCK_CALLS)
#define DREADLOCKS_RAW_LOCK_CALLS 1
#else
#define DREADLOCKS_RAW_LOCK_CALLS 0
#endif

#endif  // DREADLOCKS_DETAIL_RAW_SYSCALL_HPP_
