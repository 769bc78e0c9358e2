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
//   windows_process_lock
//                       over lockfileex_primitive: LockFileEx locks over
//                       the whole 64-bit range, true shared locks. Default
//                       on Windows, the only file-backed policy there.
//   no_process_lock     grants everything at once; opens no file.

#ifndef DREADLOCKS_PROCESS_POLICIES_HPP_
#define DREADLOCKS_PROCESS_POLICIES_HPP_

#include <atomic>

#if !defined(_WIN32)
#include <fcntl.h>
#endif

#include "dreadlocks/detail/attributes.hpp"
#include "dreadlocks/detail/key_access.hpp"
#include "dreadlocks/detail/primitive_check.hpp"
#include "dreadlocks/detail/process_registry.hpp"
#include "dreadlocks/detail/thread_tag.hpp"
#include "dreadlocks/lock_request.hpp"
#include "dreadlocks/policy_concepts.hpp"
#if defined(_WIN32)
#include "dreadlocks/windows_primitives.hpp"
#else
#include "dreadlocks/posix_primitives.hpp"
#endif

namespace dreadlocks {

// file_process_lock
//
// Locks the lock file a request names with `Primitive`, through the
// process's registry: one handle per file, the threads of the process
// sharing its lock, the lock file opened with the first request and closed
// after the last (or, for a file a lock object keeps, when it lets go).
// Offers the steps that key the thread level by the file (one file, one
// lock), and those that keep a file open across a lock object's cycles. native_handle() returns the primitive's handle.
template <class Primitive>
struct file_process_lock {
  // Stops at the first requirement of dreadlocks/lock_primitive.hpp that
  // Primitive does not meet, naming it.
  static_assert(sizeof(detail::primitive_check<Primitive>) > 0);

  // The LockPrimitive the files are locked with.
  using primitive = Primitive;

  // The primitive's handle: what native_handle() returns.
  using native_handle_type = typename Primitive::native_handle_type;

  // The process's registry of the primitive's files (internal).
  using registry = detail::process_registry_for<Primitive>;

  struct hold {
    typename registry::held_file granted;
    detail::thread_tag owner = 0;
    bool shared = false;
  };

  DREADLOCKS_INLINE_STEP static hold acquire(const lock_request& request) {
    const detail::thread_tag self = detail::this_thread_tag();
    return hold{registry::template acquire<Primitive>(request, self), self,
                request.shared};
  }

  DREADLOCKS_INLINE_STEP static void release(hold& held) noexcept {
    if (held.granted.target == nullptr) return;
    registry::template release<Primitive>(held.granted, held.owner,
                                          held.shared);
    held.granted.target = nullptr;
  }

  // Returns the file's handle, Primitive::invalid_handle for an empty hold
  // (ProcessPolicy's native_handle(), dreadlocks/policy_concepts.hpp).
  static native_handle_type native_handle(const hold& held) noexcept {
    const auto* file = held.granted.target;
    return file == nullptr ? Primitive::invalid_handle : file->handle;
  }

  // A file found or opened for one request and counted as one of its users:
  // the steps of a guard keyed by the file (ProcessPolicy's locating group,
  // dreadlocks/policy_concepts.hpp) follow.
  using located = typename registry::located_file;

  // Grants, without the registry's mutex or a system call, a reentrant
  // repeat of a mode the calling thread alone holds on the file the
  // request's key opened; false for anything else (the group's try_repeat()).
  static bool try_repeat(const lock_request& request, hold& granted) noexcept {
    const detail::thread_tag self = detail::this_thread_tag();
    typename registry::held_file file;
    if (!registry::try_repeat(request, self, file)) return false;
    granted = hold{file, self, request.shared};
    return true;
  }

  // Finds the file, or opens it with Primitive (no OS lock yet), and counts
  // the request as one of its users (the group's locate()).
  DREADLOCKS_INLINE_STEP static located locate(const lock_request& request) {
    return registry::template locate<Primitive>(request);
  }

  // Returns the key of the spelling that opened the file, the same for every
  // spelling while the file has users (the group's thread_key()).
  static const lock_key& thread_key(const located& file,
                                    const lock_request& request) noexcept {
    return registry::thread_key(file, request);
  }

  // Takes the OS lock on the located file for the calling thread, as
  // acquire() does, using up the request's use of it either way (the group's
  // lock_located()).
  DREADLOCKS_INLINE_STEP static hold lock_located(
      located& file, const lock_request& request) {
    const detail::thread_tag self = detail::this_thread_tag();
    return hold{registry::template lock_located<Primitive>(file, request, self),
                self, request.shared};
  }

  // Drops the request's use of the file, closing it if nobody else uses it
  // (the group's abandon()).
  static void abandon(located& file) noexcept { registry::abandon(file); }

  // The file a lock object keeps open between its holds (ProcessPolicy's
  // keeping group, dreadlocks/policy_concepts.hpp): none by default.
  struct kept {
    // The kept file's state in the registry; nullptr: none.
    typename registry::file* target = nullptr;
    // The file lock_kept() locks, published once (with a keeper of its
    // own) by the first keep() outside a forked child's orphan; nullptr
    // until then.
    std::atomic<typename registry::file*> direct{nullptr};
    // The thread key of `direct`, written before it is published.
    lock_key direct_key = detail::key_access::empty();
  };

  // Makes `keeping` keep open the file `held` locks, and no other (the
  // group's keep()); a comparison when it already does.
  static void keep(kept& keeping, const hold& held) noexcept {
    registry::keep(keeping.target, held.granted);
    registry::keep_direct(keeping.direct, keeping.direct_key, held.granted);
  }

  // Lets go of the kept file, closing it if nobody uses it (the group's
  // unkeep()).
  static void unkeep(kept& keeping) noexcept {
    registry::unkeep(keeping.target);
    auto* direct = keeping.direct.exchange(nullptr, std::memory_order_relaxed);
    registry::unkeep(direct);
    keeping.direct_key = detail::key_access::empty();
  }

  // Returns the kept file's thread key when lock_kept() may lock it, nullptr
  // before the first keep() or in a forked child whose kept file is the
  // parent's (the group's kept_key()).
  static const lock_key* kept_key(const kept& keeping) noexcept {
    const auto* direct = keeping.direct.load(std::memory_order_acquire);
    if (direct == nullptr || direct->orphaned.load(std::memory_order_relaxed)) {
      return nullptr;
    }
    return &keeping.direct_key;
  }

  // Takes the OS lock on the kept file for the calling thread, as acquire()
  // does, without locating the file (the group's lock_kept()). Requires:
  // kept_key(keeping) returned a key in this thread.
  DREADLOCKS_INLINE_STEP static hold lock_kept(kept& keeping,
                                               const lock_request& request) {
    const detail::thread_tag self = detail::this_thread_tag();
    return hold{registry::template lock_kept<Primitive>(
                    *keeping.direct.load(std::memory_order_relaxed), request,
                    self),
                self, request.shared};
  }
};

// Compiled on Windows; read by Doxygen everywhere (DREADLOCKS_DOXYGEN).
#if defined(_WIN32) || defined(DREADLOCKS_DOXYGEN)
// windows_process_lock
//
// Locks the whole 64-bit range of the lock file with a LockFileEx lock
// (lockfileex_primitive), shared or exclusive. Such a lock belongs to the
// handle, and is mandatory for I/O: other handles may not read or write
// the file while it is held exclusively, nor write it while it is held
// shared (docs/primitives.md).
struct windows_process_lock : file_process_lock<lockfileex_primitive> {};
#endif

#if !defined(_WIN32)

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
#endif  // !defined(_WIN32)

// no_process_lock
//
// Grants every request at once and opens no file: processes are not
// excluded. The process level of thread_level_path_lock, and a stand-in for
// tests that must not touch the file system.
struct no_process_lock {
  // The file-backed policies' handle type: a HANDLE on Windows, an int
  // elsewhere.
#if defined(_WIN32)
  using native_handle_type = void*;
#else
  using native_handle_type = int;
#endif
  // Opens nothing, so its keys (and the thread level's beside it) stay
  // lexical: `dir/../lock` is `lock`, without asking the file system.
  static constexpr key_form keys = key_form::lexical;
  struct hold {};
  static hold acquire(const lock_request&) noexcept { return {}; }
  static void release(hold&) noexcept {}
  // Returns no handle (-1, nullptr on Windows): there is no file.
  static native_handle_type native_handle(const hold&) noexcept {
#if defined(_WIN32)
    return nullptr;
#else
    return -1;
#endif
  }
};

}  // namespace dreadlocks

#endif  // DREADLOCKS_PROCESS_POLICIES_HPP_
