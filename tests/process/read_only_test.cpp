// tests/process/read_only_test.cpp
//
// Lock files the process may only read (SPEC §2 as amended by issue 15): a
// read-only file and a directory open read-only, after read-write is
// refused. Shared locks are granted with every primitive and meet the
// locks of read-write openers; exclusive ones with flock(2) only, while an
// exclusive fcntl/OFD lock is refused with EBADF, a message naming the
// path and the reason, and nothing left behind. The checks run in a child
// that has given up root's permission override.

#define BOOST_TEST_MODULE read_only_test
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <type_traits>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/process/process_test_common.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/unprivileged.hpp"

namespace dlt = dreadlocks_test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using dlt::attempt;
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {


template <class Lock>
constexpr bool is_flock_v =
    std::is_same_v<typename Lock::process_policy, dreadlocks::flock_process_lock>;

}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(shared_always_exclusive_as_the_kind_allows,
                              Lock, dlt::file_locks) {
  dlt::watchdog dog(20s);
  const dreadlocks_test::read_only_files files;
  dlt::child_process child([&] {
    dlt::child_require(dlt::give_up_permission_override(),
                       "giving up the permission override");
    dlt::child_require(::access(files.file.c_str(), W_OK) != 0,
                       "writing the file is refused after giving it up");
    for (const fs::path& path : {files.file, files.directory}) {
      dlt::child_require(
          dlt::try_lock_once<Lock>(path, dlt::mode(true, false)) ==
              attempt::granted,
          "shared lock on " + path.string());
      if constexpr (is_flock_v<Lock>) {
        dlt::child_require(
            dlt::try_lock_once<Lock>(path, dlt::mode(false, false)) ==
                attempt::granted,
            "exclusive flock(2) lock on " + path.string());
      } else {
        const std::string problem = dlt::check_failure<Lock>(
            path, std::errc::bad_file_descriptor,
            {"\"" + path.string() + "\"", "needs write access",
             "opened read-only"});
        dlt::child_require(problem.empty(), problem);
      }
    }
    return 0;
  });
  BOOST_TEST(dlt::exited_ok(child.wait()));
}

// A read-only opener's shared lock meets a read-write opener's exclusive
// one: the lock is on the file, whichever way it was opened.
BOOST_AUTO_TEST_CASE_TEMPLATE(read_only_opener_meets_read_write_holder, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  const dreadlocks_test::read_only_files files;
  dlt::process_holder<dlt::process_level_of<Lock>> writer(files.file,
                                                          dlt::mode(false));
  BOOST_TEST_REQUIRE((writer.wait_settled() == attempt::granted));
  dlt::child_process child([&] {
    dlt::child_require(dlt::give_up_permission_override(),
                       "giving up the permission override");
    dlt::child_require(
        dlt::try_lock_once<Lock>(files.file, dlt::mode(true, false)) ==
            attempt::process_would_block,
        "the writer keeps the read-only opener out");
    return 0;
  });
  BOOST_TEST(dlt::exited_ok(child.wait()));
}
