// tools/dreadlock/holders.hpp
//
// Which processes hold or wait for the lock on a file, from Linux's /proc:
// /proc/locks lists every lock on the file (with the pid for classic POSIX
// and flock locks, without it for OFD locks), and /proc/PID/fdinfo/FD lists
// the locks granted through each descriptor, which names the processes
// holding an OFD lock, including every process that inherited the
// descriptor.

#ifndef DREADLOCKS_TOOLS_DREADLOCK_HOLDERS_HPP_
#define DREADLOCKS_TOOLS_DREADLOCK_HOLDERS_HPP_

#include <optional>
#include <string>
#include <vector>

#include "tools/dreadlock/proc_lock_line.hpp"

namespace dreadlock_cli {

// What a process does with the lock file.
enum class holder_state {
  holds,  // holds a lock on it
  waits,  // is blocked asking for one
  open,   // has it open without either: about to lock, just unlocked, or
          // between the two kinds dreadlock takes
};

struct holder {
  long pid = -1;  // -1: a lock whose process this user cannot see
  holder_state state = holder_state::holds;
  std::optional<lock_family> family;  // unset for `open`
  std::optional<bool> exclusive;      // unset for `open`, or not readable
  std::vector<int> descriptors;       // the process's descriptors of the file
  std::string command;                // from /proc/PID/cmdline
};

struct holders_report {
  std::vector<holder> holders;  // holds, then waits, then open; by pid
  // Whether a granted OFD or POSIX lock (the families that exclude
  // dreadlock) would refuse a shared / an exclusive request now.
  bool refuses_shared = false;
  bool refuses_exclusive = false;
};

// find_holders()
//
// Reports on the file `path` names (symlinks followed). A missing file is
// free. Throws std::system_error naming the path if it cannot be stat'ed
// for another reason, or if /proc cannot be read (or on a system without
// it).
holders_report find_holders(const std::string& path);

// Returns "holds", "waits" or "open".
const char* to_string(holder_state state) noexcept;

}  // namespace dreadlock_cli

#endif  // DREADLOCKS_TOOLS_DREADLOCK_HOLDERS_HPP_
