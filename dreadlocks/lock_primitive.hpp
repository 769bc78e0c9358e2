// dreadlocks/lock_primitive.hpp
//
// LockPrimitive: the OS lock a file-backed ProcessPolicy is generic over
// (file_process_lock<Primitive> in dreadlocks/process_policies.hpp). A
// primitive says how to open a resource, how to tell that two names reach
// one resource, and how to set, change and clear the process's lock on it.
// Everything else (one handle per resource, the threads of the process
// sharing its lock, who waits in the kernel and who waits for them, fork,
// errors) is the registry's, written once for every primitive
// (docs/architecture.md; a walkthrough in docs/primitives.md).
//
// Required members of a primitive P:
//   typename P::native_handle_type
//     What keeps one resource open: a descriptor for the POSIX primitives.
//     Copyable, cheap; native_handle() of a guard returns it.
//   static constexpr native_handle_type P::invalid_handle;
//   typename P::resource_id, typename P::resource_id_hash
//     What names one resource however it is spelled ((device, inode) for a
//     file), equality-comparable, and its hash. Primitives with the same
//     handle, id and hash types share one registry: they cooperate on one
//     resource, whichever opened it.
//   static native_handle_type P::open(const lock_key& key,
//                                     open_failure& failure) noexcept;
//     Opens the resource `key` names (key.c_str() is the path as opened,
//     dreadlocks/lock_key.hpp), creating it if it should be. Returns
//     invalid_handle with `failure` set when it cannot.
//   static bool P::identify(native_handle_type handle, resource_id& id,
//                           os_error& error) noexcept;
//     Sets `id` to the open resource's identity; false with `error` set
//     when it cannot be read.
//   static bool P::identify(const lock_key& key, resource_id& id) noexcept;
//     Sets `id` to the identity of the resource `key` names, without
//     opening it; false when it cannot tell (not created yet). The registry
//     asks it before opening a new spelling while it holds other resources,
//     so that it never opens a second handle to one it holds.
//   static lock_result P::set(native_handle_type handle, primitive_mode from,
//                             primitive_mode to, bool wait) noexcept;
//     Changes the process's lock through `handle` from `from` (what it holds
//     now) to `to`; primitive_mode::none unlocks. Without `wait`, never
//     blocks: would_block when another process holds a conflicting lock.
//     With `wait`, blocks until granted (retrying EINTR). Lowering a lock
//     (to shared or none) must not block. On anything but `acquired` the
//     process still holds `from`; a primitive that cannot promise it says
//     so in its comment (flock_primitive's upgrade). `unsupported` makes
//     the registry switch this resource to P::fallback, if P has one, and
//     ask again.
//   static void P::close(native_handle_type handle) noexcept;
//   static constexpr bool P::closing_any_releases;
//     True when closing any handle of a resource releases the process's
//     lock on it (classic fcntl locks): the registry then keeps a handle it
//     opened by mistake to a resource it holds, instead of closing it, until
//     the resource is closed.
//
// Optional:
//   static constexpr bool P::idle_handles_reusable;
//     True when the registry may keep a handle open, unlocked, after the
//     last hold on its resource is released, and lock through it again
//     for a request whose identify(key) still gives the identity the
//     handle has open (a resource deleted or replaced since is opened
//     anew). Only where closing a handle releases nothing but its own locks
//     (closing_any_releases false) and identify(key) costs less than
//     open() and close(). Such handles are bounded and closed by
//     dreadlocks::close_idle_lock_files(). Absent: false.
//   static lock_result P::set_until(native_handle_type handle,
//                                   primitive_mode from, primitive_mode to,
//                                   primitive_deadline deadline) noexcept;
//     Raises the lock through `handle` from `from` to `to`, waiting in the
//     kernel at most until `deadline`; the same results and guarantees as
//     set() with `wait`, and would_block once the deadline has passed. It
//     may return would_block earlier when it cannot wait here (the registry
//     then pauses and asks again). Without it, a timed request polls: the
//     registry asks set() without waiting, with pauses of 1 to 16 ms.
//   typename P::fallback
//     A primitive with the same handle, id and hash types, used for a
//     resource on which set() returned `unsupported` (and for every resource
//     opened after that, in this process).
//
// file_process_lock<P> checks these, one requirement at a time, in this
// order: its first error names the first member P lacks or gets wrong
// ("dreadlocks: LockPrimitive must provide set: ...";
// detail/primitive_check.hpp).
//
// The registry calls these under its mutex, except a set() with `wait` and
// set_until(), which it calls without (so a primitive must tolerate set() on one handle
// from two threads: a waiting one, and one that lowers the lock or asks
// without waiting; the registry asks nothing that would undo the waiting
// request's grant).
//
// Shipped (dreadlocks/posix_primitives.hpp): ofd_primitive,
// fcntl_primitive, flock_primitive; on Windows
// (dreadlocks/windows_primitives.hpp): lockfileex_primitive.

#ifndef DREADLOCKS_LOCK_PRIMITIVE_HPP_
#define DREADLOCKS_LOCK_PRIMITIVE_HPP_

#include <chrono>
#include <cstdint>
#include <system_error>

namespace dreadlocks {

// primitive_deadline
//
// When a primitive's set_until() stops waiting: a point on the steady clock,
// the clock every deadline of the library is read on.
using primitive_deadline = std::chrono::steady_clock::time_point;

// primitive_mode
//
// The lock a process holds on a resource through a primitive, ordered by
// strength.
enum class primitive_mode : std::uint8_t { none, shared, exclusive };

// lock_status
//
// What a primitive's set() came to: granted; refused because another
// process holds a conflicting lock (only without waiting); refused because
// waiting would deadlock (as the kernel detects for classic locks); not
// supported here (the registry falls back, see P::fallback); or failed.
enum class lock_status : std::uint8_t {
  acquired,
  would_block,
  deadlock,
  unsupported,
  failed
};

// os_error
//
// An OS error number and its category. Made without a call, unlike a
// std::error_code (whose default constructor calls std::system_category()):
// a lock that succeeds pays nothing for the error it does not have.
struct os_error {
  // The error number, in `category`; 0 for no error.
  int value = 0;

  // nullptr: std::generic_category() (errno values).
  const std::error_category* category = nullptr;

  // code()
  //
  // Returns the error as a std::error_code.
  std::error_code code() const {
    return std::error_code(
        value, category != nullptr ? *category : std::generic_category());
  }
};

// lock_result
//
// A status and, for anything but `acquired`, the OS error behind it.
struct lock_result {
  // What set() came to.
  lock_status status;

  // The OS error behind any status but `acquired`: the std::system_error the
  // registry throws for `failed` (or `unsupported` with no fallback) carries
  // it.
  os_error error{};
};

// open_failure
//
// Why a primitive's open() failed: the OS error and, where the error alone
// would mislead, a note the registry puts after the path in parentheses
// (for example "a dangling symlink; its target is not created").
struct open_failure {
  // The OS error that stopped open(): the std::system_error the registry
  // throws carries it.
  os_error error{};

  // The text the registry's message adds after the path, in parentheses;
  // nullptr for none.
  const char* note = nullptr;
};

}  // namespace dreadlocks

#endif  // DREADLOCKS_LOCK_PRIMITIVE_HPP_
