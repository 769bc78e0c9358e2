// tools/dreadlock/exit_codes.hpp
//
// The exit statuses of `dreadlock` besides the command's own, chosen as
// flock(1) chooses them (sysexits.h) where flock(1) has one.

#ifndef DREADLOCKS_TOOLS_DREADLOCK_EXIT_CODES_HPP_
#define DREADLOCKS_TOOLS_DREADLOCK_EXIT_CODES_HPP_

#include <system_error>

namespace dreadlock_cli {

// The lock was held in a conflicting mode and -n/-w gave up; -E changes it.
inline constexpr int default_conflict_exit = 1;
// Bad options or arguments (EX_USAGE, as flock(1)).
inline constexpr int usage_exit = 64;
// The descriptor of the descriptor form is not open (EX_DATAERR, as
// flock(1)).
inline constexpr int data_error_exit = 65;
// The lock file cannot be opened: missing parent, no permission to read
// it, a symlink loop, a too-long or empty path; or --fcntl asks a lock the
// descriptor's access mode cannot take (EX_NOINPUT, as flock(1)).
inline constexpr int cannot_open_exit = 66;
// Any other OS failure: out of descriptors or memory, no locks left, fork
// failed, /proc unreadable (EX_OSERR, as flock(1)).
inline constexpr int os_error_exit = 71;
// The lock file cannot be created: read-only file system, no space
// (EX_CANTCREAT, as flock(1)).
inline constexpr int cannot_create_exit = 73;
// The command was found but cannot be executed (as sh(1) and env(1)).
inline constexpr int cannot_execute_exit = 126;
// The command was not found (as sh(1) and env(1)).
inline constexpr int command_not_found_exit = 127;
// The command died of signal N: 128 + N (as flock(1) and the shells).
inline constexpr int signal_exit_base = 128;

// Returns the exit status for an OS error met while opening or locking the
// lock file: cannot_create_exit, os_error_exit or cannot_open_exit.
int exit_code_for_lock_error(const std::error_code& error) noexcept;

}  // namespace dreadlock_cli

#endif  // DREADLOCKS_TOOLS_DREADLOCK_EXIT_CODES_HPP_
