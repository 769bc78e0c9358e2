// dreadlocks/posix_primitives.hpp
//
// The LockPrimitives shipped for POSIX systems (the concept is in
// dreadlocks/lock_primitive.hpp). All three lock a lock file through one
// descriptor per file and share one registry, so that every policy and
// alias built on them cooperates on one file, whichever opened it: the
// file is locked with the primitive that opened it while this process
// keeps it open.
//
// The OS caveats, once:
// - The locks are advisory: they exclude only processes that lock the same
//   file; reading and writing it are never refused.
// - A classic fcntl lock (fcntl_primitive) belongs to the process: closing
//   any descriptor of the file, anywhere in the process, releases it. OFD
//   and flock(2) locks belong to the open file description, which the
//   registry keeps until the last lock on the file is released.
// - The three kinds do not see each other on Linux: an OFD or classic lock
//   does not exclude a flock(2) lock on the same file (except on NFS, where
//   Linux emulates flock(2) with fcntl locks). Processes that must exclude
//   each other use the same kind: flock_primitive to meet util-linux
//   flock(1), the default (OFD) to meet other dreadlocks users.

#ifndef DREADLOCKS_POSIX_PRIMITIVES_HPP_
#define DREADLOCKS_POSIX_PRIMITIVES_HPP_

#include <fcntl.h>

#include <system_error>

#include "dreadlocks/detail/attributes.hpp"
#include "dreadlocks/detail/posix_file.hpp"
#include "dreadlocks/lock_key.hpp"
#include "dreadlocks/lock_primitive.hpp"

namespace dreadlocks {

// posix_file_primitive
//
// What every descriptor-based primitive shares: opening the lock file
// (SPEC §2: without O_CREAT when it exists, with O_CREAT | O_EXCL when
// missing, never through a dangling symlink, O_CLOEXEC, never on
// descriptors 0-2; read-only where read-write is refused, which takes
// shared locks and flock(2) exclusive ones, docs/process-level.md), identifying it by (device, inode), closing it. A
// primitive of one's own derives from it and adds set() and the traits
// (docs/primitives.md).
struct posix_file_primitive {
  // A descriptor, -1 for none, and the file's (device, inode) with its hash:
  // the types of a LockPrimitive (dreadlocks/lock_primitive.hpp).
  using native_handle_type = int;
  static constexpr native_handle_type invalid_handle = -1;
  using resource_id = detail::file_id;
  using resource_id_hash = detail::file_id_hash;

  // Opens or creates the lock file `key` names, as above; a dangling symlink
  // fails with ENOENT and a note (LockPrimitive's open()).
  static native_handle_type open(const lock_key& key,
                                 open_failure& failure) noexcept {
    int error = 0;
    bool dangling = false;
    const int opened = detail::open_lock_file(key.c_str(), error, dangling);
    if (opened == invalid_handle) {
      failure.error = detail::posix_error(error);
      failure.note =
          dangling ? "a dangling symlink; its target is not created" : nullptr;
    }
    return opened;
  }

  // Reads the open file's (device, inode) with fstat(2), `error` set to the
  // errno value when it cannot (LockPrimitive's identify()).
  static bool identify(native_handle_type handle, resource_id& id,
                       os_error& error) noexcept {
    return detail::identify_file(handle, id, error.value);
  }

  // Reads the (device, inode) of the file `key` names with stat(2),
  // following symlinks; false when it cannot (LockPrimitive's identify()).
  static bool identify(const lock_key& key, resource_id& id) noexcept {
    int ignored = 0;
    return detail::identify_path(key.c_str(), id, ignored);
  }

  // Closes the descriptor, not retrying EINTR (LockPrimitive's close()).
  static void close(native_handle_type handle) noexcept {
    detail::close_file(handle);
  }
};

// fcntl_primitive
//
// Classic POSIX record locks over the whole file (F_SETLK, F_SETLKW). They
// belong to the process: closing any descriptor of the file releases them,
// which the registry never does while it holds the file. An upgrade that
// waits keeps the shared lock; the kernel refuses a wait that would close a
// cycle of waiting processes (recursive_deadlock_error).
struct fcntl_primitive : posix_file_primitive {
  // True: closing any descriptor of the file releases the process's classic
  // lock (LockPrimitive's closing_any_releases).
  static constexpr bool closing_any_releases = true;

  // Sets the classic lock to `to` with F_SETLK, or F_SETLKW with `wait`
  // (LockPrimitive's set()).
  DREADLOCKS_INLINE_STEP static lock_result set(native_handle_type handle,
                                                primitive_mode,
                                                primitive_mode to,
                                                bool wait) noexcept {
    return detail::set_record_lock(handle, false, to, wait);
  }
};

#if defined(F_OFD_SETLK)
// ofd_primitive
//
// Linux open-file-description locks over the whole file (F_OFD_SETLK,
// F_OFD_SETLKW, Linux >= 3.15): they belong to the descriptor's open file
// description, so closing another descriptor of the file does not release
// them. Where the kernel refuses them, the file (and every file opened
// after it) falls back to fcntl_primitive.
struct ofd_primitive : posix_file_primitive {
  // False: closing another descriptor of the file leaves an OFD lock alone
  // (LockPrimitive's closing_any_releases).
  static constexpr bool closing_any_releases = false;

  // True: a descriptor is kept open, unlocked, for the next lock on the
  // file while stat(2) of the path still finds the file it has open
  // (LockPrimitive's idle_handles_reusable).
  static constexpr bool idle_handles_reusable = true;

  // Classic locks, for a file on which the kernel refuses OFD locks and the
  // files opened after it (LockPrimitive's fallback).
  using fallback = fcntl_primitive;

  // Sets the OFD lock to `to` with F_OFD_SETLK, or F_OFD_SETLKW with `wait`;
  // `unsupported` when the kernel refuses it with EINVAL (LockPrimitive's
  // set()).
  DREADLOCKS_INLINE_STEP static lock_result set(native_handle_type handle,
                                                primitive_mode,
                                                primitive_mode to,
                                                bool wait) noexcept {
    return detail::set_record_lock(handle, true, to, wait);
  }

#if DREADLOCKS_HAS_TIMED_KERNEL_WAIT
  // Raises the OFD lock to `to`, waiting with F_OFD_SETLKW in a task that
  // shares the descriptor and is killed at `deadline`: no polling, no
  // signal (LockPrimitive's set_until(); detail/timed_kernel_wait.hpp).
  static lock_result set_until(native_handle_type handle,
                               primitive_mode from, primitive_mode to,
                               primitive_deadline deadline) noexcept {
    struct ::flock request = detail::whole_file_request(to);
    return detail::set_in_task_until(
        {SYS_fcntl, {handle, F_OFD_SETLKW, reinterpret_cast<long>(&request)}},
        deadline, [&] { return set(handle, from, to, false); });
  }
#endif
};
#endif

// flock_primitive
//
// BSD flock(2) locks, the ones util-linux flock(1) takes: a C++ program
// using it and a shell script using flock(1) on the same file exclude each
// other. They belong to the open file description, as OFD locks do. Unlike
// fcntl locks, flock(2) changes a lock's mode by removing it and then
// asking for the new one: an upgrade from shared to exclusive that must
// wait holds no lock while it waits (another process may take the file
// exclusively in between; this process's shared holders are then not
// excluded from it), and one refused without waiting is retaken shared at
// once (which another process can, rarely, win first: set() then returns
// `failed` with ENOLCK). Downgrades never conflict and keep the file
// locked. The kernel detects no deadlock between flock(2) waiters.
struct flock_primitive : posix_file_primitive {
  // False: closing another descriptor of the file leaves a flock(2) lock
  // alone (LockPrimitive's closing_any_releases).
  static constexpr bool closing_any_releases = false;

  // True, as for ofd_primitive (LockPrimitive's idle_handles_reusable).
  static constexpr bool idle_handles_reusable = true;

  // Sets the flock(2) lock to `to`, retaking the shared lock after a refused
  // or failed upgrade as above (LockPrimitive's set()).
  DREADLOCKS_INLINE_STEP static lock_result set(native_handle_type handle,
                                                primitive_mode from,
                                                primitive_mode to,
                                                bool wait) noexcept {
    const lock_result result = detail::set_flock(handle, to, wait);
    if (result.status == lock_status::acquired ||
        from != primitive_mode::shared || to != primitive_mode::exclusive) {
      return result;
    }
    // A refused or failed upgrade removed the shared lock: take it back.
    if (detail::set_flock(handle, primitive_mode::shared, false).status !=
        lock_status::acquired) {
      return {lock_status::failed, detail::posix_error(ENOLCK)};
    }
    return result;
  }

#if DREADLOCKS_HAS_TIMED_KERNEL_WAIT
  // Raises the flock(2) lock to `to`, waiting in a task that shares the
  // descriptor and is killed at `deadline`, as ofd_primitive does; an
  // upgrade that expires is retaken shared as set() does
  // (LockPrimitive's set_until()).
  static lock_result set_until(native_handle_type handle,
                               primitive_mode from, primitive_mode to,
                               primitive_deadline deadline) noexcept {
    const long operation = to == primitive_mode::shared ? LOCK_SH : LOCK_EX;
    return detail::set_in_task_until(
        {SYS_flock, {handle, operation, 0}}, deadline,
        [&] { return set(handle, from, to, false); });
  }
#endif
};

}  // namespace dreadlocks

#endif  // DREADLOCKS_POSIX_PRIMITIVES_HPP_
