// tools/dreadlock/lock_wait_probe.hpp
//
// Telling whether a process is blocked in a lock request on one of its
// descriptors, from /proc/PID/task/TID/syscall (Linux): the fdinfo of a
// descriptor lists only granted locks, and /proc/locks gives no pid for a
// waiting OFD request. Reading another process's syscall needs the right to
// ptrace it (root, or the same user unless Yama restricts it).

#ifndef DREADLOCKS_TOOLS_DREADLOCK_LOCK_WAIT_PROBE_HPP_
#define DREADLOCKS_TOOLS_DREADLOCK_LOCK_WAIT_PROBE_HPP_

#include <array>
#include <optional>
#include <string_view>

#include "tools/dreadlock/proc_lock_line.hpp"

namespace dreadlock_cli {

// A line of /proc/PID/syscall for a thread blocked in a system call:
// "NR ARG0 ... ARG5 SP PC", the arguments in hex.
struct syscall_line {
  long number = -1;
  std::array<unsigned long long, 6> args{};
};

// Parses such a line; nullopt for "running", "-1 SP PC" and anything else.
std::optional<syscall_line> parse_syscall_line(std::string_view line);

struct lock_wait {
  enum class state {
    none,     // no thread of the process waits for a lock on the descriptor
    waiting,  // one does (family, and mode if it could be read)
    unknown,  // the process's system calls cannot be read
  };
  state what = state::none;
  lock_family family = lock_family::ofd;
  std::optional<bool> exclusive;
};

// probe_lock_wait()
//
// Looks for a thread of `pid` blocked in fcntl(fd, F_OFD_SETLKW/F_SETLKW)
// or flock(fd) without LOCK_NB. The mode of an fcntl request is read from
// the process's memory (/proc/PID/mem) when allowed.
lock_wait probe_lock_wait(long pid, int fd);

}  // namespace dreadlock_cli

#endif  // DREADLOCKS_TOOLS_DREADLOCK_LOCK_WAIT_PROBE_HPP_
