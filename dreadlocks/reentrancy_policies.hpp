// dreadlocks/reentrancy_policies.hpp
//
// ReentrancyPolicy: decides what a thread gets when it asks for a key it
// already holds (in any mode, at the level being asked).
//
// What a ReentrancyPolicy must provide is stated once, with its check, in
// dreadlocks/policy_concepts.hpp.
//
// Shipped:
//   reentrant_if_requested  reads lock_options::reentrant (the aliases)
//   always_reentrant        nests whatever the options say
//   never_reentrant         refuses every repeated request

#ifndef DREADLOCKS_REENTRANCY_POLICIES_HPP_
#define DREADLOCKS_REENTRANCY_POLICIES_HPP_

#include "dreadlocks/lock_options.hpp"
#include "dreadlocks/policy_concepts.hpp"

namespace dreadlocks {

// reentrant_if_requested
//
// Grants a repeated request when `lock_options::reentrant` is set.
struct reentrant_if_requested {
  static constexpr bool allows_reentry(const lock_options& options) noexcept {
    return options.reentrant;
  }
};

// always_reentrant
//
// Grants every repeated request.
struct always_reentrant {
  static constexpr bool allows_reentry(const lock_options&) noexcept {
    return true;
  }
};

// never_reentrant
//
// Refuses every repeated request with recursive_deadlock_error.
struct never_reentrant {
  static constexpr bool allows_reentry(const lock_options&) noexcept {
    return false;
  }
};

}  // namespace dreadlocks

#endif  // DREADLOCKS_REENTRANCY_POLICIES_HPP_
