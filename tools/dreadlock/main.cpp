// tools/dreadlock/main.cpp
//
// dreadlock: flock(1) on dreadlocks. Parses the command line, then either
// prints help, the version or the holders of a lock, or takes the lock and
// runs the command under it (dispatch.cpp holds what the Windows main
// shares). docs/dreadlock.md describes it all.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tools/dreadlock/acquire.hpp"
#include "tools/dreadlock/dispatch.hpp"
#include "tools/dreadlock/exit_codes.hpp"
#include "tools/dreadlock/holders_command.hpp"
#include "tools/dreadlock/options.hpp"
#include "tools/dreadlock/run_command.hpp"

namespace {

using namespace dreadlock_cli;

// Opens /dev/null on each of descriptors 0, 1 and 2 that is closed.
// Started with one closed (cron jobs and daemons often are), the next
// open() would land there: the lock file on 2 would take the messages meant
// for stderr, at offset 0 of the file. If /dev/null cannot be opened,
// carries on: the library never puts a lock file on 0-2 either.
void fill_standard_descriptors() {
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd) {
    if (::fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
    // open() returns the lowest free descriptor: `fd` itself, as the ones
    // below it are open by now. Anything else is not ours to keep.
    const int opened = ::open("/dev/null", O_RDWR | O_NOCTTY);
    if (opened >= 0 && opened != fd) ::close(opened);
    if (opened != fd) return;
  }
}

// `bazel run` starts a binary in its runfiles directory and says where the
// user was in BUILD_WORKING_DIRECTORY; go back there, so that a relative
// PATH and the command mean what the user typed.
void leave_bazel_runfiles() {
  const char* user_directory = std::getenv("BUILD_WORKING_DIRECTORY");
  char here[4096];
  if (user_directory == nullptr || ::getcwd(here, sizeof here) == nullptr ||
      std::strstr(here, "/dreadlock.runfiles") == nullptr) {
    return;
  }
  if (::chdir(user_directory) != 0) {
    std::fprintf(stderr, "dreadlock: cannot enter \"%s\": %s\n", user_directory,
                 std::strerror(errno));
  }
}

[[noreturn]] void exit_keeping_inherited_lock(int code) {
  // Ends without releasing: the kernel closes this process's descriptors,
  // and the flock(2) and OFD locks live on while a process that inherited
  // the descriptor from the command still has it open, as with flock(1).
  std::fflush(nullptr);
  ::_exit(code);
}

int lock_and_run(const options& options) {
  const acquisition acquired = acquire(options);
  if (acquired.descriptor < 0) return acquired.exit_code;
  // The descriptor form: the lock stays on the caller's open file
  // description after dreadlock exits.
  if (options.command.empty()) return 0;
  if (options.no_fork) exec_command(options, acquired.descriptor);
  if (options.close_lock_descriptor) {
    if (!acquired.opened) {
      // --fd -o: the command does not get the caller's descriptor either.
      ::fcntl(acquired.descriptor, F_SETFD, FD_CLOEXEC);
    }
    const int code = run_command(options, -1);
    if (acquired.opened) {
      // The command is over: release now, whatever it left running.
      lock_request release = lock_request_for(options);
      release.wanted = lock_request::mode::unlock;
      lock_descriptor(acquired.descriptor, release);
      ::close(acquired.descriptor);
    }
    return code;
  }
  if (!acquired.opened) {
    // --fd: the command inherits the caller's descriptor as it is.
    exit_keeping_inherited_lock(run_command(options, -1));
  }
  // The command inherits a duplicate of the lock's descriptor (made
  // inheritable in the child only).
  const int inherited = ::fcntl(acquired.descriptor, F_DUPFD_CLOEXEC, 3);
  if (inherited < 0) {
    std::fprintf(stderr, "dreadlock: cannot lock \"%s\": dup: %s\n",
                 options.path.c_str(), std::strerror(errno));
    return os_error_exit;
  }
  exit_keeping_inherited_lock(run_command(options, inherited));
}

// Returns the arguments after argv[0], the bytes as they came (the parser
// and the library take paths as bytes on POSIX).
std::vector<std::string> posix_arguments(int argc, char** argv) {
  return std::vector<std::string>(argv + 1, argv + argc);
}

}  // namespace

int main(int argc, char** argv) {
  fill_standard_descriptors();
  leave_bazel_runfiles();
  return dispatch(argc, argv,
                  {posix_arguments, "", run_holders, lock_and_run});
}
