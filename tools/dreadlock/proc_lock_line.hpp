// tools/dreadlock/proc_lock_line.hpp
//
// Parsing one lock line of Linux's /proc/locks or of a `lock:` line of
// /proc/PID/fdinfo/FD (the same format after the "lock:\t" prefix):
//
//   1: OFDLCK ADVISORY  WRITE -1 fe:00:10954117 0 EOF
//   2: POSIX  ADVISORY  READ 4321 08:01:123 0 EOF
//   3: FLOCK  ADVISORY  WRITE 777 08:01:123 0 EOF
//   3: -> OFDLCK ADVISORY  READ -1 fe:00:10954117 0 EOF     (a waiter)
//
// The pid is -1 for OFD locks (they belong to an open file description,
// not a process); the device is the file system's MAJOR:MINOR in hex.

#ifndef DREADLOCKS_TOOLS_DREADLOCK_PROC_LOCK_LINE_HPP_
#define DREADLOCKS_TOOLS_DREADLOCK_PROC_LOCK_LINE_HPP_

#include <optional>
#include <string>
#include <string_view>

namespace dreadlock_cli {

// The lock families Linux reports. dreadlock takes `ofd` (or `posix` where
// OFD locks are refused); flock(1) takes `flock`, which does not conflict
// with the other two on local file systems.
enum class lock_family { ofd, posix, flock };

struct proc_lock_line {
  lock_family family = lock_family::ofd;
  bool exclusive = false;  // WRITE; READ is shared
  bool waiting = false;    // "->": a request blocked behind a granted lock
  long pid = -1;           // -1 for OFD locks
  std::string device;      // "fe:00"
  unsigned long long inode = 0;
  std::string start;  // the byte range: "0" and "EOF" for a whole file
  std::string end;
};

// parse_proc_lock_line()
//
// Parses `line`, with or without the "lock:" prefix of fdinfo. Returns
// nullopt for leases, delegations and anything it does not recognise.
std::optional<proc_lock_line> parse_proc_lock_line(std::string_view line);

// Returns "ofd", "posix" or "flock".
const char* to_string(lock_family family) noexcept;

}  // namespace dreadlock_cli

#endif  // DREADLOCKS_TOOLS_DREADLOCK_PROC_LOCK_LINE_HPP_
