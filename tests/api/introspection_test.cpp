// tests/api/introspection_test.cpp
//
// dreadlocks/introspection.hpp counts what this process holds and trims
// what it keeps for reuse, as its contract comments say.

#define BOOST_TEST_MODULE introspection_test
#include <boost/test/unit_test.hpp>
#include <string>

#include "dreadlocks/dreadlocks.hpp"
#include "dreadlocks/introspection.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/temp_path.hpp"
#include "tests/support/watchdog.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

namespace introspection = dreadlocks::introspection;

BOOST_FIXTURE_TEST_SUITE(introspection_suite,
                         dreadlocks_test::nothing_left_behind)

// Each level is counted once per key or file, however often it is held.
BOOST_AUTO_TEST_CASE(counts_keys_and_files_held) {
  dreadlocks_test::watchdog dog;
  const auto a = dreadlocks_test::unique_path("a");
  const auto b = dreadlocks_test::unique_path("b");
  const auto c = dreadlocks_test::unique_path("c");
  BOOST_TEST(introspection::held_thread_keys() == 0u);
  BOOST_TEST(introspection::open_lock_files() == 0u);
  {
    dreadlocks::thread_level_path_lock thread_only(a);
    BOOST_TEST(introspection::held_thread_keys() == 1u);
    BOOST_TEST(introspection::open_lock_files() == 0u);
    dreadlocks::process_level_path_lock process_only(b);
    BOOST_TEST(introspection::held_thread_keys() == 1u);
    BOOST_TEST(introspection::open_lock_files() == 1u);
    dreadlocks::lock_options nested;
    nested.shared = true;
    nested.reentrant = true;
    dreadlocks::path_lock both(c, nested);
    dreadlocks::path_lock again(c, nested);
    BOOST_TEST(introspection::held_thread_keys() == 2u);
    BOOST_TEST(introspection::open_lock_files() == 2u);
  }
  BOOST_TEST(introspection::held_thread_keys() == 0u);
  BOOST_TEST(introspection::open_lock_files() == 0u);
}

// Entries stay bounded by the sweeps; trim() drops the unused ones and
// leaves held locks held.
BOOST_AUTO_TEST_CASE(entries_are_bounded_and_trimmed) {
  dreadlocks_test::watchdog dog;
  const auto dir = dreadlocks_test::unique_path("entries");
  for (int i = 0; i < 1000; ++i) {
    dreadlocks::thread_level_path_lock once(dir / std::to_string(i));
  }
  BOOST_TEST(introspection::thread_key_entries() <=
             introspection::first_sweep_entries);
  const auto held_file = dreadlocks_test::unique_path("held");
  dreadlocks::path_lock held(held_file);
  introspection::trim();
  BOOST_TEST(introspection::thread_key_entries() >= 1u);
  BOOST_TEST(introspection::thread_key_entries() <=
             introspection::first_sweep_entries);
  BOOST_TEST(introspection::held_thread_keys() == 1u);
  BOOST_TEST(introspection::open_lock_files() == 1u);
  BOOST_TEST(held.owns_lock());
  held.unlock();
  introspection::trim();
  BOOST_TEST(introspection::held_thread_keys() == 0u);
  BOOST_TEST(introspection::open_lock_files() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
