// tests/cli/exclusion_test.cpp
//
// Two concurrent dreadlock runs on one path: exclusive runs (and a shared
// run against an exclusive one) take turns, shared runs overlap. Each
// command reports through a pipe once inside the lock and stays inside
// until the test releases it; a second run is known to wait when the
// kernel lists its blocked request in /proc/locks.

#define BOOST_TEST_MODULE dreadlock exclusion
#include <boost/test/unit_test.hpp>

#include "tests/cli/cli_support.hpp"
#include "tests/support/nothing_left_behind.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using namespace cli_test;

// Runs `first` until its command is inside, then `second`; checks that
// `second` blocks in the kernel and its command does not start until the
// first command has ended: the log must read "A in, A out, B in, B out".
void check_turns(const std::vector<std::string>& first_options,
                 const std::vector<std::string>& second_options) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("turns");
  const fs::path log = dreadlocks_test::unique_path("turns-log");
  participant a;
  participant b;
  auto args_for = [&](std::vector<std::string> args, const std::string& name) {
    args.insert(args.end(),
                {lock.string(), "-c", participant::script(name, log)});
    return args;
  };
  dreadlock_process first(args_for(first_options, "A"), a.descriptors());
  BOOST_REQUIRE_MESSAGE(a.wait_ready(), first.describe());

  dreadlock_process second(args_for(second_options, "B"), b.descriptors());
  BOOST_REQUIRE_MESSAGE(eventually([&] { return kernel_waiters(lock) == 1; }),
                        "the second run never blocked: " + second.describe());
  BOOST_TEST(!b.reported());
  BOOST_TEST(read_file(log) == "A in\n");

  a.release();
  const auto first_status = first.wait();
  BOOST_TEST(first_status.exited_with(0), first.describe());
  BOOST_REQUIRE_MESSAGE(b.wait_ready(), second.describe());
  b.release();
  const auto second_status = second.wait();
  BOOST_TEST(second_status.exited_with(0), second.describe());
  BOOST_TEST(read_file(log) == "A in\nA out\nB in\nB out\n");
}

BOOST_AUTO_TEST_CASE(exclusive_runs_take_turns) { check_turns({}, {}); }

BOOST_AUTO_TEST_CASE(explicit_exclusive_options_take_turns) {
  check_turns({"-x"}, {"--exclusive"});
}

BOOST_AUTO_TEST_CASE(shared_run_waits_for_exclusive_run) {
  check_turns({}, {"-s"});
}

BOOST_AUTO_TEST_CASE(exclusive_run_waits_for_shared_run) {
  check_turns({"--shared"}, {});
}

BOOST_AUTO_TEST_CASE(exclusive_runs_take_turns_without_the_descriptor) {
  check_turns({"-o"}, {"-o"});
}

BOOST_AUTO_TEST_CASE(shared_runs_overlap) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("overlap");
  const fs::path log = dreadlocks_test::unique_path("overlap-log");
  participant a;
  participant b;
  dreadlock_process first(
      {"-s", lock.string(), "-c", participant::script("A", log)},
      a.descriptors());
  dreadlock_process second(
      {"-s", lock.string(), "-c", participant::script("B", log)},
      b.descriptors());
  // A barrier: both commands are inside at once; neither is released
  // before both have reported.
  BOOST_REQUIRE_MESSAGE(a.wait_ready(), first.describe());
  BOOST_REQUIRE_MESSAGE(b.wait_ready(), second.describe());
  BOOST_TEST(kernel_waiters(lock) == 0);

  // A writer is refused while both readers are inside; a third reader not.
  const auto writer = run_dreadlock({"-n", lock.string(), "true"});
  BOOST_TEST(writer.status.exited_with(conflict_exit), writer.description);
  const auto reader = run_dreadlock({"-n", "-s", lock.string(), "true"});
  BOOST_TEST(reader.status.exited_with(0), reader.description);

  a.release();
  b.release();
  const auto first_status = first.wait();
  const auto second_status = second.wait();
  BOOST_TEST(first_status.exited_with(0), first.describe());
  BOOST_TEST(second_status.exited_with(0), second.describe());
  BOOST_TEST(lock_is_free(lock));
}

}  // namespace
