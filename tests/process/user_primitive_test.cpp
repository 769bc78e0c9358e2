// tests/process/user_primitive_test.cpp
//
// The walkthrough of docs/primitives.md, compiled and run: a LockPrimitive
// written by a user (an OFD lock on the first byte of the file only) plugged
// into file_process_lock, excluding other processes through it, and
// leaving the rest of the file to other byte-range locks. The test also
// checks that the page shows this very code, so the two cannot drift.

#define BOOST_TEST_MODULE user_primitive_test
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "dreadlocks/introspection.hpp"
#include "tests/process/process_test_common.hpp"
#include "tests/support/nothing_left_behind.hpp"

// walkthrough: begin
#include <fcntl.h>

#include <cerrno>

#include "dreadlocks/dreadlocks.hpp"

// Locks only the first byte of the lock file, with an OFD lock: what a
// tool that locks byte ranges of a shared file expects of its writers,
// leaving the file's other bytes to the tool's other locks.
struct first_byte_primitive : dreadlocks::posix_file_primitive {
  // open(), identify() and close() come from posix_file_primitive. An OFD
  // lock belongs to the open file description: closing another descriptor
  // of the file does not release it.
  static constexpr bool closing_any_releases = false;

  static dreadlocks::lock_result set(native_handle_type handle,
                                     dreadlocks::primitive_mode /*from*/,
                                     dreadlocks::primitive_mode to,
                                     bool wait) noexcept {
    using dreadlocks::lock_status;
    using dreadlocks::primitive_mode;
    struct ::flock range {};
    range.l_type = to == primitive_mode::none     ? F_UNLCK
                   : to == primitive_mode::shared ? F_RDLCK
                                                  : F_WRLCK;
    range.l_whence = SEEK_SET;
    range.l_start = 0;
    range.l_len = 1;
    for (;;) {
      if (::fcntl(handle, wait ? F_OFD_SETLKW : F_OFD_SETLK, &range) == 0) {
        return {lock_status::acquired};
      }
      const int error = errno;
      if (error == EINTR) continue;
      if (error == EAGAIN || error == EACCES) {
        return {lock_status::would_block, {error}};
      }
      return {lock_status::failed, {error}};
    }
  }
};

// Both levels, as path_lock, over the new primitive.
using first_byte_lock =
    dreadlocks::basic_path_lock<dreadlocks::shareable_thread_lock,
                                dreadlocks::file_process_lock<first_byte_primitive>,
                                dreadlocks::reentrant_if_requested>;
// walkthrough: end

namespace dlt = dreadlocks_test;
using namespace std::chrono_literals;
using dlt::attempt;
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using first_byte_process_lock =
    dlt::process_level_lock<dreadlocks::file_process_lock<first_byte_primitive>>;

std::string read_text(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The lines between the walkthrough markers of `text`, markers excluded.
std::string walkthrough_in(const std::string& text) {
  const std::string begin = "// walkthrough: begin\n";
  const std::string end = "// walkthrough: end\n";
  const auto from = text.find(begin);
  const auto to = text.find(end);
  if (from == std::string::npos || to == std::string::npos) return "";
  return text.substr(from + begin.size(), to - from - begin.size());
}

// What another process gets when it asks for an OFD lock of `type` on one
// byte of the file: 0 granted, 1 refused, 2 the file could not be opened.
int other_process_asks_byte(const std::filesystem::path& file, off_t byte,
                            short type) {
  dlt::child_process child([&] {
    const int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return 2;
    struct ::flock range {};
    range.l_type = type;
    range.l_whence = SEEK_SET;
    range.l_start = byte;
    range.l_len = 1;
    return ::fcntl(fd, F_OFD_SETLK, &range) == 0 ? 0 : 1;
  });
  const dlt::exit_status status = child.wait();
  return status.ended == dlt::exit_status::how::exited ? status.code : -1;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_page_shows_this_code) {
  const std::string page = read_text("docs/primitives.md");
  const std::string test = read_text("tests/process/user_primitive_test.cpp");
  const std::string shown = walkthrough_in(page);
  BOOST_TEST_REQUIRE(!shown.empty(), "no walkthrough markers in the page");
  BOOST_TEST(shown == walkthrough_in(test));
}

// Two processes with the user's primitive exclude each other; shared
// holders coexist.
BOOST_AUTO_TEST_CASE(processes_exclude_each_other) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("first-byte");
  dlt::prober<first_byte_process_lock> other(file);
  {
    first_byte_lock writer(file, dlt::mode(false));
    BOOST_TEST(other.try_lock(true) == attempt::process_would_block);
    BOOST_TEST(dreadlocks::introspection::open_lock_files() == 1u);
  }
  {
    first_byte_lock reader(file, dlt::mode(true));
    BOOST_TEST(other.try_lock(true) == attempt::granted, other.last_detail());
    BOOST_TEST(other.try_lock(false) == attempt::process_would_block);
  }
  BOOST_TEST(other.try_lock(false) == attempt::granted, other.last_detail());
  BOOST_TEST(dreadlocks::introspection::open_lock_files() == 0u);
}

// Only the first byte is locked: another process's lock on byte 1 is
// granted, one on byte 0 refused.
BOOST_AUTO_TEST_CASE(only_the_first_byte_is_locked) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("first-byte-range");
  first_byte_lock writer(file, dlt::mode(false));
  BOOST_TEST(other_process_asks_byte(file, 0, F_RDLCK) == 1);
  BOOST_TEST(other_process_asks_byte(file, 1, F_WRLCK) == 0);
}

// A waiting request through the user's primitive is granted on the other
// process's release (the registry's transitions, reused as they are).
BOOST_AUTO_TEST_CASE(waiter_is_granted_on_release) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("first-byte-wait");
  dlt::process_holder<first_byte_process_lock> other(file, dlt::mode(false));
  BOOST_TEST_REQUIRE(other.wait_settled() == attempt::granted);
  BOOST_TEST(dlt::try_lock_once<first_byte_lock>(file, dlt::mode(false, false)) ==
             attempt::process_would_block);
  // Boost.Test is not thread-safe: the releasing thread only notes what
  // it saw; the main thread asserts once it has joined.
  bool seen_waiting = false;
  bool released = false;
  std::thread releaser([&] {
    seen_waiting = dlt::wait_for_blocked_requests(file, 1);
    released = other.release_and_exit().ok();
  });
  {
    first_byte_lock writer(file, dlt::mode(false));
    BOOST_TEST(writer.owns_lock());
  }
  releaser.join();
  BOOST_TEST(seen_waiting);
  BOOST_TEST(released);
}
