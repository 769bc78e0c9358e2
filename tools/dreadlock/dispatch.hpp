// tools/dreadlock/dispatch.hpp
//
// What dreadlock's two mains (main.cpp on POSIX, main_windows.cpp) share:
// reading the command line, printing the help or the version, and turning
// a bad command line or a failure into a message and an exit status. Each
// main says in a platform_actions what it does differently.

#ifndef DREADLOCKS_TOOLS_DREADLOCK_DISPATCH_HPP_
#define DREADLOCKS_TOOLS_DREADLOCK_DISPATCH_HPP_

#include <string>
#include <string_view>
#include <vector>

#include "tools/dreadlock/options.hpp"

namespace dreadlock_cli {

// platform_actions
//
// Names what a platform's dreadlock does its own way, for dispatch().
struct platform_actions {
  // Returns the arguments after argv[0], as UTF-8 (may throw).
  std::vector<std::string> (*arguments)(int argc, char** argv);
  // Printed after the common --help text; "" for nothing.
  std::string_view help_notes;
  // Runs --holders; returns the exit status.
  int (*holders)(const options& options);
  // Takes the lock and runs the command (or, on POSIX, keeps the lock on
  // the descriptor); returns the exit status.
  int (*lock_and_run)(const options& options);
};

// dispatch()
//
// Reads the command line through `platform.arguments`, parses it and does
// what it asks: prints the help text (then `platform.help_notes`) or the
// version and returns 0, or returns what `platform.holders` or
// `platform.lock_and_run` returns. On a bad command line prints
// "dreadlock: REASON (try 'dreadlock --help')" to stderr and returns
// usage_exit; on any other exception prints "dreadlock: WHAT" and returns
// os_error_exit. Throws nothing.
int dispatch(int argc, char** argv, const platform_actions& platform) noexcept;

}  // namespace dreadlock_cli

#endif  // DREADLOCKS_TOOLS_DREADLOCK_DISPATCH_HPP_
