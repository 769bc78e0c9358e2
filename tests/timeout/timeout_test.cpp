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
#include <cstddef>
#include <exception>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>

#include "dreadlocks/dreadlocks.hpp"
#include "dreadlocks/introspection.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/proc_locks.hpp"
#include "tests/support/scenario_locks.hpp"
#include "tests/support/shared_memory.hpp"
#include "tests/support/temp_path.hpp"
#include "tests/support/watchdog.hpp"
#include "tests/timeout/wait_support.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

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

// A timed request that expires at `level`: that level's error, with the
// timeout in its message, after waiting about the timeout.
template <class Lock>
void expect_expiry(const fs::path& file, bool shared, lock_level level) {
  const auto elapsed =
      expect_refused<Lock>(file, dlt::timed(kShortTimeout, shared), level,
                           dlt::timed_out_text(kShortTimeout));
  check_waited(elapsed, kShortTimeout);
}

// `holder` once it holds; the test case ends here if it never does.
std::unique_ptr<dlt::holder> once_held(std::unique_ptr<dlt::holder> holder) {
  BOOST_TEST_REQUIRE(holder->wait_held());
  return holder;
}

// Where the conflicting holder is, for a scenario written once for both
// levels: another thread (its hold is in this process's registries, and
// refused at the thread level) or another process (nothing of it is in this
// process; refused at the process level, by Lock's own OS primitive).
template <class Lock, lock_level Level>
struct other_holder {
  static constexpr lock_level level = Level;
  static constexpr bool in_this_process = Level == lock_level::thread;
  using would_block_error = std::conditional_t<
      in_this_process,
      dreadlocks::acquiring_thread_level_lock_would_block_error,
      dreadlocks::acquiring_process_level_lock_would_block_error>;

  static std::unique_ptr<dlt::holder> hold(
      const fs::path& file, dreadlocks::lock_options options = {}) {
    if constexpr (in_this_process) {
      return dlt::hold_in_thread<Lock>(file, options);
    } else {
      return dlt::hold_in_process<dlt::process_level_of<Lock>>(file, options);
    }
  }

  // The entries Level keeps in this process.
  static std::size_t registry_entries() {
    return in_this_process ? dreadlocks::introspection::held_thread_keys()
                           : dreadlocks::introspection::open_lock_files();
  }
};

template <class Lock>
using other_thread = other_holder<Lock, lock_level::thread>;
template <class Lock>
using other_process = other_holder<Lock, lock_level::process>;

// Runs `scenario(held_shared, asked_shared)` for each conflicting pair,
// named in the failure context.
template <class Scenario>
void for_each_conflict(Scenario scenario) {
  for (const auto [held_shared, asked_shared] : kConflicts) {
    BOOST_TEST_CONTEXT("held " << dlt::mode_name(held_shared) << ", asked "
                               << dlt::mode_name(asked_shared)) {
      scenario(held_shared, asked_shared);
    }
  }
}

// Other holds a fresh file in each conflicting mode; a timed request
// expires at Other's level and leaves what was there before it: the
// holder's own entries when the holder is a thread of this process, none
// at all when it is another process (whose lock is then the only one on
// the file).
template <class Lock, class Other>
void expires_against_each_conflict(const std::string& stem) {
  for_each_conflict([&](bool held_shared, bool asked_shared) {
    const auto file = dlt::unique_path(stem);
    const auto empty = dlt::holdings_now();
    auto holder = once_held(Other::hold(file, dlt::mode(held_shared)));
    const auto held = dlt::holdings_now();
    expect_expiry<Lock>(file, asked_shared, Other::level);
    if constexpr (Other::in_this_process) {
      BOOST_TEST(dlt::holdings_now() == held);
    } else {
      BOOST_TEST(dlt::holdings_now() == empty);
      BOOST_TEST(dlt::settled_kernel_locks_on(file).size() == 1u);
    }
    BOOST_TEST(holder->release());
    if constexpr (Other::in_this_process) {
      BOOST_TEST(dlt::holdings_now() == empty);
    }
  });
}

// Other holds a fresh file in each conflicting mode and releases once
// this thread is seen asleep in its wait: the long-timeout request is
// granted before its deadline, and leaves no entry at Other's level.
template <class Lock, class Other>
void granted_when_released_in_each_conflict(const std::string& stem) {
  for_each_conflict([&](bool held_shared, bool asked_shared) {
    const auto file = dlt::unique_path(stem);
    auto holder = once_held(Other::hold(file, dlt::mode(held_shared)));
    holder->order_release(dlt::release_order::when_asleep(dlt::current_tid()));
    dlt::stopwatch watch;
    {
      Lock lock(file, dlt::timed(kLongTimeout, asked_shared));
      BOOST_TEST(lock.owns_lock());
      BOOST_TEST(watch.elapsed() < kLongTimeout);
    }
    BOOST_TEST(holder->wait_released(), "the waiter was seen asleep");
  });
  BOOST_TEST(Other::registry_entries() == 0u);
}

// While Other holds `file` exclusively: zero and negative timeouts are
// refused at once, with Other's level's error and the very message of a
// non-blocking request (which says it would block, not that it timed out).
template <class Lock, class Other>
void zero_and_negative_timeouts_refused_at_once(const fs::path& file) {
  using would_block_error = typename Other::would_block_error;
  std::string non_blocking_message;
  try {
    Lock lock(file, dlt::mode(false, false));
  } catch (const would_block_error& error) {
    non_blocking_message = error.what();
  }
  BOOST_TEST_REQUIRE(!non_blocking_message.empty());
  for (const auto timeout : {0ns, -1ns, std::chrono::nanoseconds(-1s)}) {
    BOOST_TEST_CONTEXT("timeout " << timeout.count() << " ns") {
      dlt::stopwatch watch;
      try {
        Lock lock(file, dlt::timed(timeout));
        BOOST_ERROR("granted");
      } catch (const would_block_error& error) {
        BOOST_TEST(std::string(error.what()) == non_blocking_message);
        BOOST_TEST(std::string(error.what()).find("timed out") ==
                   std::string::npos);
      }
      BOOST_TEST(watch.elapsed() < kAtOnce);
    }
  }
}

// untimed_waiter
//
// A thread of this process that asks for Lock on `file` with no timeout,
// holds it briefly once granted and reports how that went. It announces
// that it is about to lock, so that seeing it asleep afterwards means it
// waits inside the lock call.
template <class Lock>
class untimed_waiter {
 public:
  untimed_waiter(fs::path file, dreadlocks::lock_options options)
      : announced_(about_to_lock_.get_future()),
        outcome_(result_.get_future()),
        thread_([this, file = std::move(file), options] {
          tid_ = dlt::current_tid();
          about_to_lock_.set_value();
          try {
            Lock lock(file, options);
            result_.set_value(lock.owns_lock() ? "" : "not owned");
          } catch (const std::exception& error) {
            result_.set_value(error.what());
          }
        }) {}

  untimed_waiter(const untimed_waiter&) = delete;
  untimed_waiter& operator=(const untimed_waiter&) = delete;

  ~untimed_waiter() { join(); }

  // Bounded: whether the thread was seen asleep after its announcement.
  bool seen_asleep() {
    return announced_.wait_for(10s) == std::future_status::ready &&
           dlt::wait_until_asleep(tid_);
  }

  bool still_waiting() {
    return outcome_.wait_for(0s) == std::future_status::timeout;
  }

  // Bounded: whether the thread has finished its attempt.
  bool finished() {
    return outcome_.wait_for(10s) == std::future_status::ready;
  }

  // Once finished: "" if it was granted, else what went wrong.
  std::string outcome() { return outcome_.get(); }

  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<pid_t> tid_{0};
  std::promise<void> about_to_lock_;
  std::promise<std::string> result_;
  std::future<void> announced_;
  std::future<std::string> outcome_;
  std::thread thread_;  // last: starts once the rest is built
};

// The holder releases: the untimed waiter is granted, and once it is gone
// this process holds what it held at `before`.
template <class Lock>
void release_grants_the_waiter(dlt::holder& holder,
                               untimed_waiter<Lock>& waiter,
                               const dlt::holdings& before) {
  BOOST_TEST(holder.release());
  BOOST_TEST_REQUIRE(waiter.finished());
  BOOST_TEST(waiter.outcome() == "", "the untimed waiter was granted");
  waiter.join();
  BOOST_TEST(dlt::holdings_now() == before);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(expiry)

// Another thread holds the key in a conflicting mode: the timed request
// throws the thread-level error, says how long it waited, waited at least
// the timeout, and leaves the registries as they were.
BOOST_AUTO_TEST_CASE_TEMPLATE(at_thread_level, Lock, thread_excluding) {
  dlt::watchdog dog(20s);
  expires_against_each_conflict<Lock, other_thread<Lock>>("thread-expiry");
}

// Another process holds the lock file in a conflicting mode: the timed
// request throws the process-level error (path_lock passes its thread
// level, then times out at the process level), says how long it waited,
// and leaves no hold, descriptor or registry entry.
BOOST_AUTO_TEST_CASE_TEMPLATE(at_process_level, Lock, process_excluding) {
  dlt::watchdog dog(25s);
  expires_against_each_conflict<Lock, other_process<Lock>>("process-expiry");
}

// The message gives the timeout as asked, to the microsecond.
BOOST_AUTO_TEST_CASE(message_gives_fractional_milliseconds) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("fraction");
  auto holder =
      once_held(dlt::hold_in_thread<dreadlocks::thread_level_path_lock>(file));
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
  dlt::watchdog dog(20s);
  granted_when_released_in_each_conflict<Lock, other_thread<Lock>>(
      "thread-release");
}

// Another process holds; this process asks with a long timeout (a timed
// process-level wait polls) and the holder releases once this thread is
// seen asleep in the wait: granted.
BOOST_AUTO_TEST_CASE_TEMPLATE(process_holder_releases, Lock,
                              process_excluding) {
  dlt::watchdog dog(25s);
  granted_when_released_in_each_conflict<Lock, other_process<Lock>>(
      "process-release");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(zero_timeout)

// A zero or negative timeout is blocking = false: the same error, the same
// message ("would block", no "timed out"), at once; and granted at once
// when free. A timeout with blocking = false is ignored.
BOOST_AUTO_TEST_CASE_TEMPLATE(is_non_blocking_at_thread_level, Lock,
                              thread_excluding) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("zero-thread");
  {
    Lock free(file, dlt::timed(0ns));
    BOOST_TEST(free.owns_lock());
  }
  auto holder = once_held(other_thread<Lock>::hold(file));
  zero_and_negative_timeouts_refused_at_once<Lock, other_thread<Lock>>(file);
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
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("zero-process");
  auto holder = once_held(other_process<Lock>::hold(file));
  zero_and_negative_timeouts_refused_at_once<Lock, other_process<Lock>>(file);
  BOOST_TEST(other_process<Lock>::registry_entries() == 0u);
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
  dlt::watchdog dog(20s);
  constexpr auto timeout = 2000ms;
  constexpr auto thread_part = 1500ms;
  const auto file = dlt::unique_path("whole");
  // Fork first, while this process holds nothing.
  auto process_holder = once_held(other_process<Lock>::hold(file));
  auto thread_holder =
      once_held(dlt::hold_in_thread<dreadlocks::thread_level_path_lock>(file));

  dlt::stopwatch watch;
  thread_holder->order_release(
      dlt::release_order::at(watch.start() + thread_part));
  const auto elapsed =
      expect_refused<Lock>(file, dlt::timed(timeout), lock_level::process,
                           dlt::timed_out_text(timeout));
  BOOST_TEST(thread_holder->wait_released());
  check_waited(elapsed, timeout);
  BOOST_TEST(elapsed < timeout + 1000ms,
             "waited " << std::chrono::duration_cast<std::chrono::milliseconds>(
                              elapsed)
                              .count()
                       << " ms: the process level got a timeout of its own");
  BOOST_TEST(process_holder->release());
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
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("expired-thread");
  const auto empty = dlt::holdings_now();
  auto holder = once_held(other_thread<Lock>::hold(file));
  const auto held = dlt::holdings_now();

  untimed_waiter<Lock> untimed(file, {});
  BOOST_TEST_REQUIRE(untimed.seen_asleep());

  expect_expiry<Lock>(file, false, lock_level::thread);
  BOOST_TEST(dlt::holdings_now() == held);
  BOOST_TEST(untimed.still_waiting(), "the untimed waiter still waits");

  release_grants_the_waiter(*holder, untimed, empty);
}

// Process level, inside one process: another process holds the file; an
// untimed waiter of this process waits in the kernel (seen in /proc/locks);
// a timed waiter of this process (which then waits for that one) expires
// with the process-level error. The descriptor stays the untimed waiter's;
// on release it is granted; then nothing is left. Shared requests, so that
// both pass path_lock's thread level.
BOOST_AUTO_TEST_CASE_TEMPLATE(at_process_level_disturbs_nothing, Lock,
                              process_excluding) {
  dlt::watchdog dog(20s);
  for (const bool shared : {true, false}) {
    if (!shared && dlt::excludes_threads_v<Lock>) continue;
    BOOST_TEST_CONTEXT("asked " << dlt::mode_name(shared)) {
      const auto file = dlt::unique_path("expired-process");
      const auto empty = dlt::holdings_now();
      auto holder = once_held(other_process<Lock>::hold(file));

      untimed_waiter<Lock> untimed(file, dlt::mode(shared));
      BOOST_TEST_REQUIRE(dlt::wait_for_blocked_requests(file, 1));
      const auto waiting = dlt::holdings_now();

      expect_expiry<Lock>(file, shared, lock_level::process);
      BOOST_TEST(dlt::holdings_now() == waiting);
      BOOST_TEST(dlt::settled_blocked_requests_on(file) == 1u);
      BOOST_TEST(untimed.still_waiting(), "the untimed waiter still waits");

      release_grants_the_waiter(*holder, untimed, empty);
      BOOST_TEST(dlt::settled_kernel_locks_on(file).empty());
    }
  }
}

// Across processes: process A holds, process B waits untimed (in the
// kernel), this process's timed request expires; A releases and B is
// granted.
BOOST_AUTO_TEST_CASE_TEMPLATE(does_not_disturb_another_process, Lock,
                              process_excluding) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("expired-other");
  const auto empty = dlt::holdings_now();
  auto a = once_held(other_process<Lock>::hold(file));
  auto b = other_process<Lock>::hold(file);
  BOOST_TEST_REQUIRE(dlt::wait_for_blocked_requests(file, 1));

  expect_expiry<Lock>(file, false, lock_level::process);
  BOOST_TEST(dlt::holdings_now() == empty);

  BOOST_TEST(a->release());
  BOOST_TEST(b->wait_held(), "the other process's waiter was granted");
  BOOST_TEST(b->release());
}

BOOST_AUTO_TEST_SUITE_END()
