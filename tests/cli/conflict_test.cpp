// tests/cli/conflict_test.cpp
//
// When the lock is held: -n and -w 0 give up at once, -w S after S
// seconds, each with the conflict status (1, or -E N), without running the
// command and (as flock(1)) silently unless --verbose.

#define BOOST_TEST_MODULE dreadlock conflicts
#include <boost/test/unit_test.hpp>

#include "tests/cli/cli_support.hpp"
#include "tests/support/nothing_left_behind.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using namespace cli_test;

// Holds `path` (exclusive, or shared) in a dreadlock run for the life of
// the object.
class held_lock {
 public:
  explicit held_lock(const fs::path& path, bool shared = false)
      : run_(args(path, shared), holder_.descriptors()) {
    BOOST_REQUIRE_MESSAGE(holder_.wait_ready(), run_.describe());
  }
  ~held_lock() {
    holder_.release();
    const auto status = run_.wait();
    BOOST_TEST(status.exited_with(0), run_.describe());
  }

 private:
  static std::vector<std::string> args(const fs::path& path, bool shared) {
    std::vector<std::string> result;
    if (shared) result.push_back("-s");
    result.insert(result.end(), {path.string(), "-c",
                                 "echo ready >&5; read line <&6; exit 0"});
    return result;
  }
  participant holder_;
  dreadlock_process run_;
};

// Runs dreadlock with `options`, PATH and a command that would leave a
// trace, and checks the conflict status, the time taken and that the
// command did not run.
finished_run check_refused(const fs::path& lock,
                           std::vector<std::string> options, int expected) {
  const fs::path trace = dreadlocks_test::unique_path("trace");
  options.insert(options.end(),
                 {lock.string(), "-c", "echo ran > " + quoted(trace.string())});
  auto run = run_dreadlock(options);
  BOOST_TEST(run.status.exited_with(expected), run.description);
  BOOST_TEST(!fs::exists(trace), "the command ran: " + run.description);
  return run;
}

BOOST_AUTO_TEST_CASE(nonblock_gives_the_conflict_status_at_once) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("nonblock");
  held_lock held(lock);
  for (const char* option : {"-n", "--nonblock", "--nonblocking", "--non"}) {
    BOOST_TEST_CONTEXT(option) {
      const auto run = check_refused(lock, {option}, conflict_exit);
      BOOST_TEST(run.took < 2s);
      BOOST_TEST(run.err == "", "flock(1) is silent on a conflict");
      BOOST_TEST(run.out == "");
    }
  }
}

BOOST_AUTO_TEST_CASE(timeout_zero_is_nonblock) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("timeout-zero");
  held_lock held(lock);
  const auto run = check_refused(lock, {"-w", "0"}, conflict_exit);
  BOOST_TEST(run.took < 2s);
}

BOOST_AUTO_TEST_CASE(timeout_waits_then_gives_up) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("timeout");
  held_lock held(lock);
  for (const std::vector<std::string>& options :
       {std::vector<std::string>{"-w", "0.2"},
        {"-w0.2"},
        {"--timeout=0.2"},
        {"--wait", "0.2"},
        {"-w", "2e-1"}}) {
    BOOST_TEST_CONTEXT(options.front()) {
      const auto run = check_refused(lock, options, conflict_exit);
      BOOST_TEST(run.took >= 0.2s);
      BOOST_TEST(run.took < 5s);
    }
  }
}

BOOST_AUTO_TEST_CASE(timeout_is_met_when_the_holder_leaves_in_time) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("timeout-met");
  const fs::path trace = dreadlocks_test::unique_path("trace");
  std::optional<dreadlock_process> waiter;
  {
    held_lock held(lock);
    waiter.emplace(
        std::vector<std::string>{"-w", "15", lock.string(), "-c",
                                 "echo ran > " + quoted(trace.string())});
    // Timed waits poll, so there is no kernel waiter to see; the waiter
    // has the lock file open once it is trying.
    BOOST_REQUIRE(
        eventually([&] { return descriptors_on(waiter->pid(), lock) > 0; }));
    BOOST_TEST(!fs::exists(trace));
  }
  const auto status = waiter->wait();
  BOOST_TEST(status.exited_with(0), waiter->describe());
  BOOST_TEST(read_file(trace) == "ran\n");
}

BOOST_AUTO_TEST_CASE(conflict_exit_code_changes_the_status) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("conflict-code");
  held_lock held(lock);
  check_refused(lock, {"-E", "42", "-n"}, 42);
  check_refused(lock, {"-E42", "-w", "0.05"}, 42);
  check_refused(lock, {"--conflict-exit-code=0", "-n"}, 0);
  check_refused(lock, {"--conflict-exit-code", "255", "-n"}, 255);
}

BOOST_AUTO_TEST_CASE(shared_request_is_refused_by_exclusive_holder_only) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("shared-nonblock");
  {
    held_lock held(lock);
    check_refused(lock, {"-s", "-n"}, conflict_exit);
  }
  held_lock shared_held(lock, true);
  const auto reader = run_dreadlock({"-s", "-n", lock.string(), "true"});
  BOOST_TEST(reader.status.exited_with(0), reader.description);
  check_refused(lock, {"-n"}, conflict_exit);
}

BOOST_AUTO_TEST_CASE(verbose_says_why_and_how_long) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("verbose");
  {
    held_lock held(lock);
    const auto refused =
        check_refused(lock, {"--verbose", "-n"}, conflict_exit);
    // flock(1)'s words on flock(1)'s stream (stderr), after the prefix.
    BOOST_TEST(refused.err == "dreadlock: failed to get lock\n");
    const auto timed_out =
        check_refused(lock, {"--verbose", "-w", "0.05"}, conflict_exit);
    BOOST_TEST(timed_out.err ==
               "dreadlock: timeout while waiting to get lock\n");
  }
  const auto run = run_dreadlock({"--verbose", lock.string(), "true"});
  BOOST_TEST(run.status.exited_with(0), run.description);
  // On stdout, as flock(1) prints it.
  BOOST_TEST(run.out.find("dreadlock: getting lock took ") == 0, run.out);
  BOOST_TEST(run.out.find(" seconds\n") != std::string::npos, run.out);
}

}  // namespace
