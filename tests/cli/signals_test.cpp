// tests/cli/signals_test.cpp
//
// Signals sent to dreadlock while its command runs are passed on to the
// command; dreadlock then exits with the command's status (128+N if it
// died of it), and the lock is released however the command ended.

#define BOOST_TEST_MODULE dreadlock signals
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "tests/cli/cli_support.hpp"
#include "tests/support/nothing_left_behind.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using namespace cli_test;

// Starts `dreadlock [options] LOCK -c SCRIPT` where SCRIPT reports its pid
// and waits; returns once the command runs.
struct running_command {
  explicit running_command(
      const fs::path& lock, std::vector<std::string> options = {},
      const std::string& script = participant::pid_script())
      : run(with(std::move(options), lock, script), command.descriptors()) {
    const auto line = command.next_report();
    BOOST_REQUIRE_MESSAGE(line, run.describe());
    pid = std::stol(*line);
  }
  static std::vector<std::string> with(std::vector<std::string> options,
                                       const fs::path& lock,
                                       const std::string& script) {
    options.insert(options.end(), {lock.string(), "-c", script});
    return options;
  }
  participant command;
  dreadlock_process run;
  pid_t pid = -1;
};

BOOST_AUTO_TEST_CASE(signals_are_forwarded_and_the_lock_released) {
  dreadlocks_test::watchdog dog(60s);
  for (const auto& [name, number] :
       std::vector<std::pair<std::string, int>>{{"SIGTERM", SIGTERM},
                                                {"SIGINT", SIGINT},
                                                {"SIGHUP", SIGHUP},
                                                {"SIGQUIT", SIGQUIT},
                                                {"SIGUSR1", SIGUSR1}}) {
    for (const bool close : {false, true}) {
      BOOST_TEST_CONTEXT(name << (close ? " with -o" : "")) {
        const fs::path lock = dreadlocks_test::unique_path("forward");
        running_command running(lock, close ? std::vector<std::string>{"-o"}
                                            : std::vector<std::string>{});
        BOOST_TEST(!lock_is_free(lock));
        running.run.kill(number);
        // The command was never released: it ended by the signal, and
        // dreadlock, which was not killed, reports it as 128 + N.
        const auto status = running.run.wait();
        BOOST_TEST(status.exited_with(128 + number), running.run.describe());
        BOOST_TEST(lock_is_free(lock));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_command_that_handles_the_signal_decides_the_status) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("trap");
  const fs::path log = dreadlocks_test::unique_path("trap-log");
  // dash runs a trap between commands, so the command waits in short
  // steps; the test's own wait is the pipe, not a sleep.
  running_command running(
      lock, {},
      "trap 'echo got TERM >> " + quoted(log.string()) +
          "; exit 5' TERM; echo $$ >&5; while :; do sleep 0.01; done");
  running.run.kill(SIGTERM);
  const auto status = running.run.wait();
  BOOST_TEST(status.exited_with(5), running.run.describe());
  BOOST_TEST(read_file(log) == "got TERM\n");
  BOOST_TEST(lock_is_free(lock));
}

BOOST_AUTO_TEST_CASE(lock_released_when_the_command_is_killed) {
  dreadlocks_test::watchdog dog(30s);
  for (const bool close : {false, true}) {
    const fs::path lock = dreadlocks_test::unique_path("killed");
    running_command running(lock, close ? std::vector<std::string>{"-o"}
                                        : std::vector<std::string>{});
    BOOST_REQUIRE(::kill(running.pid, SIGKILL) == 0);
    const auto status = running.run.wait();
    BOOST_TEST(status.exited_with(128 + SIGKILL), running.run.describe());
    BOOST_TEST(lock_is_free(lock));
  }
}

BOOST_AUTO_TEST_CASE(a_waiting_dreadlock_dies_of_the_signal_without_running) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("waiting");
  const fs::path trace = dreadlocks_test::unique_path("trace");
  running_command holder(lock);
  dreadlock_process waiter(
      {lock.string(), "-c", "echo ran > " + quoted(trace.string())});
  BOOST_REQUIRE(eventually([&] { return kernel_waiters(lock) == 1; }));
  waiter.kill(SIGTERM);
  const auto status = waiter.wait();
  BOOST_TEST(status.killed_by(SIGTERM), waiter.describe());
  holder.command.release();
  const auto holder_status = holder.run.wait();
  BOOST_TEST(holder_status.exited_with(0), holder.run.describe());
  BOOST_TEST(!fs::exists(trace));
  BOOST_TEST(lock_is_free(lock));
}

// Returns the state letter of /proc/PID/stat ('T' for stopped).
char process_state(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto end_of_name = stat.rfind(')');
  return end_of_name == std::string::npos || end_of_name + 2 >= stat.size()
             ? '?'
             : stat[end_of_name + 2];
}

// Ctrl-C on a terminal sends SIGINT to the whole foreground process group,
// which holds dreadlock and its command: the command gets it from the
// terminal, and dreadlock must not pass on a second one. dreadlock is
// stopped while Ctrl-C is typed, so that a second SIGINT, if it came,
// would arrive after the command handled the first (instead of merging
// with it); a SIGTERM sent to dreadlock afterwards is passed on after any
// SIGINT it had pending, and ends the command.
BOOST_AUTO_TEST_CASE(terminal_interrupt_reaches_the_command_once) {
  dreadlocks_test::watchdog dog(30s);
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  BOOST_REQUIRE(master >= 0);
  BOOST_REQUIRE(::grantpt(master) == 0 && ::unlockpt(master) == 0);
  const fs::path terminal = ::ptsname(master);
  const fs::path lock = dreadlocks_test::unique_path("terminal");
  const fs::path log = dreadlocks_test::unique_path("terminal-log");
  const std::string to_log = " >> " + quoted(log.string());
  participant command;
  dreadlock_process run(
      {lock.string(), "-c",
       "trap 'echo INT" + to_log + "' INT; trap 'echo TERM" + to_log +
           "; exit 0' TERM; echo ready >&5; while :; do sleep 0.01; done"},
      command.descriptors(), {}, terminal);
  BOOST_REQUIRE_MESSAGE(command.wait_ready(), run.describe());

  run.kill(SIGSTOP);
  BOOST_REQUIRE(eventually([&] { return process_state(run.pid()) == 'T'; }));
  BOOST_REQUIRE(::write(master, "\x03", 1) == 1);  // Ctrl-C
  BOOST_REQUIRE(eventually([&] { return read_file(log) == "INT\n"; }));
  run.kill(SIGCONT);
  run.kill(SIGTERM);
  const auto status = run.wait();
  BOOST_TEST(status.exited_with(0), run.describe());
  BOOST_TEST(read_file(log) == "INT\nTERM\n");
  ::close(master);
}

}  // namespace
