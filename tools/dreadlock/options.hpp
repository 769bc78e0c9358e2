// tools/dreadlock/options.hpp
//
// The command line of `dreadlock`, parsed without getopt so that parsing
// stops at PATH on every platform (the command's own options are never
// taken as ours) and so that the parser is a pure, testable function.
//
//   dreadlock [options] PATH COMMAND [ARGS...]
//   dreadlock [options] PATH -c 'shell command'
//   dreadlock [options] NUMBER              (lock inherited descriptor NUMBER)
//   dreadlock [options] --fd NUMBER COMMAND [ARGS...]
//   dreadlock [options] --holders PATH
//   dreadlock -h | -V

#ifndef DREADLOCKS_TOOLS_DREADLOCK_OPTIONS_HPP_
#define DREADLOCKS_TOOLS_DREADLOCK_OPTIONS_HPP_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tools/dreadlock/exit_codes.hpp"

namespace dreadlock_cli {

// What the invocation asks for.
enum class action { run, holders, help, version };

struct options {
  action what = action::run;
  bool shared = false;    // -s; -x sets it back
  bool nonblock = false;  // -n (and -w 0)
  // -w: how long to wait; unset waits for ever (and so does a -w longer
  // than about 31 years).
  std::optional<std::chrono::nanoseconds> timeout;
  int conflict_exit_code = default_conflict_exit;  // -E
  bool close_lock_descriptor = false;              // -o
  bool verbose = false;                            // --verbose
  bool unlock = false;                             // -u
  bool no_fork = false;                            // -F
  bool fcntl_only = false;                         // --fcntl
  off_t start = 0;                                 // --start
  off_t length = 0;  // --length; 0: to the end of the file
  // The descriptor to lock (NUMBER, or --fd NUMBER), -1 for PATH.
  int descriptor = -1;
  std::string path;  // PATH, or NUMBER as typed
  // The command's argv, or with `shell` the one string for `sh -c`.
  std::vector<std::string> command;
  bool shell = false;  // -c/--command after PATH
};

// Thrown for a bad command line; what() is one line without a prefix.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// parse_options()
//
// Parses the arguments after argv[0]. -h and -V end parsing at once. A
// lone NUMBER with no command (or --fd NUMBER) is the descriptor form;
// NUMBER followed by a command is a file name, as with flock(1).
// Throws usage_error for an unknown option, a missing or bad option value,
// a missing PATH or command, -c misplaced or without exactly one string,
// -F with -o, or --start/--length without --fcntl.
options parse_options(const std::vector<std::string>& args);

// parse_seconds()
//
// Parses a -w value: a non-negative decimal number of seconds, fractions
// and exponents allowed ("0.2", "5", "1e-3"). Returns nullopt for a value
// too large to matter (over 1e9 s: wait for ever). Throws usage_error for
// anything else (negative, "inf", "nan", trailing text).
std::optional<std::chrono::nanoseconds> parse_seconds(std::string_view text);

}  // namespace dreadlock_cli

#endif  // DREADLOCKS_TOOLS_DREADLOCK_OPTIONS_HPP_
