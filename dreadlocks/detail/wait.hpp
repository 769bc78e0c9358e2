// dreadlocks/detail/wait.hpp
//
// Bounded and unbounded waits on a condition, shared by the registries.

#ifndef DREADLOCKS_DETAIL_WAIT_HPP_
#define DREADLOCKS_DETAIL_WAIT_HPP_

#include <condition_variable>
#include <mutex>
#include <string>

#include "dreadlocks/lock_request.hpp"

namespace dreadlocks::detail {

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

// Says why `request` was not granted, for a would-block error.
inline std::string refusal_reason(const lock_request& request) {
  return request.blocking ? "was not granted before its deadline"
                          : "would block";
}

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_WAIT_HPP_
