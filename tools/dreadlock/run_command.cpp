// tools/dreadlock/run_command.cpp

#include "tools/dreadlock/run_command.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tools/dreadlock/exit_codes.hpp"
#include "tools/dreadlock/signal_forwarder.hpp"

namespace dreadlock_cli {

namespace {

// The shell for -c: $SHELL if set and not empty, else /bin/sh (as flock(1)).
std::string shell_for_command() {
  const char* shell = std::getenv("SHELL");
  return shell != nullptr && *shell != '\0' ? shell : "/bin/sh";
}

// The argv to exec; its strings live in `storage`.
std::vector<char*> command_argv(const options& options,
                                std::vector<std::string>& storage) {
  storage = options.shell ? std::vector<std::string>{shell_for_command(), "-c",
                                                     options.command.front()}
                          : options.command;
  std::vector<char*> argv;
  for (auto& argument : storage) argv.push_back(argument.data());
  argv.push_back(nullptr);
  return argv;
}

// A pipe whose ends close on exec: the child reports a failed exec through
// it; a successful exec closes it.
bool make_exec_report_pipe(int ends[2]) {
  if (::pipe(ends) != 0) return false;
  for (int i = 0; i < 2; ++i) ::fcntl(ends[i], F_SETFD, FD_CLOEXEC);
  return true;
}

[[noreturn]] void exec_in_child(const signal_forwarder& signals,
                                char* const* argv, int inherited_lock,
                                int report) {
  signals.restore_in_child();
  // The lock file's own descriptor closes on exec; the duplicate made for
  // the command stays, now inheritable.
  if (inherited_lock >= 0) ::fcntl(inherited_lock, F_SETFD, 0);
  ::execvp(argv[0], argv);
  const int error = errno;
  ssize_t written;
  do {
    written = ::write(report, &error, sizeof error);
  } while (written < 0 && errno == EINTR);
  ::_exit(error == ENOENT ? command_not_found_exit : cannot_execute_exit);
}

// Returns the errno of a failed exec, or 0 once the exec succeeded.
int read_exec_report(int report) {
  int error = 0;
  ssize_t got;
  do {
    got = ::read(report, &error, sizeof error);
  } while (got < 0 && errno == EINTR);
  ::close(report);
  return got == static_cast<ssize_t>(sizeof error) ? error : 0;
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return signal_exit_base + WTERMSIG(status);
  return os_error_exit;
}

}  // namespace

int run_command(const options& options, int inherited_lock) {
  std::vector<std::string> storage;
  const std::vector<char*> argv = command_argv(options, storage);
  const char* shown = argv[0];
  // On stdout, as flock(1) prints it.
  if (options.verbose) std::printf("dreadlock: executing %s\n", shown);

  int report[2];
  if (!make_exec_report_pipe(report)) {
    std::fprintf(stderr, "dreadlock: cannot run \"%s\": pipe: %s\n", shown,
                 std::strerror(errno));
    return os_error_exit;
  }
  signal_forwarder signals;
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child < 0) {
    const int error = errno;
    ::close(report[0]);
    ::close(report[1]);
    std::fprintf(stderr, "dreadlock: cannot run \"%s\": fork: %s\n", shown,
                 std::strerror(error));
    return os_error_exit;
  }
  if (child == 0) {
    ::close(report[0]);
    exec_in_child(signals, argv.data(), inherited_lock, report[1]);
  }
  ::close(report[1]);
  if (const int error = read_exec_report(report[0]); error != 0) {
    std::fprintf(stderr, "dreadlock: cannot execute \"%s\": %s\n", shown,
                 std::strerror(error));
  }
  const auto status = signals.wait_for(child);
  return status ? exit_code_of(*status) : os_error_exit;
}

void exec_command(const options& options, int lock_descriptor) {
  std::vector<std::string> storage;
  const std::vector<char*> argv = command_argv(options, storage);
  if (options.verbose) std::printf("dreadlock: executing %s\n", argv[0]);
  std::fflush(nullptr);
  if (lock_descriptor >= 0) ::fcntl(lock_descriptor, F_SETFD, 0);
  ::execvp(argv[0], argv.data());
  const int error = errno;
  std::fprintf(stderr, "dreadlock: cannot execute \"%s\": %s\n", argv[0],
               std::strerror(error));
  std::fflush(nullptr);
  ::_exit(error == ENOENT ? command_not_found_exit : cannot_execute_exit);
}

}  // namespace dreadlock_cli
