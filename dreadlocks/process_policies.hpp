// dreadlocks/process_policies.hpp
//
// ProcessPolicy: the OS level, excluding processes through a lock on the
// lock file. The threads of one process share it: any number of them may
// hold it, shared and exclusive at once; the OS lock is shared while only
// shared holds exist in the process and exclusive while any exclusive hold
// exists.
//
// Required members:
//   typename P::hold
//     One granted request: default-constructible (an empty hold),
//     nothrow move-constructible and move-assignable.
//   typename P::native_handle_type
//   static hold P::acquire(const lock_request& request);
//     Grants `request` or throws: would-block errors as
//     acquiring_process_level_lock_would_block_error, a refused repeat by a
//     holding thread as recursive_deadlock_error, OS failures and bad paths
//     as std::system_error naming the path. Must honour `request.blocking`,
//     `request.deadline` and `request.reentry_allowed`, and leave nothing
//     behind (hold, descriptor, registry entry) when it throws.
//   static void P::release(hold& hold) noexcept;
//     Gives the hold back, from any thread; never waits for another
//     process; never throws.
//   static native_handle_type P::native_handle(const hold& hold) noexcept;
//     Returns the lock file's descriptor (or a policy-defined "none").
//
// Shipped (the file-backed ones share one per-process registry, so all of
// them and every alias cooperate on one file; docs/process-level.md):
//   ofd_process_lock    Linux open-file-description locks (F_OFD_SETLK[W]);
//                       falls back to classic locks where the kernel
//                       refuses them. Default on Linux.
//   fcntl_process_lock  classic POSIX record locks (F_SETLK[W]). Default on
//                       other POSIX systems.
//   no_process_lock     grants everything at once; opens no file.

#ifndef DREADLOCKS_PROCESS_POLICIES_HPP_
#define DREADLOCKS_PROCESS_POLICIES_HPP_

#include <type_traits>
#include <utility>

#include "dreadlocks/detail/detect.hpp"
#include "dreadlocks/detail/posix_file.hpp"
#include "dreadlocks/detail/process_registry.hpp"
#include "dreadlocks/detail/thread_tag.hpp"
#include "dreadlocks/lock_request.hpp"

namespace dreadlocks {

namespace detail {

// The file-backed POSIX policies differ only in the lock family they ask
// the kernel for, and in whether a new spelling must be stat'ed before it
// is opened (classic locks die with any descriptor the process closes).
template <lock_kind Kind>
struct posix_process_lock {
  using native_handle_type = native_file;

  struct hold {
    process_registry::held_file granted{nullptr, nullptr};
    thread_tag owner = 0;
    bool shared = false;
  };

  static hold acquire(const lock_request& request) {
    const thread_tag self = this_thread_tag();
    return hold{process_registry::acquire(request, Kind, true, self),
                self, request.shared};
  }

  static void release(hold& held) noexcept {
    if (held.granted.file == nullptr) return;
    process_registry::release(held.granted, held.owner, held.shared);
    held.granted.file = nullptr;
  }

  static native_handle_type native_handle(const hold& held) noexcept {
    const auto* file = held.granted.file;
    return file == nullptr ? invalid_file : file->file;
  }
};

}  // namespace detail

#if defined(F_OFD_SETLK)
// ofd_process_lock
//
// Locks the whole lock file with an open-file-description lock. Such a lock
// belongs to the descriptor's open file description, not to the process, so
// closing another descriptor of the file does not release it.
struct ofd_process_lock : detail::posix_process_lock<detail::lock_kind::ofd> {};
#endif

// fcntl_process_lock
//
// Locks the whole lock file with a classic POSIX record lock, which belongs
// to the process: closing any descriptor of the file releases it, which is
// why the registry never opens a second one.
struct fcntl_process_lock
    : detail::posix_process_lock<detail::lock_kind::classic> {};

// no_process_lock
//
// Grants every request at once and opens no file: processes are not
// excluded. The process level of thread_level_path_lock, and a stand-in for
// tests that must not touch the file system.
struct no_process_lock {
  using native_handle_type = int;
  struct hold {};
  static hold acquire(const lock_request&) noexcept { return {}; }
  static void release(hold&) noexcept {}
  // Returns -1: there is no file.
  static native_handle_type native_handle(const hold&) noexcept { return -1; }
};

namespace detail {
template <class P>
using process_policy_probe = std::enable_if_t<
    std::is_default_constructible_v<typename P::hold> &&
    std::is_nothrow_move_constructible_v<typename P::hold> &&
    std::is_nothrow_move_assignable_v<typename P::hold> &&
    std::is_same_v<decltype(P::acquire(std::declval<const lock_request&>())),
                   typename P::hold> &&
    noexcept(P::release(std::declval<typename P::hold&>())) &&
    std::is_same_v<decltype(P::native_handle(
                       std::declval<const typename P::hold&>())),
                   typename P::native_handle_type>>;
}  // namespace detail

// is_process_policy_v
//
// True when P has the members a ProcessPolicy requires.
template <class P>
inline constexpr bool is_process_policy_v =
    detail::is_detected_v<P, detail::process_policy_probe>;

}  // namespace dreadlocks

#endif  // DREADLOCKS_PROCESS_POLICIES_HPP_
