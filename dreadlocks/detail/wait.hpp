// dreadlocks/detail/wait.hpp
//
// Bounded and unbounded waits on a condition, shared by the registries.

#ifndef DREADLOCKS_DETAIL_WAIT_HPP_
#define DREADLOCKS_DETAIL_WAIT_HPP_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

#include "dreadlocks/lock_request.hpp"

namespace dreadlocks::detail {

// Locks a registry mutex, trying a little while before sleeping. Registry
// sections last a few hundred instructions, so a thread that finds the
// mutex taken usually gets it within a few tries; going to sleep at once
// would cost two system calls (sleep and wake-up) per collision, which is
// what contended hand-offs between threads are made of.
inline std::unique_lock<std::mutex> lock_registry(std::mutex& mutex) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    if (mutex.try_lock()) return std::unique_lock<std::mutex>(mutex, std::adopt_lock);
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  return std::unique_lock<std::mutex>(mutex);
}

// Waits until `ready()` or `deadline`; returns whether `ready()` holds.
template <class Ready>
bool wait_on(std::condition_variable& changed,
             std::unique_lock<std::mutex>& lock,
             lock_request::clock::time_point deadline, Ready ready) {
  if (deadline == lock_request::no_deadline) {
    changed.wait(lock, ready);
    return true;
  }
  return changed.wait_until(lock, deadline, ready);
}

// Says why `request` was not granted, for a would-block error: "would
// block", or "timed out after waiting 250 ms" (1.5 ms, ...).
inline std::string refusal_reason(const lock_request& request) {
  if (!request.timed()) return "would block";
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(request.timeout)
          .count();
  std::string text = "timed out after waiting " + std::to_string(micros / 1000);
  if (const auto fraction = micros % 1000; fraction != 0) {
    std::string digits = std::to_string(1000 + fraction).substr(1);
    digits.erase(digits.find_last_not_of('0') + 1);
    text += "." + digits;
  }
  return text + " ms";
}

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_WAIT_HPP_
