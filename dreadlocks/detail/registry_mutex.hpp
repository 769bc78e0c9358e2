// dreadlocks/detail/registry_mutex.hpp
//
// The mutex and condition of the thread-level registry. The mutex is taken
// twice per lock-unlock cycle, for a few dozen instructions each time, so
// its own cost is a large share of an uncontended cycle.
//
// On Linux both are futex words. Taking and giving back the mutex is one
// atomic instruction each while nobody sleeps (pthread_mutex_trylock and
// pthread_mutex_unlock add some sixty instructions per cycle to that); a
// thread that finds it taken spins briefly first, because the holder is
// usually about to leave. The condition is a counter of notifications: a
// waiter reads it under the mutex and sleeps only while it is unchanged, so
// no notification can be lost, and there is no waiter state in user space
// that a fork() could leave undefined in the child.
//
// Elsewhere they wrap std::mutex (with the same spin) and
// std::condition_variable.

#ifndef DREADLOCKS_DETAIL_REGISTRY_MUTEX_HPP_
#define DREADLOCKS_DETAIL_REGISTRY_MUTEX_HPP_

#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <new>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#endif

#include "dreadlocks/thread_annotations.hpp"

namespace dreadlocks::detail {

// Spins a moment, for a lock that a running thread is about to give back.
inline void pause_for_holder() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// How many times a thread looks again at a taken registry mutex before it
// sleeps: registry sections are short, and sleeping costs two system calls.
inline constexpr int kSpinsBeforeSleeping = 64;

#if defined(__linux__)

// Waits on or wakes the futex word `word` (private to the process).
inline void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       const ::timespec* absolute_monotonic) noexcept {
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t),
                "a futex word must be a plain 32-bit integer");
  // Returns at once if the word is no longer `expected`, and may return
  // early (EINTR, spurious wake-ups): every caller loops on its condition.
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word),
            FUTEX_WAIT_BITSET_PRIVATE, expected, absolute_monotonic, nullptr,
            FUTEX_BITSET_MATCH_ANY);
}

inline void futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word),
            FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

class DREADLOCKS_CAPABILITY("mutex") registry_mutex {
 public:
  registry_mutex() = default;
  registry_mutex(const registry_mutex&) = delete;
  registry_mutex& operator=(const registry_mutex&) = delete;

  void lock() noexcept DREADLOCKS_ACQUIRE() {
    if (!try_lock()) lock_contended();
  }

  bool try_lock() noexcept DREADLOCKS_TRY_ACQUIRE(true) {
    std::uint32_t expected = kUnlocked;
    return state_.compare_exchange_strong(expected, kLocked,
                                          std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  void unlock() noexcept DREADLOCKS_RELEASE() {
    if (state_.exchange(kUnlocked, std::memory_order_release) == kSleepers) {
      futex_wake(state_, 1);
    }
  }

 private:
  // kSleepers: locked, and a thread may sleep on the word, so the unlock
  // must wake one.
  static constexpr std::uint32_t kUnlocked = 0;
  static constexpr std::uint32_t kLocked = 1;
  static constexpr std::uint32_t kSleepers = 2;

  void lock_contended() noexcept {
    for (int spin = 0; spin < kSpinsBeforeSleeping; ++spin) {
      pause_for_holder();
      if (state_.load(std::memory_order_relaxed) == kUnlocked && try_lock()) {
        return;
      }
    }
    // Once it has slept, a thread takes the mutex as kSleepers: it cannot
    // know whether it was the last sleeper, and an extra wake-up is cheap.
    while (state_.exchange(kSleepers, std::memory_order_acquire) !=
           kUnlocked) {
      futex_wait(state_, kSleepers, nullptr);
    }
  }

  std::atomic<std::uint32_t> state_{kUnlocked};
};

class registry_condition {
 public:
  registry_condition() = default;
  registry_condition(const registry_condition&) = delete;
  registry_condition& operator=(const registry_condition&) = delete;

  // Requires: `lock` owns the mutex guarding what `ready` reads.
  template <class Lock, class Ready>
  void wait(Lock& lock, Ready ready) {
    while (!ready()) sleep(lock, nullptr);
  }

  // Returns ready(), having waited for it until `deadline` at most.
  template <class Lock, class Ready>
  bool wait_until(Lock& lock, std::chrono::steady_clock::time_point deadline,
                  Ready ready) {
    // steady_clock is CLOCK_MONOTONIC on Linux, the futex's absolute clock.
    const auto since_epoch = deadline.time_since_epoch();
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    ::timespec until{};
    until.tv_sec = static_cast<time_t>(seconds.count());
    until.tv_nsec = static_cast<long>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch -
                                                             seconds)
            .count());
    while (!ready()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      sleep(lock, &until);
    }
    return true;
  }

  void notify_all() noexcept {
    notifications_.fetch_add(1, std::memory_order_release);
    futex_wake(notifications_, INT_MAX);
  }

  // Forgets the sleepers of a parent process: nothing to do, the count has
  // no waiter state (kept so that both platforms offer the same calls).
  void reset_after_fork() noexcept {}

 private:
  template <class Lock>
  void sleep(Lock& lock, const ::timespec* until) {
    // Read under the mutex: a notification after the unlock changes it.
    const std::uint32_t seen = notifications_.load(std::memory_order_relaxed);
    lock.unlock();
    futex_wait(notifications_, seen, until);
    lock.lock();
  }

  std::atomic<std::uint32_t> notifications_{0};
};

#else  // !defined(__linux__)

class DREADLOCKS_CAPABILITY("mutex") registry_mutex {
 public:
  void lock() DREADLOCKS_ACQUIRE() {
    for (int spin = 0; spin < kSpinsBeforeSleeping; ++spin) {
      if (mutex_.try_lock()) return;
      pause_for_holder();
    }
    mutex_.lock();
  }
  bool try_lock() DREADLOCKS_TRY_ACQUIRE(true) { return mutex_.try_lock(); }
  void unlock() DREADLOCKS_RELEASE() { mutex_.unlock(); }

  std::mutex& native() noexcept { return mutex_; }

 private:
  std::mutex mutex_;
};

class registry_condition {
 public:
  template <class Ready>
  void wait(std::unique_lock<registry_mutex>& lock, Ready ready) {
    std::unique_lock<std::mutex> inner(lock.mutex()->native(),
                                       std::adopt_lock);
    condition_.wait(inner, ready);
    inner.release();
  }

  template <class Ready>
  bool wait_until(std::unique_lock<registry_mutex>& lock,
                  std::chrono::steady_clock::time_point deadline,
                  Ready ready) {
    std::unique_lock<std::mutex> inner(lock.mutex()->native(),
                                       std::adopt_lock);
    const bool ok = condition_.wait_until(inner, deadline, ready);
    inner.release();
    return ok;
  }

  void notify_all() noexcept { condition_.notify_all(); }

  // A parent's thread may have been waiting on the condition, which leaves
  // the child's copy undefined (POSIX): a fresh one, without destroying the
  // old (undefined with a waiter).
  void reset_after_fork() noexcept {
    new (&condition_) std::condition_variable;
  }

 private:
  std::condition_variable condition_;
};

#endif  // defined(__linux__)

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_REGISTRY_MUTEX_HPP_
