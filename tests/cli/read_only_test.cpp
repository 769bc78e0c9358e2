// tests/cli/read_only_test.cpp
//
// dreadlock and flock(1) side by side on files the user may only read: a
// read-only file and a directory, from a child that has given up root's
// permission override (tests/support/unprivileged.hpp). Both tools lock
// both in both modes; dreadlock's exclusive lock there is flock(2)
// exclusive plus OFD shared (the most a read-only descriptor takes), so it
// excludes path_lock writers but not path_lock readers; --fcntl -x is
// refused with a reason.

#define BOOST_TEST_MODULE dreadlock read-only files
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/cli/cli_support.hpp"
#include "tests/support/holder.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/unprivileged.hpp"

using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using namespace cli_test;
using dreadlocks_test::attempt;
using dreadlocks_test::child_require;


// Runs `body` in a child without the permission override; the child's
// exit status says whether every child_require held.
template <class Body>
bool unprivileged(Body body) {
  dreadlocks_test::child_process child([&] {
    child_require(dreadlocks_test::give_up_permission_override(),
                  "giving up the permission override");
    body();
    return 0;
  });
  const auto status = child.wait(std::chrono::seconds(20));
  BOOST_TEST_MESSAGE(status.describe());
  return status.ok();
}

void require_status(const finished_run& run, int expected) {
  child_require(run.status.exited_with(expected), run.description);
}

dreadlocks::lock_options mode(bool shared) {
  dreadlocks::lock_options options;
  options.shared = shared;
  return options;
}

}  // namespace

BOOST_AUTO_TEST_CASE(both_tools_lock_read_only_files_and_directories) {
  dreadlocks_test::watchdog dog(60s);
  const dreadlocks_test::read_only_files files;
  BOOST_TEST(unprivileged([&] {
    child_require(::access(files.file.c_str(), W_OK) != 0,
                  "writing is refused");
    for (const fs::path& tool : {dreadlock_binary(), flock_binary()}) {
      for (const fs::path& path : {files.file, files.directory}) {
        for (const char* mode : {"-s", "-x"}) {
          require_status(
              run_dreadlock({mode, "-n", path.string(), "-c", "exit 7"}, {},
                            tool),
              7);
        }
      }
    }
    // Held shared by one dreadlock, refused to an exclusive one; the
    // other way round too.
    participant reader;
    dreadlock_process held(
        {"-s", files.file.string(), "-c", participant::pid_script()},
        reader.descriptors());
    child_require(reader.next_report().has_value(), held.describe());
    require_status(run_dreadlock({"-n", "-s", files.file.string(), "true"}), 0);
    require_status(run_dreadlock({"-n", files.file.string(), "true"}),
                   conflict_exit);
    require_status(run_flock({"-n", files.file.string(), "true"}),
                   conflict_exit);
    reader.release();
    child_require(held.wait().exited_with(0), held.describe());
  }));
}

BOOST_AUTO_TEST_CASE(fcntl_exclusive_on_a_read_only_file_says_why) {
  const dreadlocks_test::read_only_files files;
  BOOST_TEST(unprivileged([&] {
    for (const fs::path& path : {files.file, files.directory}) {
      const auto refused =
          run_dreadlock({"--fcntl", "-n", path.string(), "true"});
      require_status(refused, cannot_open_exit);
      child_require(
          refused.err == "dreadlock: cannot lock \"" + path.string() +
                             "\": an exclusive fcntl lock needs a descriptor "
                             "open for writing\n",
          refused.description);
      require_status(
          run_dreadlock({"--fcntl", "-s", "-n", path.string(), "true"}), 0);
    }
  }));
}

// Against path_lock users (read-write openers, here root): an exclusive
// path_lock keeps the read-only dreadlock out in both modes; a shared
// path_lock keeps out nothing but writers, and a read-only dreadlock -x is
// no writer to it (the documented limit).
BOOST_AUTO_TEST_CASE(read_only_dreadlock_against_path_lock_users) {
  dreadlocks_test::watchdog dog(60s);
  const dreadlocks_test::read_only_files files;
  {
    dreadlocks_test::process_holder<dreadlocks::process_level_path_lock> writer(
        files.file, mode(false));
    BOOST_REQUIRE((writer.wait_settled() == attempt::granted));
    BOOST_TEST(unprivileged([&] {
      for (const char* m : {"-s", "-x"}) {
        require_status(run_dreadlock({m, "-n", files.file.string(), "true"}),
                       conflict_exit);
      }
    }));
  }
  dreadlocks_test::process_holder<dreadlocks::process_level_path_lock> reader(
      files.file, mode(true));
  BOOST_REQUIRE((reader.wait_settled() == attempt::granted));
  BOOST_TEST(unprivileged([&] {
    require_status(run_dreadlock({"-n", files.file.string(), "true"}), 0);
  }));
}
