// tools/dreadlock/holders_command.hpp
//
// `dreadlock [options] --holders PATH`: prints the holders table and
// answers, through the exit status, whether the lock could be had now.

#ifndef DREADLOCKS_TOOLS_DREADLOCK_HOLDERS_COMMAND_HPP_
#define DREADLOCKS_TOOLS_DREADLOCK_HOLDERS_COMMAND_HPP_

#include <string>

#include "tools/dreadlock/holders.hpp"
#include "tools/dreadlock/options.hpp"

namespace dreadlock_cli {

// Formats the table: a header, then one line per holder,
//   PID     STATE  MODE       KIND   FD    COMMAND
//   4242    holds  exclusive  ofd    3,4   dreadlock /tmp/demo.lock sleep 9
// or "" when no process has the file open.
std::string format_holders(const holders_report& report);

// run_holders()
//
// Prints format_holders() for options.path to stdout. Returns 0 when a
// lock in the requested mode (-s or exclusive) could be granted now, else
// options.conflict_exit_code; on an OS error prints a one-line message and
// returns its exit status.
int run_holders(const options& options);

}  // namespace dreadlock_cli

#endif  // DREADLOCKS_TOOLS_DREADLOCK_HOLDERS_COMMAND_HPP_
