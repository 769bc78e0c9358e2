// tests/multi/multi_path_test.cpp
//
// basic_multi_path_lock and its aliases: the set is locked in the canonical
// total order (normalized absolute path, compared as strings), duplicates
// folded, released in reverse; the non-blocking and timed forms are all or
// nothing (on conflict with another thread or another process, nothing
// stays held and the registries are back where they were); one deadline
// for the whole set; and two threads, and two processes, locking
// overlapping sets named in opposite orders 500 times finish without
// deadlock, each path with one holder at a time.

#define BOOST_TEST_MODULE dreadlocks multi path
#include <unistd.h>

#include <array>
#include <barrier>
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/contention.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/proc_locks.hpp"
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

using all_multi = boost::mpl::list<dreadlocks::multi_path_lock,
                                   dreadlocks::process_level_multi_path_lock,
                                   dreadlocks::thread_level_multi_path_lock>;
using thread_excluding =
    boost::mpl::list<dreadlocks::multi_path_lock,
                     dreadlocks::thread_level_multi_path_lock>;
using process_excluding =
    boost::mpl::list<dreadlocks::multi_path_lock,
                     dreadlocks::process_level_multi_path_lock>;

constexpr auto kShortTimeout = 300ms;
constexpr int kRounds = 500;

// Stays inside a critical section a little while (a busy wait of ~20 us),
// so that the two sides overlap: with a barrier before each round, an
// implementation without the canonical order deadlocks within a few rounds
// (checked by hand against such a mutant).
void linger() {
  const auto until = steady::now() + 20us;
  while (steady::now() < until) std::this_thread::yield();
}

// A fresh directory for one test's lock files, so that their names (and
// so their order) are the test's to choose.
fs::path fresh_dir(const std::string& stem) {
  auto dir = dlt::unique_path(stem);
  dir.replace_extension(".d");
  fs::create_directories(dir);
  return dir;
}

// The paths a.lock, b.lock, ... (`count` of them) in a fresh_dir(stem).
std::vector<fs::path> fresh_files(const std::string& stem, int count) {
  const fs::path dir = fresh_dir(stem);
  std::vector<fs::path> files;
  for (int i = 0; i < count; ++i) {
    files.push_back(dir /
                    (std::string(1, static_cast<char>('a' + i)) + ".lock"));
  }
  return files;
}

template <class L>
std::vector<fs::path> guard_paths(const L& lock) {
  std::vector<fs::path> paths;
  for (const auto& guard : lock.guards()) paths.push_back(guard.path());
  return paths;
}

// Tries L over `files` with `options`, expecting the would-block error of
// `level` naming `culprit`. Returns the time it took.
template <class L>
steady::duration expect_refused(const std::vector<fs::path>& files,
                                dreadlocks::lock_options options,
                                lock_level level, const fs::path& culprit,
                                const std::string& reason) {
  dlt::stopwatch watch;
  try {
    L lock(files, options);
    BOOST_ERROR("granted, expected a would-block error");
  } catch (const dreadlocks::acquiring_lock_would_block_error& error) {
    const auto elapsed = watch.elapsed();
    dlt::check_would_block(error, level, culprit, options.shared, reason);
    return elapsed;
  } catch (const std::exception& error) {
    BOOST_ERROR("unexpected error: " << error.what());
  }
  return watch.elapsed();
}

// Every path of `files` can be locked exclusively, at once, by this
// thread: no guard of this process (this thread included) holds any.
template <class L>
bool all_free(const std::vector<fs::path>& files) {
  try {
    L probe(files, dlt::mode(false, false));
    return probe.guards().size() == files.size();
  } catch (const std::exception& error) {
    BOOST_TEST_MESSAGE("not free: " << error.what());
    return false;
  }
}

// Whether this process holds any kernel lock on `files`.
bool kernel_locks_of_others_only(const std::vector<fs::path>& files,
                                 std::size_t expected) {
  std::size_t count = 0;
  for (const auto& file : files) {
    count += dlt::settled_kernel_locks_on(file).size();
  }
  return count == expected;
}

// A ThreadPolicy that logs "+name" on acquire and "-name" on release (name
// = the file name), and throws std::system_error for a key whose file name
// is `fail_on`.
struct recording_policy {
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::vector<std::string>& log() {
    static std::vector<std::string> entries;
    return entries;
  }
  static std::string& fail_on() {
    static std::string name;
    return name;
  }

  struct hold {
    std::string name;
  };

  static hold acquire(const dreadlocks::lock_request& request) {
    const std::string name = request.key.path().filename().string();
    std::lock_guard<std::mutex> guard(mutex());
    if (name == fail_on()) {
      throw std::system_error(std::make_error_code(std::errc::io_error),
                              "recording_policy: refused " + name);
    }
    log().push_back("+" + name);
    return hold{name};
  }

  static void release(hold& held) noexcept {
    if (held.name.empty()) return;
    std::lock_guard<std::mutex> guard(mutex());
    log().push_back("-" + held.name);
    held.name.clear();
  }

  static std::vector<std::string> take_log() {
    std::lock_guard<std::mutex> guard(mutex());
    return std::exchange(log(), {});
  }
};

using recording_multi_lock =
    dreadlocks::basic_multi_path_lock<recording_policy,
                                      dreadlocks::no_process_lock,
                                      dreadlocks::reentrant_if_requested>;

using strings = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(order)

// guards() has each key once, sorted by normalized absolute path, however
// the set was spelled and ordered; everything is released at the end.
BOOST_AUTO_TEST_CASE_TEMPLATE(sorted_and_folded, L, all_multi) {
  dlt::watchdog dog(20s);
  const auto empty = dlt::holdings_now();
  const auto f = fresh_files("order", 3);
  const auto dir = f[0].parent_path();
  const std::vector<fs::path> keys = {dlt::key_of(f[0]), dlt::key_of(f[1]),
                                      dlt::key_of(f[2])};
  {
    // Lexical variants only: `sub/..` is folded by the thread-level alias
    // alone (docs/keys.md).
    L lock({dir / "c.lock", dir / "a.lock", fs::path(dir.string() + "//b.lock"),
            dir / "." / "a.lock", dir / "b.lock", dir / "c.lock"});
    BOOST_TEST(lock.owns_lock());
    BOOST_TEST(guard_paths(lock) == keys, boost::test_tools::per_element());
    const auto held = dlt::holdings_now();
    if (dlt::excludes_other_threads<L>) BOOST_TEST(held.thread_keys == 3u);
    if (dlt::excludes_other_processes<L>) BOOST_TEST(held.open_files == 3u);
  }
  BOOST_TEST(dlt::holdings_now() == empty);
  // Other range types and spellings.
  {
    const strings names = {f[2].string(), f[1].string(), f[2].string()};
    L lock(names);
    BOOST_TEST(guard_paths(lock) == (std::vector<fs::path>{keys[1], keys[2]}),
               boost::test_tools::per_element());
  }
  {
    const std::string b = f[1].string(), a = f[0].string();
    const std::array<const char*, 3> names = {b.c_str(), a.c_str(), b.c_str()};
    L lock(names);
    BOOST_TEST(guard_paths(lock) == (std::vector<fs::path>{keys[0], keys[1]}),
               boost::test_tools::per_element());
  }
  {
    L lock({f[2].string(), f[0].string()}, dlt::mode(true));
    BOOST_TEST(lock.options().shared);
    BOOST_TEST(guard_paths(lock) == (std::vector<fs::path>{keys[0], keys[2]}),
               boost::test_tools::per_element());
  }
  {
    L lock(std::vector<fs::path>{});
    BOOST_TEST(!lock.owns_lock());
    BOOST_TEST(lock.guards().empty());
  }
  BOOST_TEST(dlt::holdings_now() == empty);
}

// Acquired in key order, released in reverse: by the destructor, by
// unlock() (idempotent), and once only after a move.
BOOST_AUTO_TEST_CASE(acquired_in_order_released_in_reverse) {
  const auto dir = fresh_dir("record");
  recording_policy::take_log();
  {
    recording_multi_lock lock(
        {dir / "b.lock", dir / "c.lock", dir / "a.lock", dir / "b.lock"});
    BOOST_TEST(recording_policy::take_log() ==
                   (strings{"+a.lock", "+b.lock", "+c.lock"}),
               boost::test_tools::per_element());
  }
  BOOST_TEST(recording_policy::take_log() ==
                 (strings{"-c.lock", "-b.lock", "-a.lock"}),
             boost::test_tools::per_element());
  {
    recording_multi_lock lock({dir / "z.lock", dir / "y.lock"});
    recording_policy::take_log();
    lock.unlock();
    lock.unlock();
    BOOST_TEST(!lock.owns_lock());
    BOOST_TEST(recording_policy::take_log() == (strings{"-z.lock", "-y.lock"}),
               boost::test_tools::per_element());
  }
  BOOST_TEST(recording_policy::take_log().empty());
  {
    recording_multi_lock first({dir / "m.lock", dir / "n.lock"});
    recording_multi_lock second(std::move(first));
    BOOST_TEST(!first.owns_lock());  // NOLINT(bugprone-use-after-move)
    BOOST_TEST(second.guards().size() == 2u);
    recording_policy::take_log();
  }
  BOOST_TEST(recording_policy::take_log() == (strings{"-n.lock", "-m.lock"}),
             boost::test_tools::per_element());
}

// A failure on one path (here a policy error) releases what was taken, in
// reverse, before the exception leaves; later paths are never asked.
BOOST_AUTO_TEST_CASE(failure_midway_releases_in_reverse) {
  const auto dir = fresh_dir("record-fail");
  recording_policy::take_log();
  recording_policy::fail_on() = "c.lock";
  BOOST_CHECK_THROW(recording_multi_lock({dir / "d.lock", dir / "c.lock",
                                          dir / "b.lock", dir / "a.lock"}),
                    std::system_error);
  recording_policy::fail_on().clear();
  BOOST_TEST(recording_policy::take_log() ==
                 (strings{"+a.lock", "+b.lock", "-b.lock", "-a.lock"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(all_or_nothing)

// Another thread holds one path of the set (first, middle or last in key
// order): the non-blocking form throws the thread-level error naming that
// path, at once, and leaves the others free and the registries as they
// were; the timed form the same after its timeout.
BOOST_AUTO_TEST_CASE_TEMPLATE(another_thread_holds_one, L, thread_excluding) {
  dlt::watchdog dog(25s);
  const auto empty = dlt::holdings_now();
  const auto f = fresh_files("aon-thread", 3);
  const std::vector<fs::path> named = {f[2], f[0], f[1]};
  for (int held = 0; held < 3; ++held) {
    BOOST_TEST_CONTEXT("held: " << f[held].filename()) {
      auto holder = dlt::hold_in_thread<typename L::guard_type>(f[held]);
      BOOST_TEST_REQUIRE(holder->wait_held());
      const auto with_holder = dlt::holdings_now();
      std::vector<fs::path> others;
      for (int i = 0; i < 3; ++i) {
        if (i != held) others.push_back(f[i]);
      }

      const auto at_once =
          expect_refused<L>(named, dlt::mode(false, false), lock_level::thread,
                            f[held], "would block");
      BOOST_TEST(at_once < dlt::kAtOnce);
      BOOST_TEST(dlt::holdings_now() == with_holder);
      BOOST_TEST(all_free<L>(others));

      const auto timed = expect_refused<L>(named, dlt::timed(kShortTimeout),
                                           lock_level::thread, f[held],
                                           dlt::timed_out_text(kShortTimeout));
      dlt::check_timed(timed, kShortTimeout);
      BOOST_TEST(dlt::holdings_now() == with_holder);
      BOOST_TEST(all_free<L>(others));

      const auto zero = expect_refused<L>(
          named, dlt::timed(0ns), lock_level::thread, f[held], "would block");
      BOOST_TEST(zero < dlt::kAtOnce);
      BOOST_TEST(holder->release());
    }
  }
  BOOST_TEST(dlt::holdings_now() == empty);
}

// Another process holds one path of the set: the process-level error
// naming it, nothing of ours left (no descriptor, no registry entry, no
// kernel lock on the other paths).
BOOST_AUTO_TEST_CASE_TEMPLATE(another_process_holds_one, L, process_excluding) {
  dlt::watchdog dog(25s);
  const auto empty = dlt::holdings_now();
  const auto f = fresh_files("aon-process", 3);
  const std::vector<fs::path> named = {f[1], f[2], f[0]};
  for (int held = 0; held < 3; ++held) {
    BOOST_TEST_CONTEXT("held: " << f[held].filename()) {
      auto holder = dlt::hold_in_process<dreadlocks::process_level_path_lock>(
          f[held], {});
      BOOST_TEST_REQUIRE(holder->wait_held());

      const auto at_once =
          expect_refused<L>(named, dlt::mode(false, false), lock_level::process,
                            f[held], "would block");
      BOOST_TEST(at_once < dlt::kAtOnce);
      BOOST_TEST(dlt::holdings_now() == empty);
      BOOST_TEST(kernel_locks_of_others_only(f, 1u));

      const auto timed = expect_refused<L>(named, dlt::timed(kShortTimeout),
                                           lock_level::process, f[held],
                                           dlt::timed_out_text(kShortTimeout));
      dlt::check_timed(timed, kShortTimeout);
      BOOST_TEST(dlt::holdings_now() == empty);
      BOOST_TEST(kernel_locks_of_others_only(f, 1u));
      BOOST_TEST(holder->release());
    }
  }
  BOOST_TEST(all_free<L>(f));
}

// A path this thread already holds makes the set a recursion:
// recursive_deadlock_error, and the paths taken before it are released.
BOOST_AUTO_TEST_CASE_TEMPLATE(held_by_this_thread_is_recursion, L, all_multi) {
  const auto empty = dlt::holdings_now();
  const auto f = fresh_files("aon-recursive", 3);
  {
    typename L::guard_type mine(f[1]);
    const auto holding = dlt::holdings_now();
    BOOST_CHECK_THROW(L({f[2], f[1], f[0]}),
                      dreadlocks::recursive_deadlock_error);
    BOOST_TEST(dlt::holdings_now() == holding);
  }
  BOOST_TEST(dlt::holdings_now() == empty);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(deadline)

// One deadline for the whole set. Another thread holds a.lock for the first
// 1.5 s of a 2 s timeout; another process holds c.lock throughout. The set
// {a, b, c} waits 1.5 s for a, takes b, polls c for the remaining 0.5 s and
// throws the process-level error for c: about 2 s in all (a deadline per
// path would take 3.5 s), with a and b released.
BOOST_AUTO_TEST_CASE(one_deadline_for_the_set) {
  dlt::watchdog dog(20s);
  constexpr auto timeout = 2000ms;
  const auto f = fresh_files("deadline", 3);
  auto other_process =
      dlt::hold_in_process<dreadlocks::process_level_path_lock>(f[2], {});
  BOOST_TEST_REQUIRE(other_process->wait_held());
  auto other_thread = dlt::hold_in_thread<dreadlocks::path_lock>(f[0]);
  BOOST_TEST_REQUIRE(other_thread->wait_held());

  dlt::stopwatch watch;
  other_thread->order_release(dlt::release_order::at(watch.start() + 1500ms));
  const auto elapsed = expect_refused<dreadlocks::multi_path_lock>(
      {f[2], f[1], f[0]}, dlt::timed(timeout), lock_level::process, f[2],
      dlt::timed_out_text(timeout));
  BOOST_TEST(other_thread->wait_released());
  dlt::check_timed(elapsed, timeout);
  BOOST_TEST(elapsed < timeout + 1000ms, "a deadline per path?");
  BOOST_TEST(dlt::holdings_now().thread_keys == 0u);
  BOOST_TEST(dlt::holdings_now().open_files == 0u);
  BOOST_TEST(other_process->release());
}

// Granted when the holder (another thread, or another process) lets go
// before the deadline; the holder releases once this thread is seen asleep
// in the wait.
BOOST_AUTO_TEST_CASE_TEMPLATE(granted_on_release, L, all_multi) {
  dlt::watchdog dog(20s);
  const auto f = fresh_files("granted", 3);
  std::unique_ptr<dlt::holder> holder;
  if constexpr (dlt::excludes_other_threads<L>) {
    holder = dlt::hold_in_thread<typename L::guard_type>(f[1]);
  } else {
    holder = dlt::hold_in_process<typename L::guard_type>(f[1], {});
  }
  BOOST_TEST_REQUIRE(holder->wait_held());
  holder->order_release(dlt::release_order::when_asleep(dlt::current_tid()));
  {
    L lock({f[2], f[1], f[0]}, dlt::timed(10s));
    BOOST_TEST(lock.guards().size() == 3u);
  }
  BOOST_TEST(holder->wait_released(), "the waiter was seen asleep");
  BOOST_TEST(dlt::holdings_now().thread_keys == 0u);
  BOOST_TEST(dlt::holdings_now().open_files == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(no_deadlock)

// Two threads lock overlapping sets named in opposite orders, {a, b, c}
// and {c, d, a}, 500 times each: they finish (watchdog), and each path has
// one holder at a time.
BOOST_AUTO_TEST_CASE_TEMPLATE(opposite_orders_two_threads, L,
                              thread_excluding) {
  dlt::watchdog dog(25s);
  const auto empty = dlt::holdings_now();
  const auto f = fresh_files("threads", 4);
  dlt::occupancy<4> inside;
  std::barrier round_start(2);
  const auto run = [&](std::vector<int> set) {
    std::vector<fs::path> named;
    for (int i : set) named.push_back(f[i]);
    for (int round = 0; round < kRounds; ++round) {
      round_start.arrive_and_wait();  // both race for their sets each round
      L lock(named);
      inside.enter(set);
      linger();
      inside.leave(set);
    }
  };
  std::thread forward(run, std::vector<int>{0, 1, 2});
  std::thread backward(run, std::vector<int>{2, 3, 0});
  forward.join();
  backward.join();
  BOOST_TEST(inside.violations() == 0);
  BOOST_TEST(dlt::holdings_now() == empty);
}

// Two processes do the same.
BOOST_AUTO_TEST_CASE_TEMPLATE(opposite_orders_two_processes, L,
                              process_excluding) {
  dlt::watchdog dog(25s);
  const auto f = fresh_files("processes", 4);
  struct shared_state {
    dlt::process_barrier start{2};
    dlt::occupancy<4> inside;
  };
  dlt::shared_object<shared_state> state;
  const auto run = [&](std::vector<int> set) {
    return [&, set] {
      std::vector<fs::path> named;
      for (int i : set) named.push_back(f[i]);
      for (int round = 0; round < kRounds; ++round) {
        // Both race for their sets each round.
        dlt::child_require(state->start.arrive_and_wait(), "both in time");
        L lock(named);
        state->inside.enter(set);
        linger();
        state->inside.leave(set);
      }
      return 0;
    };
  };
  dlt::run_in_two_processes(run({0, 1, 2}), run({2, 3, 0}));
  BOOST_TEST(state->inside.violations() == 0);
}

// Shared sets overlap freely: another thread holds {a, b} shared, this one
// takes {b, c} shared without waiting.
BOOST_AUTO_TEST_CASE_TEMPLATE(shared_sets_held_together, L, all_multi) {
  dlt::watchdog dog(20s);
  const auto f = fresh_files("shared", 3);
  auto guard = std::make_shared<std::optional<L>>();
  dlt::thread_holder holder(
      [&, guard] {
        guard->emplace(std::vector<fs::path>{f[0], f[1]}, dlt::mode(true));
      },
      [guard] { guard->reset(); });
  BOOST_TEST_REQUIRE(holder.wait_held());
  {
    L lock({f[1], f[2]}, dlt::mode(true, false));
    BOOST_TEST(lock.guards().size() == 2u);
  }
  BOOST_TEST(holder.release(dlt::release_order::now()));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(spelling)

// The order is by key text: a symlink to a lock file is another key. The
// thread-level alias (lexical keys) takes both; for multi_path_lock they
// are one file, which the calling thread then asks for twice: without
// reentrancy that is recursive_deadlock_error (nothing left), with it the
// second is a repeat. Lock canonical spellings.
BOOST_AUTO_TEST_CASE(symlink_is_another_key) {
  const auto empty = dlt::holdings_now();
  const auto dir = fresh_dir("spelling");
  const auto file = dir / "real.lock";
  const auto link = dir / "alias.lock";
  { dreadlocks::process_level_path_lock create(file); }
  fs::create_symlink(file, link);
  {
    dreadlocks::thread_level_multi_path_lock lock({file, link});
    BOOST_TEST(lock.guards().size() == 2u);
  }
  BOOST_CHECK_THROW(dreadlocks::multi_path_lock({file, link}),
                    dreadlocks::recursive_deadlock_error);
  BOOST_TEST(dlt::holdings_now() == empty);
  {
    dreadlocks::lock_options options;
    options.reentrant = true;
    dreadlocks::multi_path_lock lock({file, link}, options);
    BOOST_TEST(lock.guards().size() == 2u);
    BOOST_TEST(dlt::holdings_now().open_files == 1u);
  }
  BOOST_TEST(dlt::holdings_now() == empty);
}

BOOST_AUTO_TEST_SUITE_END()
