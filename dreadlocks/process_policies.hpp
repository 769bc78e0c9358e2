// dreadlocks/process_policies.hpp
//
// ProcessPolicy: the OS level, excluding processes through a lock on the
// lock file. The threads of one process share it: any number of them may
// hold it, shared and exclusive at once; the OS lock is shared while only
// shared holds exist in the process and exclusive while any exclusive hold
// exists.
//
// What a ProcessPolicy must provide and guarantee (nothrow-movable holds,
// a release that never throws or waits, nothing left behind when acquire
// throws), and the optional members (`keys`, and the locating group that
// keys the thread level by the file, with the steps the guard takes
// through it), are stated once, with their check, in
// dreadlocks/policy_concepts.hpp.
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
#include "dreadlocks/policy_concepts.hpp"

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

  // The steps of a guard keyed by the file (see the top of this file).
  using located = process_registry::located_file;

  static bool try_repeat(const lock_request& request, hold& granted) noexcept {
    const thread_tag self = this_thread_tag();
    process_registry::held_file file{nullptr, nullptr};
    if (!process_registry::try_repeat(request, self, file)) return false;
    granted = hold{file, self, request.shared};
    return true;
  }

  static located locate(const lock_request& request) {
    return process_registry::locate_file(request, Kind, true);
  }

  static const lock_key& thread_key(const located& file,
                                    const lock_request& request) noexcept {
    return process_registry::thread_key(file, request);
  }

  static hold lock_located(located& file, const lock_request& request) {
    const thread_tag self = this_thread_tag();
    return hold{process_registry::lock_located(file, request, self), self,
                request.shared};
  }

  static void abandon(located& file) noexcept {
    process_registry::abandon_located(file);
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
  // Opens nothing, so its keys (and the thread level's beside it) stay
  // lexical: `dir/../lock` is `lock`, without asking the file system.
  static constexpr key_form keys = key_form::lexical;
  struct hold {};
  static hold acquire(const lock_request&) noexcept { return {}; }
  static void release(hold&) noexcept {}
  // Returns -1: there is no file.
  static native_handle_type native_handle(const hold&) noexcept { return -1; }
};

}  // namespace dreadlocks

#endif  // DREADLOCKS_PROCESS_POLICIES_HPP_
