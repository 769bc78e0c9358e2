// dreadlocks/thread_policies.hpp
//
// ThreadPolicy: the in-process level, excluding the threads of one process
// per key.
//
// Required members:
//   typename P::hold
//     One granted request: default-constructible (an empty hold),
//     nothrow move-constructible and move-assignable. The guard keeps it
//     until release.
//   static hold P::acquire(const lock_request& request);
//     Grants `request` to the calling thread or throws: would-block errors
//     as acquiring_thread_level_lock_would_block_error, a refused or
//     deadlocking repeat as recursive_deadlock_error. Must honour
//     `request.blocking`, `request.deadline` and `request.reentry_allowed`,
//     and leave nothing behind when it throws.
//   static void P::release(hold& hold) noexcept;
//     Gives the hold back. May run on another thread than acquire() did
//     (a guard can be moved); never throws.
// Guarantee: whatever it grants, it grants per key (`request.key`). Errors
// name `request.path()`: where the guard keys the thread level by the file,
// `request.key` may be another spelling of it than the user's.
//
// Shipped:
//   shareable_thread_lock  a keyed registry of shared/exclusive locks with
//                          per-thread ownership counts (docs/thread-level.md)
//   no_thread_lock         grants everything at once; holds nothing

#ifndef DREADLOCKS_THREAD_POLICIES_HPP_
#define DREADLOCKS_THREAD_POLICIES_HPP_

#include <cstdint>
#include <type_traits>
#include <utility>

#include "dreadlocks/detail/detect.hpp"
#include "dreadlocks/detail/thread_registry.hpp"
#include "dreadlocks/detail/thread_tag.hpp"
#include "dreadlocks/lock_request.hpp"

namespace dreadlocks {

// shareable_thread_lock
//
// Excludes threads per key: any number of shared holders, or one thread
// holding exclusive (any number of times, when reentrant). A new shared
// request is granted while an exclusive one waits. A thread holding shared
// that asks for exclusive upgrades once it is the only holder; the second
// of two such upgrades gets recursive_deadlock_error instead of a hang.
struct shareable_thread_lock {
  struct hold {
    detail::thread_registry::key_state* entry = nullptr;
    detail::thread_tag owner = 0;
    std::uint32_t generation = 0;
    bool shared = false;
  };

  static hold acquire(const lock_request& request) {
    auto& registry = detail::thread_registry::instance();
    const auto tag = detail::this_thread_tag();
    auto& entry = registry.acquire(request, tag);
    return hold{&entry, tag, registry.generation(), request.shared};
  }

  static void release(hold& held) noexcept {
    if (held.entry == nullptr) return;
    detail::thread_registry::instance().release(*held.entry, held.owner,
                                                held.shared, held.generation);
    held.entry = nullptr;
  }
};

// no_thread_lock
//
// Grants every request at once and holds nothing: threads are not excluded
// from one another. The thread level of process_level_path_lock.
struct no_thread_lock {
  struct hold {};
  static hold acquire(const lock_request&) noexcept { return {}; }
  static void release(hold&) noexcept {}
};

namespace detail {
template <class P>
using thread_policy_probe = std::enable_if_t<
    std::is_default_constructible_v<typename P::hold> &&
    std::is_nothrow_move_constructible_v<typename P::hold> &&
    std::is_nothrow_move_assignable_v<typename P::hold> &&
    std::is_same_v<decltype(P::acquire(std::declval<const lock_request&>())),
                   typename P::hold> &&
    noexcept(P::release(std::declval<typename P::hold&>()))>;
}  // namespace detail

// is_thread_policy_v
//
// True when P has the members a ThreadPolicy requires.
template <class P>
inline constexpr bool is_thread_policy_v =
    detail::is_detected_v<P, detail::thread_policy_probe>;

}  // namespace dreadlocks

#endif  // DREADLOCKS_THREAD_POLICIES_HPP_
