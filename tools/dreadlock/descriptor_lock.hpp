// tools/dreadlock/descriptor_lock.hpp
//
// Locking one descriptor with the kinds of lock dreadlock takes: by default
// a flock(2) lock (what util-linux flock(1) takes) AND an OFD lock (what
// dreadlocks::path_lock takes), so that dreadlock excludes and is excluded
// by both; with --fcntl only the OFD lock, over a byte range if asked.
// Both kinds belong to the open file description, so a lock taken on an
// inherited descriptor outlives dreadlock (the descriptor form).
//
// Taking both without deadlock and without holding one while waiting for
// the other (docs/dreadlock.md, "Mixed company"): any OFD lock the
// descriptor holds is dropped (a conversion, as flock(2) converts), then
// flock(2) is taken, then the OFD lock without waiting; if that is refused,
// the flock(2) lock is released and the wait is on the refused kind alone,
// after which the other is again tried without waiting. A wait never
// happens while one of the two is held.

#ifndef DREADLOCKS_TOOLS_DREADLOCK_DESCRIPTOR_LOCK_HPP_
#define DREADLOCKS_TOOLS_DREADLOCK_DESCRIPTOR_LOCK_HPP_

#include <sys/types.h>

#include <chrono>
#include <optional>

namespace dreadlock_cli {

// What to do with the descriptor's lock.
struct lock_request {
  enum class mode { shared, exclusive, unlock };
  mode wanted = mode::exclusive;
  bool fcntl_only = false;  // --fcntl: the OFD lock alone
  off_t start = 0;          // --start (with fcntl_only)
  off_t length = 0;         // --length; 0: to the end of the file
  bool nonblock = false;    // -n, -w 0
  // -w: how long to wait at most; unset waits for ever.
  std::optional<std::chrono::nanoseconds> timeout;
};

// How a lock_descriptor() call ended.
struct lock_outcome {
  enum class status { acquired, conflict, timed_out, failed };
  status result = status::acquired;
  int error = 0;  // errno for `failed`
  // For a --fcntl lock the descriptor's access mode cannot take (EBADF),
  // why, in words; nullptr otherwise.
  const char* access_note = nullptr;
};

// lock_descriptor()
//
// Locks (or with mode::unlock, unlocks) `fd` as `request` says, waiting in
// the kernel unless nonblock; a timeout interrupts the wait (SIGALRM, as
// flock(1) does). The kernel ties record locks to the access mode, flock(2)
// locks to nothing: on a read-only descriptor an exclusive request takes
// the flock(2) lock exclusive and the OFD lock shared (the most it allows),
// on a write-only one a shared request takes the flock(2) lock alone; with
// fcntl_only both fail with an access_note. Returns acquired,
// conflict (-n), timed_out (-w) or failed with the errno; never leaves
// one kind held when it does not return acquired, except a lock `fd` held
// before the call that a refused conversion gave up (flock(2) converts by
// unlocking first).
lock_outcome lock_descriptor(int fd, const lock_request& request);

}  // namespace dreadlock_cli

#endif  // DREADLOCKS_TOOLS_DREADLOCK_DESCRIPTOR_LOCK_HPP_
