// tools/dreadlock/acquire_windows.hpp
//
// dreadlock.exe's lock (Windows): taking the lock the options ask for with
// the library's path_lock, and turning every way that can fail into an exit
// status and (except a plain conflict) a one-line message. The POSIX build
// (acquire.hpp) locks a descriptor with flock(2) and OFD locks instead, to
// meet flock(1), which Windows has neither of.

#ifndef DREADLOCKS_TOOLS_DREADLOCK_ACQUIRE_WINDOWS_HPP_
#define DREADLOCKS_TOOLS_DREADLOCK_ACQUIRE_WINDOWS_HPP_

#include <optional>

#include "dreadlocks/dreadlocks.hpp"
#include "tools/dreadlock/options.hpp"

namespace dreadlock_cli {

// The lock dreadlock holds: the process level only, as dreadlock has one
// thread that locks.
using held_lock = dreadlocks::process_level_path_lock;

// What acquire() came to: the held lock, or the exit status to end with.
struct acquisition {
  std::optional<held_lock> lock;
  int exit_code = 0;
};

// acquire()
//
// Locks options.path as options ask (-s, -n, -w). On a conflict, returns
// options.conflict_exit_code, silently as flock(1) (with --verbose, a line
// saying so). On an OS error or a bad path, prints "dreadlock: cannot lock
// "PATH": REASON" to stderr and returns the matching exit status. With
// --verbose, reports how long getting the lock took.
acquisition acquire(const options& options);

}  // namespace dreadlock_cli

#endif  // DREADLOCKS_TOOLS_DREADLOCK_ACQUIRE_WINDOWS_HPP_
