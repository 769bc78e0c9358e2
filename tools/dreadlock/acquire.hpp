// tools/dreadlock/acquire.hpp
//
// Taking the lock the options ask for, on PATH (opened as the library opens
// lock files, SPEC §2) or on an inherited descriptor, and turning every way
// that can fail into an exit status and (except a plain conflict) a
// one-line message.

#ifndef DREADLOCKS_TOOLS_DREADLOCK_ACQUIRE_HPP_
#define DREADLOCKS_TOOLS_DREADLOCK_ACQUIRE_HPP_

#include "tools/dreadlock/descriptor_lock.hpp"
#include "tools/dreadlock/options.hpp"

namespace dreadlock_cli {

// What acquire() came to: the locked descriptor, or the exit status to end
// with (descriptor -1).
struct acquisition {
  int descriptor = -1;
  bool opened = false;  // true: dreadlock opened PATH (close-on-exec)
  int exit_code = 0;
};

// lock_request_for()
//
// The lock_request the options ask for (-s/-x/-u, --fcntl, --start,
// --length, -n, -w; -w 0 is -n).
lock_request lock_request_for(const options& options);

// acquire()
//
// Opens options.path (or takes options.descriptor) and locks it as the
// options ask. On a conflict or a timeout, returns options.conflict_exit_code,
// silently as flock(1) (with --verbose, flock(1)'s line). On an OS error, a
// bad path or a descriptor that is not open, prints "dreadlock: cannot lock
// "PATH": REASON" (or flock(1)'s "dreadlock: N: Bad file descriptor") to
// stderr and returns the matching exit status, with nothing left open.
// With --verbose, reports how long getting the lock took.
acquisition acquire(const options& options);

}  // namespace dreadlock_cli

#endif  // DREADLOCKS_TOOLS_DREADLOCK_ACQUIRE_HPP_
