// tests/timeout/timeout_test.cpp
//
// lock_options::timeout: expiry at the thread level (another thread holds)
// and at the process level (another process holds), each with the
// level-specific error, its message, and elapsed time in [timeout, timeout
// + 2 s); acquisition when the holder releases before the deadline; a zero
// or negative timeout is exactly blocking = false; one deadline for the
// whole acquisition (thread level plus process level); and a waiter whose
// timeout expires leaves nothing behind and disturbs no other waiter.

#define BOOST_TEST_MODULE dreadlocks timeouts
#include <atomic>
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <exception>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/proc_locks.hpp"
#include "tests/support/scenario_locks.hpp"
#include "tests/support/shared_memory.hpp"
#include "tests/support/temp_path.hpp"
#include "tests/support/watchdog.hpp"
#include "tests/timeout/wait_support.hpp"

namespace dlt = dreadlocks_test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using dlt::steady;
using dreadlocks::lock_level;

namespace {

// The guards that exclude the threads of one process.
using thread_excluding =
    boost::mpl::list<dreadlocks::path_lock, dreadlocks::thread_level_path_lock>;

// The guards that exclude processes: the aliases, and the same
// compositions over classic fcntl locks.
using process_excluding =
    boost::mpl::list<dreadlocks::path_lock, dreadlocks::process_level_path_lock,
                     dlt::both_levels_lock<dreadlocks::fcntl_process_lock>,
                     dlt::process_level_lock<dreadlocks::fcntl_process_lock>>;

// The guards with both levels.
using both_levels_locks =
    boost::mpl::list<dreadlocks::path_lock,
                     dlt::both_levels_lock<dreadlocks::fcntl_process_lock>>;

constexpr auto kShortTimeout = 300ms;
constexpr auto kMargin = 2s;  // generous: sanitizers, loaded CI machines
constexpr auto kLongTimeout = 10s;
constexpr auto kAtOnce = 200ms;  // "did not wait" (a non-blocking attempt)

// The (held, asked) mode pairs that conflict.
struct conflict {
  bool held_shared;
  bool asked_shared;
};
constexpr conflict kConflicts[] = {
    {false, false}, {false, true}, {true, false}};

// Tries Lock on `file` with `options`, expecting the would-block error of
// `level` with `reason` in its message (checked by check_would_block and
// for its dynamic type). Returns how long the attempt took.
template <class Lock>
steady::duration expect_refused(const fs::path& file,
                                dreadlocks::lock_options options,
                                lock_level level, const std::string& reason) {
  dlt::stopwatch watch;
  try {
    Lock lock(file, options);
    BOOST_ERROR("granted, expected " << dreadlocks::to_string(level)
                                     << " would-block");
  } catch (const dreadlocks::acquiring_lock_would_block_error& error) {
    const auto elapsed = watch.elapsed();
    const bool right_type =
        level == lock_level::thread
            ? dynamic_cast<const dreadlocks::
                               acquiring_thread_level_lock_would_block_error*>(
                  &error) != nullptr
            : dynamic_cast<const dreadlocks::
                               acquiring_process_level_lock_would_block_error*>(
                  &error) != nullptr;
    BOOST_TEST(right_type, "wrong error class: " << error.what());
    dlt::check_would_block(error, level, file, options.shared, reason);
    return elapsed;
  } catch (const std::exception& error) {
    BOOST_ERROR("unexpected error: " << error.what());
  }
  return watch.elapsed();
}

// Checks that a timed-out attempt waited its timeout, and not much more.
void check_waited(steady::duration elapsed, std::chrono::milliseconds timeout) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  BOOST_TEST(elapsed >= timeout,
             "waited only " << ms << " ms of " << timeout.count() << " ms");
  BOOST_TEST(elapsed < timeout + kMargin, "waited " << ms << " ms for a "
                                                    << timeout.count()
                                                    << " ms timeout");
}

// Runs Lock on `file` with `options` in a new thread that says it is about
// to lock (its tid, then `about_to_lock`), holds the lock briefly and
// reports how that went through the returned future ("" = granted).
template <class Lock>
std::future<std::string> waiter_thread(const fs::path& file,
                                       dreadlocks::lock_options options,
                                       std::atomic<pid_t>& tid,
                                       std::promise<void>& about_to_lock,
                                       std::thread& thread) {
  std::promise<std::string> result;
  auto future = result.get_future();
  thread = std::thread([file, options, &tid, &about_to_lock,
                        result = std::move(result)]() mutable {
    tid = dlt::current_tid();
    about_to_lock.set_value();
    try {
      Lock lock(file, options);
      result.set_value(lock.owns_lock() ? "" : "not owned");
    } catch (const std::exception& error) {
      result.set_value(error.what());
    }
  });
  return future;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(expiry)

// Another thread holds the key in a conflicting mode: the timed request
// throws the thread-level error, says how long it waited, waited at least
// the timeout, and leaves the registries as they were.
BOOST_AUTO_TEST_CASE_TEMPLATE(at_thread_level, Lock, thread_excluding) {
  dlt::watchdog dog("at_thread_level", 20s);
  for (const auto [held_shared, asked_shared] : kConflicts) {
    BOOST_TEST_CONTEXT("held " << dlt::mode_name(held_shared) << ", asked "
                               << dlt::mode_name(asked_shared)) {
      const auto file = dlt::unique_path("thread-expiry");
      const auto empty = dlt::holdings_now();
      auto holder = dlt::hold_in_thread<Lock>(file, dlt::mode(held_shared));
      BOOST_TEST_REQUIRE(holder->wait_held());
      const auto held = dlt::holdings_now();
      const auto elapsed = expect_refused<Lock>(
          file, dlt::timed(kShortTimeout, asked_shared), lock_level::thread,
          dlt::timed_out_text(kShortTimeout));
      check_waited(elapsed, kShortTimeout);
      BOOST_TEST(dlt::holdings_now() == held);
      BOOST_TEST(holder->release());
      BOOST_TEST(dlt::holdings_now() == empty);
    }
  }
}

// Another process holds the lock file in a conflicting mode: the timed
// request throws the process-level error (path_lock passes its thread
// level, then times out at the process level), says how long it waited,
// and leaves no hold, descriptor or registry entry.
BOOST_AUTO_TEST_CASE_TEMPLATE(at_process_level, Lock, process_excluding) {
  dlt::watchdog dog("at_process_level", 25s);
  for (const auto [held_shared, asked_shared] : kConflicts) {
    BOOST_TEST_CONTEXT("held " << dlt::mode_name(held_shared) << ", asked "
                               << dlt::mode_name(asked_shared)) {
      const auto file = dlt::unique_path("process-expiry");
      const auto empty = dlt::holdings_now();
      auto holder = dlt::hold_in_process<dlt::process_level_of<Lock>>(
          file, dlt::mode(held_shared));
      BOOST_TEST_REQUIRE(holder->wait_held());
      const auto elapsed = expect_refused<Lock>(
          file, dlt::timed(kShortTimeout, asked_shared), lock_level::process,
          dlt::timed_out_text(kShortTimeout));
      check_waited(elapsed, kShortTimeout);
      BOOST_TEST(dlt::holdings_now() == empty);
      // Only the holder's lock is on the file: none of ours.
      BOOST_TEST(dlt::settled_kernel_locks_on(file).size() == 1u);
      BOOST_TEST(holder->release());
    }
  }
}

// The message gives the timeout as asked, to the microsecond.
BOOST_AUTO_TEST_CASE(message_gives_fractional_milliseconds) {
  dlt::watchdog dog("message_gives_fractional_milliseconds", 20s);
  const auto file = dlt::unique_path("fraction");
  auto holder = dlt::hold_in_thread<dreadlocks::thread_level_path_lock>(file);
  BOOST_TEST_REQUIRE(holder->wait_held());
  expect_refused<dreadlocks::thread_level_path_lock>(
      file, dlt::timed(12500us), lock_level::thread,
      "timed out after waiting 12.5 ms");
  expect_refused<dreadlocks::thread_level_path_lock>(
      file, dlt::timed(1001us), lock_level::thread,
      "timed out after waiting 1.001 ms");
  BOOST_TEST(holder->release());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(acquired_before_deadline)

// Another thread holds; this one asks with a long timeout, says it is
// about to lock, and the holder releases once this thread is seen asleep
// in the wait: granted, well before the deadline.
BOOST_AUTO_TEST_CASE_TEMPLATE(thread_holder_releases, Lock, thread_excluding) {
  dlt::watchdog dog("thread_holder_releases", 20s);
  for (const auto [held_shared, asked_shared] : kConflicts) {
    BOOST_TEST_CONTEXT("held " << dlt::mode_name(held_shared) << ", asked "
                               << dlt::mode_name(asked_shared)) {
      const auto file = dlt::unique_path("thread-release");
      auto holder = dlt::hold_in_thread<Lock>(file, dlt::mode(held_shared));
      BOOST_TEST_REQUIRE(holder->wait_held());
      holder->order_release(
          dlt::release_order::when_asleep(dlt::current_tid()));
      dlt::stopwatch watch;
      {
        Lock lock(file, dlt::timed(kLongTimeout, asked_shared));
        BOOST_TEST(lock.owns_lock());
        BOOST_TEST(watch.elapsed() < kLongTimeout);
      }
      BOOST_TEST(holder->wait_released(), "the waiter was seen asleep");
    }
  }
  BOOST_TEST(dreadlocks::detail::thread_registry::instance().size() == 0u);
}

// Another process holds; this process asks with a long timeout (a timed
// process-level wait polls) and the holder releases once this thread is
// seen asleep in the wait: granted.
BOOST_AUTO_TEST_CASE_TEMPLATE(process_holder_releases, Lock,
                              process_excluding) {
  dlt::watchdog dog("process_holder_releases", 25s);
  for (const auto [held_shared, asked_shared] : kConflicts) {
    BOOST_TEST_CONTEXT("held " << dlt::mode_name(held_shared) << ", asked "
                               << dlt::mode_name(asked_shared)) {
      const auto file = dlt::unique_path("process-release");
      auto holder = dlt::hold_in_process<dlt::process_level_of<Lock>>(
          file, dlt::mode(held_shared));
      BOOST_TEST_REQUIRE(holder->wait_held());
      holder->order_release(
          dlt::release_order::when_asleep(dlt::current_tid()));
      dlt::stopwatch watch;
      {
        Lock lock(file, dlt::timed(kLongTimeout, asked_shared));
        BOOST_TEST(lock.owns_lock());
        BOOST_TEST(watch.elapsed() < kLongTimeout);
      }
      BOOST_TEST(holder->wait_released(), "the waiter was seen asleep");
    }
  }
  BOOST_TEST(dreadlocks::detail::process_registry::instance().open_files() ==
             0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(zero_timeout)

// A zero or negative timeout is blocking = false: the same error, the same
// message ("would block", no "timed out"), at once; and granted at once
// when free. A timeout with blocking = false is ignored.
BOOST_AUTO_TEST_CASE_TEMPLATE(is_non_blocking_at_thread_level, Lock,
                              thread_excluding) {
  dlt::watchdog dog("is_non_blocking_at_thread_level", 20s);
  const auto file = dlt::unique_path("zero-thread");
  {
    Lock free(file, dlt::timed(0ns));
    BOOST_TEST(free.owns_lock());
  }
  auto holder = dlt::hold_in_thread<Lock>(file);
  BOOST_TEST_REQUIRE(holder->wait_held());
  std::string non_blocking_message;
  try {
    Lock lock(file, dlt::mode(false, false));
  } catch (
      const dreadlocks::acquiring_thread_level_lock_would_block_error& error) {
    non_blocking_message = error.what();
  }
  BOOST_TEST_REQUIRE(!non_blocking_message.empty());
  for (const auto timeout : {0ns, -1ns, std::chrono::nanoseconds(-1s)}) {
    BOOST_TEST_CONTEXT("timeout " << timeout.count() << " ns") {
      dlt::stopwatch watch;
      try {
        Lock lock(file, dlt::timed(timeout));
        BOOST_ERROR("granted");
      } catch (const dreadlocks::acquiring_thread_level_lock_would_block_error&
                   error) {
        BOOST_TEST(std::string(error.what()) == non_blocking_message);
        BOOST_TEST(std::string(error.what()).find("timed out") ==
                   std::string::npos);
      }
      BOOST_TEST(watch.elapsed() < kAtOnce);
    }
  }
  // blocking = false wins over a timeout.
  dreadlocks::lock_options options = dlt::timed(kLongTimeout);
  options.blocking = false;
  const auto elapsed =
      expect_refused<Lock>(file, options, lock_level::thread, "would block");
  BOOST_TEST(elapsed < kAtOnce);
  BOOST_TEST(holder->release());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(is_non_blocking_at_process_level, Lock,
                              process_excluding) {
  dlt::watchdog dog("is_non_blocking_at_process_level", 20s);
  const auto file = dlt::unique_path("zero-process");
  auto holder =
      dlt::hold_in_process<dlt::process_level_of<Lock>>(file, dlt::mode(false));
  BOOST_TEST_REQUIRE(holder->wait_held());
  std::string non_blocking_message;
  try {
    Lock lock(file, dlt::mode(false, false));
  } catch (
      const dreadlocks::acquiring_process_level_lock_would_block_error& error) {
    non_blocking_message = error.what();
  }
  BOOST_TEST_REQUIRE(!non_blocking_message.empty());
  for (const auto timeout : {0ns, -1ns, std::chrono::nanoseconds(-1s)}) {
    BOOST_TEST_CONTEXT("timeout " << timeout.count() << " ns") {
      dlt::stopwatch watch;
      try {
        Lock lock(file, dlt::timed(timeout));
        BOOST_ERROR("granted");
      } catch (const dreadlocks::acquiring_process_level_lock_would_block_error&
                   error) {
        BOOST_TEST(std::string(error.what()) == non_blocking_message);
      }
      BOOST_TEST(watch.elapsed() < kAtOnce);
    }
  }
  BOOST_TEST(dreadlocks::detail::process_registry::instance().open_files() ==
             0u);
  BOOST_TEST(holder->release());
  Lock free(file, dlt::timed(0ns));
  BOOST_TEST(free.owns_lock());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(whole_acquisition)

// One deadline for both levels. Another process holds the file throughout;
// another thread holds the key for the first 1.5 s of a 2 s timeout. The
// path_lock waits 1.5 s at the thread level, then polls the process level
// for the remaining 0.5 s and throws the process-level error: about 2 s in
// all. With a timer per level it would take 3.5 s.
BOOST_AUTO_TEST_CASE_TEMPLATE(thread_level_then_process_level, Lock,
                              both_levels_locks) {
  dlt::watchdog dog("thread_level_then_process_level", 20s);
  constexpr auto timeout = 2000ms;
  constexpr auto thread_part = 1500ms;
  const auto file = dlt::unique_path("whole");
  // Fork first, while this process holds nothing.
  auto other_process = dlt::hold_in_process<dlt::process_level_of<Lock>>(file);
  BOOST_TEST_REQUIRE(other_process->wait_held());
  auto other_thread =
      dlt::hold_in_thread<dreadlocks::thread_level_path_lock>(file);
  BOOST_TEST_REQUIRE(other_thread->wait_held());

  dlt::stopwatch watch;
  other_thread->order_release(
      dlt::release_order::at(watch.start() + thread_part));
  const auto elapsed =
      expect_refused<Lock>(file, dlt::timed(timeout), lock_level::process,
                           dlt::timed_out_text(timeout));
  BOOST_TEST(other_thread->wait_released());
  check_waited(elapsed, timeout);
  BOOST_TEST(elapsed < timeout + 1000ms,
             "waited " << std::chrono::duration_cast<std::chrono::milliseconds>(
                              elapsed)
                              .count()
                       << " ms: the process level got a timeout of its own");
  BOOST_TEST(other_process->release());
  BOOST_TEST(dlt::holdings_now().thread_keys == 0u);
  BOOST_TEST(dlt::holdings_now().open_files == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(expired_waiter)

// Thread level: a holder, an untimed waiter (asleep in its wait), then a
// timed waiter that expires. The registry entry is the holder's and the
// untimed waiter's alone; on release the untimed waiter is granted; then
// nothing is left.
BOOST_AUTO_TEST_CASE_TEMPLATE(at_thread_level_disturbs_nothing, Lock,
                              thread_excluding) {
  dlt::watchdog dog("at_thread_level_disturbs_nothing", 20s);
  const auto file = dlt::unique_path("expired-thread");
  const auto empty = dlt::holdings_now();
  auto holder = dlt::hold_in_thread<Lock>(file);
  BOOST_TEST_REQUIRE(holder->wait_held());
  const auto held = dlt::holdings_now();

  std::atomic<pid_t> tid{0};
  std::promise<void> about_to_lock;
  std::thread untimed;
  auto untimed_result =
      waiter_thread<Lock>(file, {}, tid, about_to_lock, untimed);
  about_to_lock.get_future().wait();
  BOOST_TEST_REQUIRE(dlt::wait_until_asleep(tid));

  const auto elapsed =
      expect_refused<Lock>(file, dlt::timed(kShortTimeout), lock_level::thread,
                           dlt::timed_out_text(kShortTimeout));
  check_waited(elapsed, kShortTimeout);
  BOOST_TEST(dlt::holdings_now() == held);
  BOOST_TEST((untimed_result.wait_for(0s) == std::future_status::timeout),
             "the untimed waiter still waits");

  BOOST_TEST(holder->release());
  BOOST_TEST_REQUIRE(
      (untimed_result.wait_for(10s) == std::future_status::ready));
  BOOST_TEST(untimed_result.get() == "", "the untimed waiter was granted");
  untimed.join();
  BOOST_TEST(dlt::holdings_now() == empty);
}

// Process level, inside one process: another process holds the file; an
// untimed waiter of this process waits in the kernel (seen in /proc/locks);
// a timed waiter of this process (which then waits for that one) expires
// with the process-level error. The descriptor stays the untimed waiter's;
// on release it is granted; then nothing is left. Shared requests, so that
// both pass path_lock's thread level.
BOOST_AUTO_TEST_CASE_TEMPLATE(at_process_level_disturbs_nothing, Lock,
                              process_excluding) {
  dlt::watchdog dog("at_process_level_disturbs_nothing", 20s);
  for (const bool shared : {true, false}) {
    if (!shared && dlt::excludes_threads_v<Lock>) continue;
    BOOST_TEST_CONTEXT("asked " << dlt::mode_name(shared)) {
      const auto file = dlt::unique_path("expired-process");
      const auto empty = dlt::holdings_now();
      auto holder = dlt::hold_in_process<dlt::process_level_of<Lock>>(file);
      BOOST_TEST_REQUIRE(holder->wait_held());

      std::atomic<pid_t> tid{0};
      std::promise<void> about_to_lock;
      std::thread untimed;
      auto untimed_result = waiter_thread<Lock>(file, dlt::mode(shared), tid,
                                                about_to_lock, untimed);
      BOOST_TEST_REQUIRE(dlt::wait_for_blocked_requests(file, 1));
      const auto waiting = dlt::holdings_now();

      const auto elapsed = expect_refused<Lock>(
          file, dlt::timed(kShortTimeout, shared), lock_level::process,
          dlt::timed_out_text(kShortTimeout));
      check_waited(elapsed, kShortTimeout);
      BOOST_TEST(dlt::holdings_now() == waiting);
      BOOST_TEST(dlt::settled_blocked_requests_on(file) == 1u);
      BOOST_TEST((untimed_result.wait_for(0s) == std::future_status::timeout));

      BOOST_TEST(holder->release());
      BOOST_TEST_REQUIRE(
          (untimed_result.wait_for(10s) == std::future_status::ready));
      BOOST_TEST(untimed_result.get() == "", "the untimed waiter was granted");
      untimed.join();
      BOOST_TEST(dlt::holdings_now() == empty);
      BOOST_TEST(dlt::settled_kernel_locks_on(file).empty());
    }
  }
}

// Across processes: process A holds, process B waits untimed (in the
// kernel), this process's timed request expires; A releases and B is
// granted.
BOOST_AUTO_TEST_CASE_TEMPLATE(does_not_disturb_another_process, Lock,
                              process_excluding) {
  dlt::watchdog dog("does_not_disturb_another_process", 20s);
  const auto file = dlt::unique_path("expired-other");
  const auto empty = dlt::holdings_now();
  auto a = dlt::hold_in_process<dlt::process_level_of<Lock>>(file);
  BOOST_TEST_REQUIRE(a->wait_held());
  auto b = dlt::hold_in_process<dlt::process_level_of<Lock>>(file);
  BOOST_TEST_REQUIRE(dlt::wait_for_blocked_requests(file, 1));

  const auto elapsed =
      expect_refused<Lock>(file, dlt::timed(kShortTimeout), lock_level::process,
                           dlt::timed_out_text(kShortTimeout));
  check_waited(elapsed, kShortTimeout);
  BOOST_TEST(dlt::holdings_now() == empty);

  BOOST_TEST(a->release());
  BOOST_TEST(b->wait_held(), "the other process's waiter was granted");
  BOOST_TEST(b->release());
}

BOOST_AUTO_TEST_SUITE_END()
