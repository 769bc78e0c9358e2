// tests/cli/standard_descriptors_test.cpp
//
// dreadlock started with descriptors 0, 1 or 2 closed (as cron jobs and
// daemons often are) never writes into the lock file (issue 12 item 5): its
// --verbose lines and its "cannot execute" message go to /dev/null, where
// before they landed in the lock file, which the library had opened on the
// free descriptor 2. The lock file stays empty, and the statuses are as
// with the descriptors open.

#define BOOST_TEST_MODULE dreadlock standard descriptors
#include <boost/test/unit_test.hpp>

#include "tests/cli/cli_support.hpp"
#include "tests/support/nothing_left_behind.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using namespace cli_test;

// Runs dreadlock with `args` and the descriptors in `closed` closed;
// returns the finished process's status and description.
std::pair<exit_status, std::string> run_with_closed(
    const std::vector<std::string>& args, const std::vector<int>& closed) {
  std::vector<descriptor_mapping> mappings;
  for (const int fd : closed) mappings.push_back({fd, -1});
  dreadlock_process process(args, mappings);
  const exit_status status = process.wait();
  return {status, process.describe()};
}

BOOST_AUTO_TEST_CASE(verbose_messages_never_reach_the_lock_file) {
  dreadlocks_test::watchdog dog(30s);
  for (const auto& closed : std::vector<std::vector<int>>{{2}, {0, 1, 2}}) {
    const fs::path lock = dreadlocks_test::unique_path("verbose");
    const auto [status, description] =
        run_with_closed({"--verbose", lock.string(), "true"}, closed);
    BOOST_TEST(status.exited_with(0), description);
    BOOST_TEST(fs::file_size(lock) == 0u, read_file(lock));
    BOOST_TEST(lock_is_free(lock));
  }
}

BOOST_AUTO_TEST_CASE(cannot_execute_never_reaches_the_lock_file) {
  dreadlocks_test::watchdog dog(30s);
  for (const auto& closed : std::vector<std::vector<int>>{{2}, {0, 1, 2}}) {
    const fs::path lock = dreadlocks_test::unique_path("no-command");
    const auto [status, description] = run_with_closed(
        {lock.string(), "no-such-command-dreadlock-test"}, closed);
    BOOST_TEST(status.exited_with(not_found_exit), description);
    BOOST_TEST(fs::file_size(lock) == 0u, read_file(lock));
    BOOST_TEST(lock_is_free(lock));
  }
}

// dreadlock itself puts /dev/null on a closed standard descriptor, and the
// command inherits it: the shell's `>&2` succeeds (on a closed descriptor
// it fails with status 2), and nothing reaches the lock file. This is what
// the library's own refusal of descriptors 0-2 does not give.
BOOST_AUTO_TEST_CASE(command_writes_to_stderr_never_reach_the_lock_file) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("command-stderr");
  const auto [status, description] = run_with_closed(
      {"--verbose", lock.string(), "-c", "echo from-the-command >&2"}, {2});
  BOOST_TEST(status.exited_with(0), description);
  BOOST_TEST(fs::file_size(lock) == 0u, read_file(lock));
}

}  // namespace
