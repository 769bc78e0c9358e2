// dreadlocks/windows_primitives.hpp
//
// The LockPrimitive shipped for Windows (the concept is in
// dreadlocks/lock_primitive.hpp): LockFileEx locks over the whole 64-bit
// range of the lock file, true shared and exclusive locks, through one
// HANDLE per file (detail/windows_file.hpp has the calls). Compiles to
// nothing but on Windows.
//
// The OS caveats, once (docs/primitives.md, "Windows"):
// - The locks are mandatory for I/O: while this process holds the file
//   exclusively, reading or writing it through any other handle (another
//   process's, or a second handle of this one) fails with
//   ERROR_LOCK_VIOLATION; while any process holds it shared, nobody may
//   write it, the holders included. Read and write the lock file through
//   native_handle() while holding it exclusively.
// - A lock belongs to the handle that took it: closing another handle of
//   the file releases nothing.
// - A waiting request polls: the registry's requests under its mutex
//   (os_lock_transitions.hpp, kEveryWaitPolls), set() with `wait` in
//   detail::lock_range(); a waiter learns of a release within 16 ms.

#ifndef DREADLOCKS_WINDOWS_PRIMITIVES_HPP_
#define DREADLOCKS_WINDOWS_PRIMITIVES_HPP_

// Compiled on Windows; read by Doxygen everywhere (DREADLOCKS_DOXYGEN).
#if defined(_WIN32) || defined(DREADLOCKS_DOXYGEN)

#include <system_error>

#include "dreadlocks/detail/windows_file.hpp"
#include "dreadlocks/lock_key.hpp"
#include "dreadlocks/lock_primitive.hpp"

namespace dreadlocks {

// windows_file_primitive
//
// What every HANDLE-based primitive shares: opening the lock file
// (CreateFileW with OPEN_ALWAYS, never truncated, shared with every other
// opener for reading, writing and deleting, not inherited by child
// processes; read-only where it may not be written), identifying it by
// (volume serial number, file index), closing it. A primitive of one's own
// derives from it and adds set() and the traits.
struct windows_file_primitive {
  // A HANDLE, nullptr for none, and the file's (volume, index) with its
  // hash: the types of a LockPrimitive (dreadlocks/lock_primitive.hpp).
  using native_handle_type = void*;
  static constexpr native_handle_type invalid_handle = nullptr;
  using resource_id = detail::file_id;
  using resource_id_hash = detail::file_id_hash;

  // Opens or creates the lock file `key` names, as above; a directory fails
  // with a note saying so (LockPrimitive's open()).
  static native_handle_type open(const lock_key& key,
                                 open_failure& failure) noexcept {
    unsigned long error = 0;
    const native_handle_type opened = detail::open_lock_file(key.c_str(), error);
    if (opened == invalid_handle) {
      failure.error = detail::windows_error(error);
      failure.note = detail::is_directory(key.c_str()) ? "a directory" : nullptr;
    }
    return opened;
  }

  // Reads the open file's (volume, index) with GetFileInformationByHandle
  // (LockPrimitive's identify()).
  static bool identify(native_handle_type handle, resource_id& id,
                       os_error& error) noexcept {
    unsigned long code = 0;
    if (detail::identify_file(handle, id, code)) return true;
    error = detail::windows_error(code);
    return false;
  }

  // Reads the (volume, index) of the file `key` names, following links;
  // false when it cannot (LockPrimitive's identify()).
  static bool identify(const lock_key& key, resource_id& id) noexcept {
    unsigned long ignored = 0;
    return detail::identify_path(key.c_str(), id, ignored);
  }

  // Closes the handle (LockPrimitive's close()).
  static void close(native_handle_type handle) noexcept {
    detail::close_file(handle);
  }
};

// lockfileex_primitive
//
// LockFileEx locks over the whole 64-bit range (offset 0, length 2^64-1),
// shared or exclusive; without waiting through LOCKFILE_FAIL_IMMEDIATELY
// (ERROR_LOCK_VIOLATION is "would block"). Windows cannot convert a lock in
// place, so a mode change is two calls, with these guarantees:
// - A downgrade (exclusive to shared) keeps the file locked throughout: it
//   takes the shared lock, which Windows lets overlap an exclusive one
//   taken through the same handle, then removes the exclusive one (an
//   unlock removes the exclusive lock of an overlapping pair first).
// - An upgrade (shared to exclusive) removes the shared lock first (an
//   exclusive lock may not overlap any other, even the same handle's), as
//   flock(2) does: one that must wait holds no lock while it waits
//   (another process may take the file exclusively in between; this
//   process's shared holders are then not excluded from it), and one
//   refused is retaken shared at once (which another process can, rarely,
//   win first: set() then returns `failed` with ERROR_LOCK_VIOLATION).
// A waiting request polls, as detail::lock_range() says.
struct lockfileex_primitive : windows_file_primitive {
  // False: a LockFileEx lock belongs to the handle that took it; closing
  // another handle of the file releases nothing (LockPrimitive's
  // closing_any_releases).
  static constexpr bool closing_any_releases = false;

  // Changes the lock from `from` to `to` as above (LockPrimitive's set()).
  static lock_result set(native_handle_type handle, primitive_mode from,
                         primitive_mode to, bool wait) noexcept {
    if (from == to) return {lock_status::acquired, {}};
    if (to == primitive_mode::none) return detail::unlock_range(handle);
    if (from == primitive_mode::none) {
      return detail::lock_range(handle, to, wait);
    }
    if (to == primitive_mode::shared) {  // a downgrade
      const lock_result shared =
          detail::try_lock_range(handle, primitive_mode::shared);
      if (shared.status != lock_status::acquired) return shared;
      return detail::unlock_range(handle);  // the exclusive one
    }
    // An upgrade.
    const lock_result removed = detail::unlock_range(handle);
    if (removed.status != lock_status::acquired) return removed;
    const lock_result result =
        detail::lock_range(handle, primitive_mode::exclusive, wait);
    if (result.status == lock_status::acquired) return result;
    if (detail::try_lock_range(handle, primitive_mode::shared).status !=
        lock_status::acquired) {
      return {lock_status::failed, detail::windows_error(ERROR_LOCK_VIOLATION)};
    }
    return result;
  }
};

}  // namespace dreadlocks

#endif  // defined(_WIN32) || defined(DREADLOCKS_DOXYGEN)

#endif  // DREADLOCKS_WINDOWS_PRIMITIVES_HPP_
