// tests/support/nothing_left_behind.hpp
//
// The one leak check of the tests: what this process holds (thread keys,
// lock files, descriptors) as a snapshot, and a Boost.Test fixture that
// checks, at the end of what it wraps, that no descriptor leaked, no lock
// file is open and no thread key is held.
//
//   using dreadlocks_test::nothing_left_behind;  // the macro wants a name
//   BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);
//   BOOST_FIXTURE_TEST_SUITE(errors, dreadlocks_test::nothing_left_behind)
//   BOOST_FIXTURE_TEST_CASE(name, dreadlocks_test::nothing_left_behind)
//
//   const auto empty = dreadlocks_test::holdings_now();
//   ... lock and release ...
//   BOOST_TEST(dreadlocks_test::holdings_now() == empty);

#ifndef DREADLOCKS_TESTS_SUPPORT_NOTHING_LEFT_BEHIND_HPP_
#define DREADLOCKS_TESTS_SUPPORT_NOTHING_LEFT_BEHIND_HPP_

#include <boost/test/unit_test.hpp>
#include <cstddef>
#include <filesystem>
#include <ostream>
#include <string>

#include "dreadlocks/idle_lock_files.hpp"
#include "dreadlocks/introspection.hpp"
#include "tests/support/fd_count.hpp"

namespace dreadlocks_test {

// live_descriptor_count()
//
// Returns the number of descriptors open in this process, not counting
// those idle lock files keep open for reuse (bounded; a failed request
// keeps none, which tests/process:idle_reuse_test checks).
inline std::size_t live_descriptor_count() {
  return open_descriptor_count() -
         dreadlocks::introspection::idle_lock_files();
}

// descriptors_left_on()
//
// Closes the descriptors idle lock files keep open for reuse
// (dreadlocks::close_idle_lock_files()), then returns how many descriptors
// of this process are open on `file`: what locks released on it left.
inline std::size_t descriptors_left_on(const std::filesystem::path& file) {
  dreadlocks::close_idle_lock_files();
  return descriptors_open_on(file);
}

// What this process holds: keys held at the thread level, lock files open
// at the process level, lock files kept open idle for reuse (reported, not
// compared), descriptors but theirs.
struct holdings {
  std::size_t thread_keys;
  std::size_t open_files;
  std::size_t idle_files;
  std::size_t descriptors;
  bool operator==(const holdings& other) const {
    return thread_keys == other.thread_keys && open_files == other.open_files &&
           descriptors == other.descriptors;
  }
};

inline std::ostream& operator<<(std::ostream& out, const holdings& h) {
  return out << "{thread keys " << h.thread_keys << ", open files "
             << h.open_files << ", idle files " << h.idle_files
             << ", other descriptors " << h.descriptors << "}";
}

inline holdings holdings_now() {
  return holdings{dreadlocks::introspection::held_thread_keys(),
                  dreadlocks::introspection::open_lock_files(),
                  dreadlocks::introspection::idle_lock_files(),
                  live_descriptor_count()};
}

// Checks that no thread key is held or asked for and no lock file is open;
// `when` goes into the failure message.
inline void check_registries_empty(const std::string& when) {
  BOOST_TEST(dreadlocks::introspection::held_thread_keys() == 0u,
             "thread keys still held " << when);
  BOOST_TEST(dreadlocks::introspection::open_lock_files() == 0u,
             "lock files still open " << when);
}

// nothing_left_behind
//
// A fixture (test case, suite or global): requires that nothing is held
// when it starts, and checks when it ends that nothing is held and the
// process has as many descriptors open as when it started, not counting
// the idle lock files kept open for reuse (live_descriptor_count()).
class nothing_left_behind {
 public:
  nothing_left_behind() : descriptors_(live_descriptor_count()) {
    BOOST_TEST_REQUIRE(dreadlocks::introspection::held_thread_keys() == 0u);
    BOOST_TEST_REQUIRE(dreadlocks::introspection::open_lock_files() == 0u);
  }
  ~nothing_left_behind() {
    check_registries_empty("at the end");
    BOOST_TEST(live_descriptor_count() == descriptors_,
               "descriptors leaked: " << live_descriptor_count() << " open, "
                                      << descriptors_ << " at the start");
  }

  nothing_left_behind(const nothing_left_behind&) = delete;
  nothing_left_behind& operator=(const nothing_left_behind&) = delete;

 private:
  std::size_t descriptors_;
};

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_SUPPORT_NOTHING_LEFT_BEHIND_HPP_
