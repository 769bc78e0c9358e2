// dreadlocks/detail/wait.hpp
//
// Bounded and unbounded waits on a condition, shared by the registries.

#ifndef DREADLOCKS_DETAIL_WAIT_HPP_
#define DREADLOCKS_DETAIL_WAIT_HPP_

#include <chrono>
#include <string>

#include "dreadlocks/lock_request.hpp"

namespace dreadlocks::detail {

// Waits on `changed` (a std::condition_variable or registry_condition)
// until `ready()` or `deadline`; returns whether `ready()` holds.
template <class Condition, class Lock, class Ready>
bool wait_on(Condition& changed, Lock& lock,
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
