// tests/mutex/mutex_test.cpp
//
// path_mutex, process_level_path_mutex and thread_level_path_mutex as
// standard SharedTimedMutex types: the members and their signatures
// (unlock noexcept), try_* true when free and false only on contention (from
// another thread or another process, in a conflicting mode), the timed
// forms' bounds, recursion -> recursive_deadlock_error, and the standard
// tools unchanged: std::unique_lock, std::shared_lock (with their timed
// constructors), std::scoped_lock and std::lock, including std::scoped_lock
// over several path mutexes taken in opposite orders by two threads and by
// two processes, 500 times each, without deadlock.

#define BOOST_TEST_MODULE dreadlocks mutex
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/contention.hpp"
#include "tests/support/nothing_left_behind.hpp"
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

#if defined(__clang__)
// Clang's -Wthread-safety understands the mutex (DREADLOCKS_CAPABILITY and
// the ACQUIRE/RELEASE annotations): this class compiles cleanly with
// -Wthread-safety -Werror, and reading `value_` without the lock would
// not. GUARDED_BY is the user's own (thread_annotations.hpp has none).
namespace {
class annotated_counter {
 public:
  explicit annotated_counter(const fs::path& file) : mutex_(file) {}
  void add() {
    mutex_.lock();
    ++value_;
    mutex_.unlock();
  }
  int read() {
    if (!mutex_.try_lock_shared()) return -1;
    const int value = value_;
    mutex_.unlock_shared();
    return value;
  }

 private:
  dreadlocks::thread_level_path_mutex mutex_;
  int value_ __attribute__((guarded_by(mutex_))) = 0;
};
}  // namespace

// The rest of this file misuses the mutexes on purpose (unlock without a
// hold, try_lock inside assertions), which -Wthread-safety would flag.
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif  // __clang__

namespace {

using all_mutexes = boost::mpl::list<dreadlocks::path_mutex,
                                     dreadlocks::process_level_path_mutex,
                                     dreadlocks::thread_level_path_mutex>;
// The mutexes that exclude threads of one process / processes.
using thread_excluding = boost::mpl::list<dreadlocks::path_mutex,
                                          dreadlocks::thread_level_path_mutex>;
using process_excluding =
    boost::mpl::list<dreadlocks::path_mutex,
                     dreadlocks::process_level_path_mutex>;

constexpr auto kTimeout = 150ms;
constexpr int kRounds = 500;
// The sections of the no-deadlock tests: one per mutex, all held at once.
constexpr int kAllThree[] = {0, 1, 2};

// The (held, asked) mode pairs that conflict.
struct conflict {
  bool held_shared;
  bool asked_shared;
};
constexpr conflict kConflicts[] = {
    {false, false}, {false, true}, {true, false}};

// Another thread holding `m` itself (lock() / lock_shared() in that
// thread).
template <class M>
std::unique_ptr<dlt::holder> hold_in_thread(M& m, bool shared) {
  if (shared) {
    return std::make_unique<dlt::thread_holder>([&m] { m.lock_shared(); },
                                                [&m] { m.unlock_shared(); });
  }
  return std::make_unique<dlt::thread_holder>([&m] { m.lock(); },
                                              [&m] { m.unlock(); });
}

// Another process holding `file` at the process level.
std::unique_ptr<dlt::holder> hold_in_process(const fs::path& file,
                                             bool shared) {
  return dlt::hold_in_process<dreadlocks::process_level_path_lock>(
      file, dlt::mode(shared));
}

// The party that excludes M's holders: another thread where M excludes
// threads, else another process. A process is forked: call this first.
template <class M>
std::unique_ptr<dlt::holder> hold_elsewhere(M& m, bool shared) {
  if constexpr (dlt::excludes_other_threads<M>) {
    return hold_in_thread(m, shared);
  } else {
    return hold_in_process(m.path(), shared);
  }
}

// What `before` becomes while `count` mutexes of type M that have been
// locked live on: a file-backed one keeps its lock file open from its first
// lock to its destructor, one file and one descriptor each (docs/mutex.md).
template <class M>
dlt::holdings kept_by(dlt::holdings before, std::size_t count = 1) {
  if constexpr (dlt::excludes_other_processes<M>) {
    before.open_files += count;
    before.descriptors += count;
  }
  return before;
}

// With another party holding m's path in `held_shared` mode: every try_*
// form asking `asked_shared` is refused (false, not an exception); the
// untimed ones at once, the timed ones after their timeout. A compatible
// request (shared on shared) is granted by every form. Leaves m unlocked,
// keeping its file if it was granted (`kept`: m had been locked before).
template <class M>
void check_try_forms(M& m, bool held_shared, bool kept) {
  const dlt::holdings before = dlt::holdings_now();
  for (const bool asked_shared : {false, true}) {
    BOOST_TEST_CONTEXT("held " << dlt::mode_name(held_shared) << ", asked "
                               << dlt::mode_name(asked_shared)) {
      const bool granted = held_shared && asked_shared;
      const auto try_now = [&] {
        return asked_shared ? m.try_lock_shared() : m.try_lock();
      };
      const auto try_for = [&] {
        return asked_shared ? m.try_lock_shared_for(kTimeout)
                            : m.try_lock_for(kTimeout);
      };
      const auto try_until_steady = [&] {
        return asked_shared ? m.try_lock_shared_until(steady::now() + kTimeout)
                            : m.try_lock_until(steady::now() + kTimeout);
      };
      const auto try_until_system = [&] {
        const auto deadline = std::chrono::system_clock::now() + kTimeout;
        return asked_shared ? m.try_lock_shared_until(deadline)
                            : m.try_lock_until(deadline);
      };
      const auto undo = [&] {
        if (asked_shared) {
          m.unlock_shared();
        } else {
          m.unlock();
        }
      };
      {
        dlt::stopwatch watch;
        const bool got = try_now();
        BOOST_TEST(got == granted);
        BOOST_TEST(watch.elapsed() < dlt::kAtOnce);
        if (got) undo();
      }
      // A zero or negative timeout (or a past deadline) is try_lock.
      for (const auto timeout : {0ms, -5ms}) {
        dlt::stopwatch watch;
        const bool got = asked_shared ? m.try_lock_shared_for(timeout)
                                      : m.try_lock_for(timeout);
        BOOST_TEST(got == granted);
        BOOST_TEST(watch.elapsed() < dlt::kAtOnce);
        if (got) undo();
      }
      for (const auto& timed : {std::function<bool()>(try_for),
                                std::function<bool()>(try_until_steady),
                                std::function<bool()>(try_until_system)}) {
        dlt::stopwatch watch;
        const bool got = timed();
        BOOST_TEST(got == granted);
        if (got) {
          BOOST_TEST(watch.elapsed() < dlt::kAtOnce);
          undo();
        } else {
          dlt::check_timed(watch.elapsed(), kTimeout);
        }
      }
    }
  }
  BOOST_TEST(dlt::holdings_now() ==
                 (held_shared && !kept ? kept_by<M>(before) : before),
             "nothing left by refused tries but the kept file");
}

// Checks that `attempt` throws recursive_deadlock_error at `level`, at
// once.
template <class Attempt>
void expect_recursive(Attempt attempt, dreadlocks::lock_level level) {
  dlt::stopwatch watch;
  try {
    attempt();
    BOOST_ERROR("a repeated lock by the holding thread was granted");
  } catch (const dreadlocks::recursive_deadlock_error& error) {
    BOOST_TEST((error.code() == std::errc::resource_deadlock_would_occur),
               error.what());
    BOOST_TEST((error.level() == level), error.what());
  } catch (const std::exception& error) {
    BOOST_ERROR("unexpected error: " << error.what());
  }
  BOOST_TEST(watch.elapsed() < dlt::kAtOnce);
}

// Checks that Wrapper<M> (std::unique_lock or std::shared_lock) over `m`,
// held elsewhere, owns nothing when made with std::try_to_lock, with a
// timeout, or with a deadline on Clock; the timed ones after kTimeout.
template <template <class> class Wrapper, class Clock, class M>
void expect_constructors_refused(M& m) {
  {
    Wrapper<M> lock(m, std::try_to_lock);
    BOOST_TEST(!lock.owns_lock());
  }
  {
    dlt::stopwatch watch;
    Wrapper<M> lock(m, kTimeout);
    BOOST_TEST(!lock.owns_lock());
    dlt::check_timed(watch.elapsed(), kTimeout);
  }
  {
    dlt::stopwatch watch;
    Wrapper<M> lock(m, Clock::now() + kTimeout);
    BOOST_TEST(!lock.owns_lock());
    dlt::check_timed(watch.elapsed(), kTimeout);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(requirements)

// The SharedTimedMutex members, with the standard signatures; unlock and
// unlock_shared are noexcept; not copyable or movable; made from any path
// type basic_path_lock takes, explicitly.
BOOST_AUTO_TEST_CASE_TEMPLATE(members_and_signatures, M, all_mutexes) {
  M* m = nullptr;
  static_assert(noexcept(m->unlock()), "unlock() must be noexcept");
  static_assert(noexcept(m->unlock_shared()),
                "unlock_shared() must be noexcept");
  static_assert(std::is_same_v<decltype(m->lock()), void>);
  static_assert(std::is_same_v<decltype(m->lock_shared()), void>);
  static_assert(std::is_same_v<decltype(m->try_lock()), bool>);
  static_assert(std::is_same_v<decltype(m->try_lock_shared()), bool>);
  static_assert(std::is_same_v<decltype(m->try_lock_for(1ms)), bool>);
  static_assert(std::is_same_v<decltype(m->try_lock_for(0.5s)), bool>);
  static_assert(std::is_same_v<decltype(m->try_lock_shared_for(1ms)), bool>);
  static_assert(
      std::is_same_v<decltype(m->try_lock_until(steady::now())), bool>);
  static_assert(std::is_same_v<decltype(m->try_lock_shared_until(
                                   std::chrono::system_clock::now())),
                               bool>);
  static_assert(!std::is_copy_constructible_v<M>);
  static_assert(!std::is_copy_assignable_v<M>);
  static_assert(!std::is_move_constructible_v<M>);
  static_assert(!std::is_move_assignable_v<M>);
  static_assert(std::is_constructible_v<M, const char*>);
  static_assert(std::is_constructible_v<M, std::string>);
  static_assert(std::is_constructible_v<M, fs::path>);
  static_assert(!std::is_convertible_v<const char*, M>);
  static_assert(!std::is_default_constructible_v<M>);
  BOOST_TEST(m == nullptr);
}

// The mutex names the normalized absolute path and locks nothing until
// asked; a bad path is refused when the mutex is made. A file-backed
// mutex keeps `..` (docs/keys.md: `sub` could be a symlink); the
// thread-level one folds it.
BOOST_AUTO_TEST_CASE_TEMPLATE(names_normalized_path, M, all_mutexes) {
  const auto empty = dlt::holdings_now();
  const auto file = dlt::unique_path("names");
  M m(file.parent_path() / "." / "sub" / ".." / file.filename());
  if constexpr (dlt::excludes_processes_v<typename M::guard_type>) {
    BOOST_TEST(m.path() ==
               file.parent_path() / "sub" / ".." / file.filename());
  } else {
    BOOST_TEST(m.path() == dlt::key_of(file));
  }
  BOOST_TEST(dlt::holdings_now() == empty);
  BOOST_CHECK_THROW(M(""), std::system_error);
}

// On a free path every form grants at once, and unlocking leaves nothing.
BOOST_AUTO_TEST_CASE_TEMPLATE(free_mutex_grants_every_form, M, all_mutexes) {
  dlt::watchdog dog(20s);
  const auto empty = dlt::holdings_now();
  const auto file = dlt::unique_path("free");
  M m(file);
  m.lock();
  m.unlock();
  m.lock_shared();
  m.unlock_shared();
  BOOST_TEST(m.try_lock());
  m.unlock();
  BOOST_TEST(m.try_lock_shared());
  m.unlock_shared();
  BOOST_TEST(m.try_lock_for(1s));
  m.unlock();
  BOOST_TEST(m.try_lock_for(0s));
  m.unlock();
  BOOST_TEST(m.try_lock_shared_for(1s));
  m.unlock_shared();
  BOOST_TEST(m.try_lock_until(steady::now() + 1s));
  m.unlock();
  BOOST_TEST(m.try_lock_until(std::chrono::system_clock::now() - 1s));
  m.unlock();
  BOOST_TEST(m.try_lock_shared_until(std::chrono::system_clock::now() + 1s));
  m.unlock_shared();
  BOOST_TEST(dlt::holdings_now() == kept_by<M>(empty));
}

// unlock() without a hold does nothing (and does not throw).
BOOST_AUTO_TEST_CASE_TEMPLATE(unlock_without_hold_does_nothing, M,
                              all_mutexes) {
  const auto empty = dlt::holdings_now();
  M m(dlt::unique_path("unheld"));
  m.unlock();
  m.unlock_shared();
  m.lock();
  const auto held = dlt::holdings_now();
  m.unlock_shared();  // the thread holds exclusive, not shared: nothing
  BOOST_TEST(dlt::holdings_now() == held);
  BOOST_TEST(!(held == empty), "the exclusive hold is still there");
  m.unlock();
  BOOST_TEST(dlt::holdings_now() == kept_by<M>(empty));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(contention)

// Another thread holds the same mutex: try_* return false (shared on shared
// is granted), the timed forms after their timeout.
BOOST_AUTO_TEST_CASE_TEMPLATE(another_thread_holds, M, thread_excluding) {
  dlt::watchdog dog(25s);
  const auto empty = dlt::holdings_now();
  M m(dlt::unique_path("thread-contention"));
  for (const bool held_shared : {false, true}) {
    auto holder = hold_in_thread(m, held_shared);
    BOOST_TEST_REQUIRE(holder->wait_held());
    check_try_forms(m, held_shared, true);
    BOOST_TEST(holder->release());
  }
  BOOST_TEST(dlt::holdings_now() == kept_by<M>(empty));
}

// Another process holds the file: the same.
BOOST_AUTO_TEST_CASE_TEMPLATE(another_process_holds, M, process_excluding) {
  dlt::watchdog dog(25s);
  const auto empty = dlt::holdings_now();
  const auto file = dlt::unique_path("process-contention");
  for (const bool held_shared : {false, true}) {
    auto holder = hold_in_process(file, held_shared);
    BOOST_TEST_REQUIRE(holder->wait_held());
    M m(file);
    check_try_forms(m, held_shared, false);
    BOOST_TEST(holder->release());
  }
  BOOST_TEST(dlt::holdings_now() == empty);
}

// try_* report contention as false and anything else as an exception: a
// lock file that cannot be opened is std::system_error, not false.
BOOST_AUTO_TEST_CASE_TEMPLATE(other_failures_throw, M, process_excluding) {
  const auto empty = dlt::holdings_now();
  M m(dlt::scratch_dir() / "no-such-directory" / "x.lock");
  BOOST_CHECK_THROW((void)m.try_lock(), std::system_error);
  BOOST_CHECK_THROW((void)m.try_lock_shared(), std::system_error);
  BOOST_CHECK_THROW((void)m.try_lock_for(1s), std::system_error);
  BOOST_CHECK_THROW((void)m.try_lock_shared_until(steady::now() + 1s),
                    std::system_error);
  BOOST_TEST(dlt::holdings_now() == empty);
}

// A timed try succeeds when the holder lets go before the deadline (the
// holder releases once this thread is seen asleep in the wait).
BOOST_AUTO_TEST_CASE_TEMPLATE(timed_try_granted_on_release, M, all_mutexes) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("timed-release");
  M m(file);
  for (const auto [held_shared, asked_shared] : kConflicts) {
    BOOST_TEST_CONTEXT("held " << dlt::mode_name(held_shared) << ", asked "
                               << dlt::mode_name(asked_shared)) {
      auto holder = hold_elsewhere(m, held_shared);
      BOOST_TEST_REQUIRE(holder->wait_held());
      holder->order_release(
          dlt::release_order::when_asleep(dlt::current_tid()));
      if (asked_shared) {
        BOOST_TEST(m.try_lock_shared_until(steady::now() + 10s));
        m.unlock_shared();
      } else {
        BOOST_TEST(m.try_lock_for(10s));
        m.unlock();
      }
      BOOST_TEST(holder->wait_released(), "the waiter was seen asleep");
    }
  }
}

// The process level is shared by the threads of one process: two threads
// both lock a process_level_path_mutex exclusively at once.
BOOST_AUTO_TEST_CASE(process_level_mutex_is_shared_by_threads) {
  dlt::watchdog dog(20s);
  dreadlocks::process_level_path_mutex m(dlt::unique_path("shared-by-threads"));
  auto holder = hold_in_thread(m, false);
  BOOST_TEST_REQUIRE(holder->wait_held());
  BOOST_TEST(m.try_lock());
  m.unlock();
  BOOST_TEST(holder->release());
  BOOST_TEST(dlt::holdings_now().open_files == 1u, "the mutex keeps its file");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(recursion)

// The holding thread asking again (any form, any mode) gets
// recursive_deadlock_error (errc::resource_deadlock_would_occur) at once,
// never false and never a hang; its hold is untouched.
BOOST_AUTO_TEST_CASE_TEMPLATE(repeated_lock_throws, M, all_mutexes) {
  dlt::watchdog dog(20s);
  const auto empty = dlt::holdings_now();
  M m(dlt::unique_path("recursive"));
  const auto level = dlt::excludes_other_threads<M>
                         ? dreadlocks::lock_level::thread
                         : dreadlocks::lock_level::process;
  for (const bool held_shared : {false, true}) {
    BOOST_TEST_CONTEXT("held " << dlt::mode_name(held_shared)) {
      if (held_shared) {
        m.lock_shared();
      } else {
        m.lock();
      }
      const auto holding = dlt::holdings_now();
      expect_recursive([&] { m.lock(); }, level);
      expect_recursive([&] { m.lock_shared(); }, level);
      expect_recursive([&] { (void)m.try_lock(); }, level);
      expect_recursive([&] { (void)m.try_lock_shared(); }, level);
      expect_recursive([&] { (void)m.try_lock_for(5s); }, level);
      expect_recursive([&] { (void)m.try_lock_shared_for(5s); }, level);
      expect_recursive([&] { (void)m.try_lock_until(steady::now() + 5s); },
                       level);
      expect_recursive(
          [&] { (void)m.try_lock_shared_until(steady::now() + 5s); }, level);
      BOOST_TEST(dlt::holdings_now() == holding);
      if (held_shared) {
        m.unlock_shared();
      } else {
        m.unlock();
      }
      BOOST_TEST(dlt::holdings_now() == kept_by<M>(empty));
    }
  }
  // Usable again.
  BOOST_TEST(m.try_lock());
  m.unlock();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(standard_tools)

// std::unique_lock: the plain, defer, adopt and try constructors, and the
// timed ones (duration and time point), refused while another party holds
// and granted once it has let go.
BOOST_AUTO_TEST_CASE_TEMPLATE(unique_lock, M, all_mutexes) {
  dlt::watchdog dog(20s);
  const auto empty = dlt::holdings_now();
  const auto file = dlt::unique_path("unique-lock");
  M m(file);
  auto holder = hold_elsewhere(m, false);
  BOOST_TEST_REQUIRE(holder->wait_held());
  expect_constructors_refused<std::unique_lock, steady>(m);
  {
    std::unique_lock<M> lock(m, std::defer_lock);
    BOOST_TEST(!lock.try_lock());
    BOOST_TEST(!lock.try_lock_for(0ms));
  }
  BOOST_TEST(holder->release());
  {
    std::unique_lock<M> lock(m);
    BOOST_TEST(lock.owns_lock());
    lock.unlock();
    BOOST_TEST(lock.try_lock_for(kTimeout));
    lock.unlock();
    BOOST_TEST(lock.try_lock_until(steady::now() + kTimeout));
  }
  {
    std::unique_lock<M> lock(m, kTimeout);
    BOOST_TEST(lock.owns_lock());
  }
  {
    m.lock();
    std::unique_lock<M> lock(m, std::adopt_lock);
    BOOST_TEST(lock.owns_lock());
  }
  BOOST_TEST(dlt::holdings_now() == kept_by<M>(empty));
}

// std::shared_lock: readers together (two threads, or this process and
// another), and the try and timed constructors refused while another party
// holds exclusive.
BOOST_AUTO_TEST_CASE_TEMPLATE(shared_lock, M, all_mutexes) {
  dlt::watchdog dog(20s);
  const auto empty = dlt::holdings_now();
  const auto file = dlt::unique_path("shared-lock");
  M m(file);
  {
    auto reader = hold_elsewhere(m, true);
    BOOST_TEST_REQUIRE(reader->wait_held());
    std::shared_lock<M> lock(m, std::try_to_lock);
    BOOST_TEST(lock.owns_lock(), "readers hold together");
    lock.unlock();
    std::unique_lock<M> writer(m, std::try_to_lock);
    BOOST_TEST(!writer.owns_lock(), "a writer waits for the other reader");
    BOOST_TEST(reader->release());
  }
  auto writer = hold_elsewhere(m, false);
  BOOST_TEST_REQUIRE(writer->wait_held());
  expect_constructors_refused<std::shared_lock, std::chrono::system_clock>(m);
  writer->order_release(dlt::release_order::when_asleep(dlt::current_tid()));
  {
    std::shared_lock<M> lock(m, 10s);
    BOOST_TEST(lock.owns_lock());
  }
  BOOST_TEST(writer->wait_released());
  {
    std::shared_lock<M> lock(m);
    BOOST_TEST(lock.owns_lock());
  }
  BOOST_TEST(dlt::holdings_now() == kept_by<M>(empty));
}

// std::scoped_lock and std::lock over several path mutexes: all held
// inside, all free after; std::lock waits for one held elsewhere.
BOOST_AUTO_TEST_CASE_TEMPLATE(scoped_lock_and_std_lock, M, all_mutexes) {
  dlt::watchdog dog(20s);
  const auto empty = dlt::holdings_now();
  M a(dlt::unique_path("scoped-a"));
  M b(dlt::unique_path("scoped-b"));
  M c(dlt::unique_path("scoped-c"));
  // Fork (if M excludes only processes) before this thread locks anything.
  auto holder = hold_elsewhere(b, false);
  BOOST_TEST_REQUIRE(holder->wait_held());
  holder->order_release(dlt::release_order::when_asleep(dlt::current_tid()));
  {
    std::scoped_lock all(a, b, c);  // waits for b's holder
    const auto inside = dlt::holdings_now();
    if (dlt::excludes_other_threads<M>) {
      BOOST_TEST(inside.thread_keys == 3u);
    }
    if (dlt::excludes_other_processes<M>) {
      BOOST_TEST(inside.open_files == 3u);
    }
  }
  BOOST_TEST(holder->wait_released());
  BOOST_TEST(dlt::holdings_now() == kept_by<M>(empty, 3));
  std::lock(c, a);
  c.unlock();
  a.unlock();
  {
    std::scoped_lock one(a);
    std::unique_lock<M> first(b, std::defer_lock);
    std::unique_lock<M> second(c, std::defer_lock);
    std::lock(first, second);
    BOOST_TEST(first.owns_lock());
    BOOST_TEST(second.owns_lock());
  }
  BOOST_TEST(dlt::holdings_now() == kept_by<M>(empty, 3));
}

// Two threads take std::scoped_lock over the same three mutexes named in
// opposite orders, 500 times each: no deadlock (watchdog), and each mutex
// has one holder at a time.
BOOST_AUTO_TEST_CASE_TEMPLATE(opposite_orders_two_threads, M,
                              thread_excluding) {
  dlt::watchdog dog(25s);
  const auto empty = dlt::holdings_now();
  M a(dlt::unique_path("order-a"));
  M b(dlt::unique_path("order-b"));
  M c(dlt::unique_path("order-c"));
  dlt::occupancy<3> inside;
  std::thread forward([&] {
    for (int i = 0; i < kRounds; ++i) {
      std::scoped_lock all(a, b, c);
      inside.enter(kAllThree);
      inside.leave(kAllThree);
    }
  });
  std::thread backward([&] {
    for (int i = 0; i < kRounds; ++i) {
      std::scoped_lock all(c, b, a);
      inside.enter(kAllThree);
      inside.leave(kAllThree);
    }
  });
  forward.join();
  backward.join();
  BOOST_TEST(inside.violations() == 0);
  BOOST_TEST(dlt::holdings_now() == kept_by<M>(empty, 3));
}

// Two processes do the same with their own path mutexes on the same files.
BOOST_AUTO_TEST_CASE_TEMPLATE(opposite_orders_two_processes, M,
                              process_excluding) {
  dlt::watchdog dog(25s);
  const fs::path files[3] = {dlt::unique_path("porder-a"),
                             dlt::unique_path("porder-b"),
                             dlt::unique_path("porder-c")};
  struct shared_state {
    dlt::process_barrier start{2};
    dlt::occupancy<3> inside;
  };
  dlt::shared_object<shared_state> state;
  const auto run = [&](bool reversed) {
    return [&, reversed] {
      M a(files[0]), b(files[1]), c(files[2]);
      dlt::child_require(state->start.arrive_and_wait(), "both started");
      for (int i = 0; i < kRounds; ++i) {
        std::unique_lock<M> x(a, std::defer_lock), y(b, std::defer_lock),
            z(c, std::defer_lock);
        if (reversed) {
          std::scoped_lock all(c, b, a);
          state->inside.enter(kAllThree);
          state->inside.leave(kAllThree);
        } else {
          std::lock(x, y, z);
          state->inside.enter(kAllThree);
          state->inside.leave(kAllThree);
        }
      }
      return 0;
    };
  };
  dlt::run_in_two_processes(run(false), run(true));
  BOOST_TEST(state->inside.violations() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

#if defined(__clang__)
BOOST_AUTO_TEST_CASE(thread_safety_annotations) {
  annotated_counter counter(dlt::unique_path("annotated"));
  counter.add();
  BOOST_TEST(counter.read() == 1);
}
#endif
