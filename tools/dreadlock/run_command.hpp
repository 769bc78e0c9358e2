// tools/dreadlock/run_command.hpp
//
// Running the command while the lock is held: fork, exec, pass signals on,
// and turn how it ended into dreadlock's exit status.

#ifndef DREADLOCKS_TOOLS_DREADLOCK_RUN_COMMAND_HPP_
#define DREADLOCKS_TOOLS_DREADLOCK_RUN_COMMAND_HPP_

#include "tools/dreadlock/options.hpp"

namespace dreadlock_cli {

// run_command()
//
// Runs options.command (or `$SHELL -c STRING` with -c, /bin/sh without
// SHELL) in a child process
// and waits for it, passing on the signals dreadlock receives
// (signal_forwarder). `inherited_lock` is a descriptor of the lock's open
// file description for the command to inherit, or -1 (-o): dreadlock
// makes it inheritable in the child only. Returns the command's exit
// status, 128+N if it died of signal N, 127/126 (with a message) if it
// could not be executed, or os_error_exit (with a message) if fork failed.
int run_command(const options& options, int inherited_lock);

// exec_command()
//
// -F/--no-fork: replaces dreadlock with the command, which keeps
// `lock_descriptor` (made inheritable; -1 for none) and so the lock. Does
// not return: if exec fails, prints why and exits 127 (not found) or 126.
[[noreturn]] void exec_command(const options& options, int lock_descriptor);

}  // namespace dreadlock_cli

#endif  // DREADLOCKS_TOOLS_DREADLOCK_RUN_COMMAND_HPP_
