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
// Optional members:
//   static constexpr key_form P::keys;
//     How the guard folds a spelling into the key it passes (key_form in
//     dreadlocks/key_form.hpp). Without it, key_form::as_opened: the
//     text then opens the file the user's spelling names, which is what a
//     policy that opens files needs. A policy that opens no file declares
//     key_form::lexical, and the thread level then compares lexical keys
//     (no_process_lock does; docs/keys.md).
//   typename P::located, and
//   static located P::locate(const lock_request& request);
//   static const lock_key& P::thread_key(const located&,
//                                        const lock_request&) noexcept;
//   static hold P::lock_located(located&, const lock_request& request);
//   static void P::abandon(located&) noexcept;
//   static bool P::try_repeat(const lock_request& request,
//                             hold& granted) noexcept;
//     Offered together by a policy that can tell which file a spelling
//     names before locking it, so that basic_path_lock keys its thread
//     level by the file, not the spelling (one file, one lock). The guard
//     then, unless its ThreadPolicy is no_thread_lock: (1) asks
//     try_repeat(), which may grant a repeat the calling thread's holds
//     cover without locating anything, and then the request's key is the
//     file's thread key; else (2) locate() finds or opens the file and
//     counts the request as one of its users, without an OS lock; (3) the
//     ThreadPolicy locks thread_key(), a key of that file which is the
//     same for every spelling while the file has users; (4) lock_located()
//     takes the OS lock. A refused step undoes the ones before it:
//     abandon() drops the use when the thread level refuses, and
//     lock_located() drops it itself when it throws. Release is as
//     without them: the process hold (and the use with it), then the
//     thread hold. Without these members the guard locks the thread level
//     under the request's key, then acquire().
//
// Shipped (the file-backed ones share one per-process registry, so all of
// them and every alias cooperate on one file; docs/process-level.md):
//   file_process_lock<Primitive>
//                       the file-backed policy, generic over a
//                       LockPrimitive (dreadlocks/lock_primitive.hpp);
//   ofd_process_lock    over ofd_primitive: Linux open-file-description
//                       locks, falling back to classic ones where the
//                       kernel refuses them. Default on Linux.
//   fcntl_process_lock  over fcntl_primitive: classic POSIX record locks.
//                       Default on other POSIX systems.
//   flock_process_lock  over flock_primitive: BSD flock(2) locks, which
//                       exclude and are excluded by util-linux flock(1).
//   no_process_lock     grants everything at once; opens no file.

#ifndef DREADLOCKS_PROCESS_POLICIES_HPP_
#define DREADLOCKS_PROCESS_POLICIES_HPP_

#include <fcntl.h>

#include <type_traits>
#include <utility>

#include "dreadlocks/detail/detect.hpp"
#include "dreadlocks/detail/process_registry.hpp"
#include "dreadlocks/detail/thread_tag.hpp"
#include "dreadlocks/lock_request.hpp"
#include "dreadlocks/posix_primitives.hpp"

namespace dreadlocks {

// file_process_lock
//
// Locks the lock file a request names with `Primitive`, through the
// process's registry: one handle per file, the threads of the process
// sharing its lock, the lock file opened with the first request and closed
// after the last. Offers the steps that key the thread level by the file
// (one file, one lock). native_handle() returns the primitive's handle.
template <class Primitive>
struct file_process_lock {
  using primitive = Primitive;
  using native_handle_type = typename Primitive::native_handle_type;
  using registry = detail::process_registry_for<Primitive>;

  struct hold {
    typename registry::held_file granted;
    detail::thread_tag owner = 0;
    bool shared = false;
  };

  static hold acquire(const lock_request& request) {
    const detail::thread_tag self = detail::this_thread_tag();
    return hold{registry::template acquire<Primitive>(request, self), self,
                request.shared};
  }

  static void release(hold& held) noexcept {
    if (held.granted.target == nullptr) return;
    registry::release(held.granted, held.owner, held.shared);
    held.granted.target = nullptr;
  }

  static native_handle_type native_handle(const hold& held) noexcept {
    const auto* file = held.granted.target;
    return file == nullptr ? Primitive::invalid_handle : file->handle;
  }

  // The steps of a guard keyed by the file (see the top of this file).
  using located = typename registry::located_file;

  static bool try_repeat(const lock_request& request, hold& granted) noexcept {
    const detail::thread_tag self = detail::this_thread_tag();
    typename registry::held_file file;
    if (!registry::try_repeat(request, self, file)) return false;
    granted = hold{file, self, request.shared};
    return true;
  }

  static located locate(const lock_request& request) {
    return registry::template locate<Primitive>(request);
  }

  static const lock_key& thread_key(const located& file,
                                    const lock_request& request) noexcept {
    return registry::thread_key(file, request);
  }

  static hold lock_located(located& file, const lock_request& request) {
    const detail::thread_tag self = detail::this_thread_tag();
    return hold{registry::lock_located(file, request, self), self,
                request.shared};
  }

  static void abandon(located& file) noexcept { registry::abandon(file); }
};

#if defined(F_OFD_SETLK)
// ofd_process_lock
//
// Locks the whole lock file with an open-file-description lock
// (ofd_primitive). Such a lock belongs to the descriptor's open file
// description, not to the process, so closing another descriptor of the
// file does not release it.
struct ofd_process_lock : file_process_lock<ofd_primitive> {};
#endif

// fcntl_process_lock
//
// Locks the whole lock file with a classic POSIX record lock
// (fcntl_primitive), which belongs to the process: closing any descriptor
// of the file releases it, which is why the registry never opens a second
// one.
struct fcntl_process_lock : file_process_lock<fcntl_primitive> {};

// flock_process_lock
//
// Locks the whole lock file with a BSD flock(2) lock (flock_primitive), the
// lock util-linux flock(1) takes: a program using it and a shell script
// using flock(1) on the same file exclude each other. An upgrade from
// shared to exclusive is not atomic under flock(2) (see flock_primitive).
struct flock_process_lock : file_process_lock<flock_primitive> {};

// no_process_lock
//
// Grants every request at once and opens no file: processes are not
// excluded. The process level of thread_level_path_lock, and a stand-in for
// tests that must not touch the file system.
struct no_process_lock {
  // An int, as the file-backed policies' handle on POSIX.
  using native_handle_type = int;
  // Opens nothing, so its keys (and the thread level's beside it) stay
  // lexical: `dir/../lock` is `lock`, without asking the file system.
  static constexpr key_form keys = key_form::lexical;
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

namespace detail {
template <class P>
using locating_policy_probe = std::enable_if_t<
    std::is_same_v<decltype(P::locate(std::declval<const lock_request&>())),
                   typename P::located> &&
    std::is_same_v<decltype(P::thread_key(
                       std::declval<const typename P::located&>(),
                       std::declval<const lock_request&>())),
                   const lock_key&> &&
    std::is_same_v<decltype(P::lock_located(
                       std::declval<typename P::located&>(),
                       std::declval<const lock_request&>())),
                   typename P::hold> &&
    noexcept(P::abandon(std::declval<typename P::located&>())) &&
    std::is_same_v<decltype(P::try_repeat(
                       std::declval<const lock_request&>(),
                       std::declval<typename P::hold&>())),
                   bool>>;
}  // namespace detail

// locates_files_v
//
// True when ProcessPolicy P offers the steps that key the thread level by
// the file (locate(), thread_key(), lock_located(), abandon(),
// try_repeat()).
template <class P>
inline constexpr bool locates_files_v =
    detail::is_detected_v<P, detail::locating_policy_probe>;

// is_process_policy_v
//
// True when P has the members a ProcessPolicy requires.
template <class P>
inline constexpr bool is_process_policy_v =
    detail::is_detected_v<P, detail::process_policy_probe>;

namespace detail {
template <class P>
using key_form_probe = std::enable_if_t<
    std::is_same_v<std::decay_t<decltype(P::keys)>, key_form>>;

template <class P>
constexpr key_form process_key_form() noexcept {
  if constexpr (is_detected_v<P, key_form_probe>) {
    return P::keys;
  } else {
    return key_form::as_opened;
  }
}
}  // namespace detail

// process_key_form_v
//
// The key_form a guard over ProcessPolicy P folds spellings in: P::keys if
// P declares it, else key_form::as_opened.
template <class P>
inline constexpr key_form process_key_form_v = detail::process_key_form<P>();

}  // namespace dreadlocks

#endif  // DREADLOCKS_PROCESS_POLICIES_HPP_
