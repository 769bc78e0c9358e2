// tests/thread/registry_test.cpp
//
// What the thread level's registry promises beyond the scenarios of
// thread_level_test, seen through the public API and
// dreadlocks/introspection.hpp: a guard that outlives its thread is not
// taken for a new thread's; more nested holds than the fast mode counts;
// unused entries are swept; a forked child starts with every key free.
// One binary forks, so every case is bounded by the watchdog, which runs
// no thread (one would make the forks multi-threaded, which
// ThreadSanitizer refuses).

#define BOOST_TEST_MODULE registry_test
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"
#include "dreadlocks/introspection.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/outcome.hpp"
#include "tests/support/scenario_locks.hpp"
#include "tests/support/temp_path.hpp"
#include "tests/support/watchdog.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

namespace fs = std::filesystem;

// Every request here is non-blocking: the answer is the state at the time.
dreadlocks::lock_options nonblocking(bool shared, bool reentrant = false) {
  return dreadlocks_test::mode(shared, false, reentrant);
}
using lock = dreadlocks::thread_level_path_lock;
namespace introspection = dreadlocks::introspection;

using dreadlocks_test::attempt;

// What a non-blocking request of the calling thread gets.
attempt ask(const fs::path& path, dreadlocks::lock_options o) {
  return dreadlocks_test::attempt_of([&] { lock taken(path, o); });
}

// What the request gets in a new thread.
attempt ask_in_new_thread(const fs::path& path, dreadlocks::lock_options o) {
  attempt result = attempt::granted;
  std::thread([&] { result = ask(path, o); }).join();
  return result;
}

// A thread that ends while a guard it took lives on (moved out of it): a
// thread started later must not count as that guard's holder, for a
// reentrant request (granted while another holds it) nor a plain one
// (refused as a repeat). pthread ids, reused as soon as a thread is joined,
// would make it one.
BOOST_AUTO_TEST_CASE(guard_outliving_its_thread_is_nobody_elses) {
  dreadlocks_test::watchdog dog;
  const fs::path path = dreadlocks_test::unique_path("outlived");
  for (const bool shared : {false, true}) {
    std::optional<lock> kept;
    std::thread([&] { kept.emplace(path, nonblocking(shared)); }).join();
    BOOST_TEST_REQUIRE(kept->owns_lock());
    for (int round = 0; round < 4; ++round) {
      for (const bool reentrant : {false, true}) {
        const attempt got =
            ask_in_new_thread(path, nonblocking(false, reentrant));
        BOOST_TEST((got == attempt::thread_would_block),
                   "exclusive" << (reentrant ? ", reentrant," : "")
                               << " asked by a new thread beside a guard "
                                  "whose thread ended: "
                               << got);
      }
    }
    kept.reset();
    BOOST_TEST(
        (ask_in_new_thread(path, nonblocking(false)) == attempt::granted));
  }
}

// More nested holds of one mode than the fast mode's word counts (32767):
// the key goes on being held (and excluding), and is free once the last
// is released.
BOOST_AUTO_TEST_CASE(nesting_deeper_than_the_word_counts) {
  dreadlocks_test::watchdog dog(std::chrono::seconds(60));
  const fs::path path = dreadlocks_test::unique_path("deep");
  constexpr int kDepth = 33000;
  for (const bool shared : {false, true}) {
    std::vector<lock> nested;
    nested.reserve(kDepth);
    for (int i = 0; i < kDepth; ++i)
      nested.emplace_back(path, nonblocking(shared, true));
    BOOST_TEST((ask_in_new_thread(path, nonblocking(false)) ==
                attempt::thread_would_block));
    BOOST_TEST((ask_in_new_thread(path, nonblocking(true)) ==
                (shared ? attempt::granted : attempt::thread_would_block)));
    // Released in the order taken, not nested: counts, not a stack.
    for (int i = 0; i < kDepth - 1; ++i) nested[i].unlock();
    BOOST_TEST((ask_in_new_thread(path, nonblocking(false)) ==
                attempt::thread_would_block));
    nested.back().unlock();
    BOOST_TEST(
        (ask_in_new_thread(path, nonblocking(false)) == attempt::granted));
    BOOST_TEST(introspection::held_thread_keys() == 0u);
  }
}

// Keys locked once and let go do not stay in the registry: its table is
// swept of entries nobody holds or can reach, so it follows the keys in use
// (within a factor of two, plus the calling thread's few recent keys), not
// the keys ever used.
BOOST_AUTO_TEST_CASE(unused_entries_are_swept) {
  dreadlocks_test::watchdog dog;
  const fs::path dir = dreadlocks_test::unique_path("swept");
  auto key = [&](int i) { return dir / ("key-" + std::to_string(i)); };
  constexpr int kKeys = 5000;
  for (int i = 0; i < kKeys; ++i) lock once(key(i));
  BOOST_TEST(introspection::held_thread_keys() == 0u);
  BOOST_TEST(introspection::thread_key_entries() <=
             introspection::first_sweep_entries);

  // With keys held, those stay; the rest still go.
  constexpr int kHeld = 500;
  std::vector<lock> held;
  held.reserve(kHeld);
  for (int i = 0; i < kHeld; ++i) held.emplace_back(key(i));
  for (int i = kHeld; i < kKeys; ++i) lock once(key(i));
  BOOST_TEST(introspection::held_thread_keys() == std::size_t{kHeld});
  BOOST_TEST(introspection::thread_key_entries() <=
             2 * (kHeld + introspection::first_sweep_entries));
  for (int i = 0; i < kHeld; ++i) {
    BOOST_TEST((ask_in_new_thread(key(i), nonblocking(true)) ==
                attempt::thread_would_block));
  }
}

// fork() while this thread holds keys: the child holds none of them. It is
// granted what it asks, not refused as a repeat; its copies of the
// parent's guards release nothing (its own hold goes on excluding its other
// threads); and the parent still holds its keys.
BOOST_AUTO_TEST_CASE(forked_child_starts_with_every_key_free) {
  dreadlocks_test::watchdog dog;
  const fs::path path = dreadlocks_test::unique_path("forked");
  for (const bool shared : {false, true}) {
    lock held(path, nonblocking(shared));
    lock nested(path, nonblocking(true, true));
    dreadlocks_test::child_process child([&] {
      lock mine(path, nonblocking(false));
      nested.unlock();
      held.unlock();
      dreadlocks_test::child_require(
          ask_in_new_thread(path, nonblocking(true)) ==
              attempt::thread_would_block,
          "the child's own hold excludes its other threads after the "
          "parent's guards were released in the child");
      mine.unlock();
      dreadlocks_test::child_require(
          ask_in_new_thread(path, nonblocking(false)) == attempt::granted,
          "free in the child once its own hold is released");
      return 0;
    });
    const auto status = child.wait();
    BOOST_TEST(status.ok(), status.describe());
    BOOST_TEST(held.owns_lock());
    BOOST_TEST((ask_in_new_thread(path, nonblocking(false)) ==
                attempt::thread_would_block));
    BOOST_TEST((ask_in_new_thread(path, nonblocking(true)) ==
                (shared ? attempt::granted : attempt::thread_would_block)));
  }
  BOOST_TEST((ask_in_new_thread(path, nonblocking(false)) == attempt::granted));
}

}  // namespace
