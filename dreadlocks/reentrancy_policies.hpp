// dreadlocks/reentrancy_policies.hpp
//
// ReentrancyPolicy: decides what a thread gets when it asks for a key it
// already holds (in any mode, at the level being asked).
//
// Required member:
//   static bool allows_reentry(const lock_options& options) noexcept;
//     Returns true to grant the repeated request (nesting, with mode
//     changes: shared inside exclusive at once, exclusive inside shared as
//     an upgrade that waits for the other holders), false to refuse it
//     with recursive_deadlock_error at once.
// Guarantee: pure and noexcept; it is asked on every acquisition.
//
// Shipped:
//   reentrant_if_requested  reads lock_options::reentrant (the aliases)
//   always_reentrant        nests whatever the options say
//   never_reentrant         refuses every repeated request

#ifndef DREADLOCKS_REENTRANCY_POLICIES_HPP_
#define DREADLOCKS_REENTRANCY_POLICIES_HPP_

#include <type_traits>
#include <utility>

#include "dreadlocks/detail/detect.hpp"
#include "dreadlocks/lock_options.hpp"

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

namespace detail {
template <class P>
using allows_reentry_probe = std::enable_if_t<
    std::is_same_v<decltype(P::allows_reentry(
                       std::declval<const lock_options&>())),
                   bool> &&
    noexcept(P::allows_reentry(std::declval<const lock_options&>()))>;
}  // namespace detail

// is_reentrancy_policy_v
//
// True when P has the members a ReentrancyPolicy requires.
template <class P>
inline constexpr bool is_reentrancy_policy_v =
    detail::is_detected_v<P, detail::allows_reentry_probe>;

}  // namespace dreadlocks

#endif  // DREADLOCKS_REENTRANCY_POLICIES_HPP_
