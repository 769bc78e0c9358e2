// tests/timeout/huge_timeout_test.cpp
//
// Timeouts at the edges of the duration types:
// - The largest timeouts a caller can name mean "wait as long as it
//   takes": lock_options::timeout = nanoseconds::max(), and the mutex's
//   try_lock_until(time_point::max()) (std::timed_mutex waits there; so
//   must a SharedTimedMutex). These overflowed `start + timeout` before
//   commit 3193628 and timed out at once; they pass since.
// - A short timeout in a duration type with a narrow representation
//   (std::chrono::duration<int, std::micro>, <int, std::nano>) is still that
//   short timeout. basic_path_mutex::wait_for() used to compare it with
//   duration_cast<duration<int, ...>>(nanoseconds::max()), which does not
//   fit an int and wrapped (to -1511828489 us, -1 ns), so every such timeout
//   was taken for "forever": try_lock_for(duration<int, std::micro>(100000))
//   waited until the holder released instead of returning false after
//   100 ms. Fixed in commit 2c2a2d3 (compared as long double nanoseconds).
//
// The holder releases once the waiter is seen asleep in its wait, or, for
// the narrow cases, 1 s after the call: a 100 ms (50 ms) timeout must end
// long before that.

#define BOOST_TEST_MODULE dreadlocks huge timeouts
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/temp_path.hpp"
#include "tests/support/watchdog.hpp"
#include "tests/timeout/wait_support.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace dlt = dreadlocks_test;
using namespace std::chrono_literals;

namespace {

// Once `holder` (another thread or process) holds, runs `attempt`, which
// must wait until the holder releases (when it sees this thread asleep)
// and then be granted: return true rather than throw or return false.
template <class Attempt>
void granted_after_release(std::unique_ptr<dlt::holder> holder,
                           Attempt attempt) {
  BOOST_TEST_REQUIRE(holder->wait_held());
  holder->order_release(dlt::release_order::when_asleep(dlt::current_tid()));
  std::string outcome;
  try {
    outcome = attempt() ? "" : "returned false";
  } catch (const std::exception& error) {
    outcome = error.what();
  }
  BOOST_TEST(holder->wait_released());
  BOOST_TEST(outcome == "", "not granted: " << outcome);
}

// Another thread holds the key of `file` (no lock file: thread level only).
std::unique_ptr<dlt::holder> key_held_in_thread(
    const std::filesystem::path& file) {
  return dlt::hold_in_thread<dreadlocks::thread_level_path_lock>(file);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(huge_timeouts)

BOOST_AUTO_TEST_CASE(timeout_of_nanoseconds_max_waits_at_thread_level) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("max-thread");
  granted_after_release(key_held_in_thread(file), [&] {
    dreadlocks::thread_level_path_lock lock(
        file, dlt::timed(std::chrono::nanoseconds::max()));
    return lock.owns_lock();
  });
}

BOOST_AUTO_TEST_CASE(timeout_of_nanoseconds_max_waits_at_process_level) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("max-process");
  granted_after_release(
      dlt::hold_in_process<dreadlocks::process_level_path_lock>(file), [&] {
        dreadlocks::path_lock lock(file,
                                   dlt::timed(std::chrono::nanoseconds::max()));
        return lock.owns_lock();
      });
}

BOOST_AUTO_TEST_CASE(try_lock_until_time_point_max_waits) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("max-until");
  dreadlocks::thread_level_path_mutex mutex(file);
  granted_after_release(key_held_in_thread(file), [&] {
    const bool got =
        mutex.try_lock_until(std::chrono::steady_clock::time_point::max());
    if (got) mutex.unlock();
    return got;
  });
}

// system_clock's maximum minus now does not overflow steady_clock's time
// points (whose epoch is the boot): this one passes today.
BOOST_AUTO_TEST_CASE(shared_lock_until_system_clock_max_waits) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("max-unique");
  dreadlocks::thread_level_path_mutex mutex(file);
  granted_after_release(key_held_in_thread(file), [&] {
    std::shared_lock<dreadlocks::thread_level_path_mutex> lock(
        mutex, std::chrono::system_clock::time_point::max());
    return lock.owns_lock();
  });
}

// A 100 ms timeout given as duration<int, std::micro> (or 50 ms as
// duration<int, std::nano>) against a holder that keeps the key for 1 s:
// false after about the timeout, not true after 1 s.
BOOST_AUTO_TEST_CASE(narrow_duration_types_keep_their_timeout) {
  dlt::watchdog dog(25s);
  const auto file = dlt::unique_path("narrow");
  dreadlocks::thread_level_path_mutex mutex(file);
  const auto attempt = [&](const char* what, auto timeout, bool shared) {
    BOOST_TEST_CONTEXT(what) {
      auto holder = key_held_in_thread(file);
      BOOST_TEST_REQUIRE(holder->wait_held());
      dlt::stopwatch watch;
      holder->order_release(dlt::release_order::at(watch.start() + 1s));
      const bool got = shared ? mutex.try_lock_shared_for(timeout)
                              : mutex.try_lock_for(timeout);
      const auto elapsed = watch.elapsed();
      BOOST_TEST(!got, "granted after " << watch.ms()
                                        << " ms: the timeout was ignored");
      BOOST_TEST(elapsed >= timeout);
      BOOST_TEST(elapsed < timeout + 800ms, "took " << watch.ms() << " ms");
      if (got) {
        if (shared) {
          mutex.unlock_shared();
        } else {
          mutex.unlock();
        }
      }
      BOOST_TEST(holder->wait_released());
    }
  };
  attempt("duration<int, micro>(100000)",
          std::chrono::duration<int, std::micro>(100000), false);
  attempt("duration<int, nano>(50000000), shared",
          std::chrono::duration<int, std::nano>(50000000), true);
}

BOOST_AUTO_TEST_SUITE_END()
