// tests/cli/close_option_test.cpp
//
// -o/--close. By default the command inherits a descriptor of the lock's
// open file description, as with flock(1): with OFD locks (Linux), every
// process holding that descriptor holds the lock, so a background process
// the command leaves behind keeps it until it ends. With -o the command
// gets no descriptor and the lock ends with the command.

#define BOOST_TEST_MODULE dreadlock close option
#include <signal.h>

#include <boost/test/unit_test.hpp>

#include "tests/cli/cli_support.hpp"
#include "tests/support/nothing_left_behind.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using namespace cli_test;

BOOST_AUTO_TEST_CASE(command_inherits_the_lock_descriptor_by_default) {
  dreadlocks_test::watchdog dog(30s);
  for (const bool close : {false, true}) {
    BOOST_TEST_CONTEXT((close ? "-o" : "default")) {
      const fs::path lock = dreadlocks_test::unique_path("inherit");
      participant command;
      std::vector<std::string> args{lock.string(), "-c",
                                    participant::pid_script()};
      if (close) args.insert(args.begin(), "--close");
      dreadlock_process run(args, command.descriptors());
      const auto line = command.next_report();
      BOOST_REQUIRE_MESSAGE(line, run.describe());
      const pid_t shell = static_cast<pid_t>(std::stol(*line));
      BOOST_TEST(descriptors_on(shell, lock) == (close ? 0 : 1));
      // dreadlock itself keeps its descriptor either way.
      BOOST_TEST(descriptors_on(run.pid(), lock) >= 1);
      command.release();
      const auto status = run.wait();
      BOOST_TEST(status.exited_with(0), run.describe());
    }
  }
}

// The command starts a background process that outlives it, holding the
// pipe `hold` (and, by default, the lock descriptor), and ends.
BOOST_AUTO_TEST_CASE(background_process_keeps_the_lock_unless_close) {
  dreadlocks_test::watchdog dog(30s);
  for (const bool close : {false, true}) {
    BOOST_TEST_CONTEXT((close ? "-o" : "default")) {
      const fs::path lock = dreadlocks_test::unique_path("background");
      participant background;
      std::vector<std::string> args{lock.string(), "-c",
                                    "read line <&6 & echo $! >&5"};
      if (close) args.insert(args.begin(), "-o");
      dreadlock_process run(args, background.descriptors());
      const auto line = background.next_report();
      BOOST_REQUIRE_MESSAGE(line, run.describe());
      const auto status = run.wait();
      BOOST_TEST(status.exited_with(0), run.describe());

      // dreadlock has exited; the background process lives on.
      const pid_t lingering = static_cast<pid_t>(std::stol(*line));
      BOOST_TEST(::kill(lingering, 0) == 0);
      BOOST_TEST(lock_is_free(lock) == close);
      background.release();  // the background process ends
      BOOST_TEST(eventually([&] { return lock_is_free(lock); }));
    }
  }
}

// dreadlock itself is killed (SIGKILL, nothing passed on) while its
// command runs: by default the command's inherited descriptor keeps the
// lock; with -o the lock ends with dreadlock.
BOOST_AUTO_TEST_CASE(
    killed_dreadlock_leaves_the_lock_to_the_command_unless_close) {
  dreadlocks_test::watchdog dog(30s);
  for (const bool close : {false, true}) {
    BOOST_TEST_CONTEXT((close ? "-o" : "default")) {
      const fs::path lock = dreadlocks_test::unique_path("orphaned");
      participant command;
      std::vector<std::string> args{lock.string(), "-c",
                                    participant::pid_script()};
      if (close) args.insert(args.begin(), "-o");
      dreadlock_process run(args, command.descriptors());
      const auto line = command.next_report();
      BOOST_REQUIRE_MESSAGE(line, run.describe());
      run.kill(SIGKILL);
      const auto status = run.wait();
      BOOST_TEST(status.killed_by(SIGKILL), run.describe());
      BOOST_TEST(lock_is_free(lock) == close);
      command.release();  // the orphaned command ends
      BOOST_TEST(eventually([&] { return lock_is_free(lock); }));
    }
  }
}

}  // namespace
