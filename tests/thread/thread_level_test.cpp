// tests/thread/thread_level_test.cpp
//
// The thread level between threads of one process: the non-blocking matrix,
// many shared holders against one exclusive, a chain of overlapping shared
// holders against a waiting exclusive, key normalization, independence of
// keys. Each scenario runs for every alias with a thread level, twice in a
// row, and checks that the registries are empty afterwards.

#define BOOST_TEST_MODULE dreadlocks_thread_level
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <map>
#include <sstream>

#include "tests/support/nothing_left_behind.hpp"
#include "tests/thread/thread_test_util.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using namespace dreadlocks_thread_test;

BOOST_AUTO_TEST_CASE_TEMPLATE(nonblocking_matrix, Lock, lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  const fs::path path = dreadlocks_test::unique_path("matrix");
  const fs::path key = key_of(path);
  twice([&] {
    for (const bool first : {true, false}) {
      for (const bool rest : {true, false}) {
        BOOST_TEST_CONTEXT("first " << mode_name(first) << ", rest "
                                    << mode_name(rest)) {
          holder<Lock> one("one");
          holder<Lock> two("two");
          require_ok(one.lock(path, mode(first)), "first lock");
          auto attempt = two.lock(path, mode(rest, /*blocking=*/false));
          if (first && rest) {
            require_ok(std::move(attempt), "shared beside shared");
            BOOST_TEST(two.held() == 1u);
            BOOST_TEST(two.held_path() == key);
            require_ok(two.unlock(), "unlock two");
          } else {
            require_would_block(std::move(attempt), key, rest,
                                "conflicting non-blocking request");
            BOOST_TEST(two.held() == 0u);
          }
          // The refused request left the holder's lock intact: a third
          // thread is still excluded from the exclusive mode.
          holder<Lock> three("three");
          require_would_block(three.lock(path, mode(false, false)), key, false,
                              "exclusive beside the first holder");
          require_ok(one.unlock(), "unlock one");
          // Released: the same request is now granted.
          require_ok(two.lock(path, mode(rest, false)), "after release");
          require_ok(two.unlock(), "unlock two again");
        }
      }
    }
    check_lock_file<Lock>(path);
  });
}

BOOST_AUTO_TEST_CASE_TEMPLATE(nonblocking_never_waits, Lock, lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  const fs::path path = dreadlocks_test::unique_path("nonblocking");
  const fs::path key = key_of(path);
  constexpr int kAttempts = 200;
  twice([&] {
    for (const bool held_shared : {false, true}) {
      BOOST_TEST_CONTEXT("held " << mode_name(held_shared)) {
        holder<Lock> owner("owner");
        holder<Lock> prober("prober");
        require_ok(owner.lock(path, mode(held_shared)), "owner lock");
        // The owner releases only after the prober is done: a prober that
        // waited would never return (and the watchdog would fire).
        auto probe = prober.run([&] {
          int refused = 0;
          const auto start = std::chrono::steady_clock::now();
          for (int i = 0; i < kAttempts; ++i) {
            try {
              Lock lock(path, mode(false, false));
            } catch (const dreadlocks::acquiring_thread_level_lock_would_block_error&) {
              ++refused;
            }
            if (!held_shared) {
              try {
                Lock lock(path, mode(true, false));
              } catch (const dreadlocks::acquiring_thread_level_lock_would_block_error&) {
                ++refused;
              }
            }
          }
          return std::make_pair(
              refused, std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start));
        });
        BOOST_TEST_REQUIRE(ready_within(probe), "non-blocking probes hang");
        const auto [refused, elapsed] = probe.get();
        BOOST_TEST(refused == (held_shared ? kAttempts : 2 * kAttempts));
        // A refusal is a matter of microseconds; a refusal that slept (a
        // 5 ms retry, say) would exceed this generous bound.
        BOOST_TEST(elapsed.count() < 5 * refused,
                   "non-blocking refusals took " << elapsed.count() << " ms");
        require_ok(owner.unlock(), "owner unlock");
      }
    }
  });
}

// Shared beside shared is never refused, not even while the other shared
// request is still on its way through the levels (at the process level:
// setting the OS lock). Within one process nothing conflicts, so
// non-blocking shared requests racing blocking shared ones must all
// succeed.
BOOST_AUTO_TEST_CASE_TEMPLATE(nonblocking_shared_beside_arriving_shared, Lock,
                              lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  const fs::path path = dreadlocks_test::unique_path("arriving-shared");
  constexpr int kRounds = 3000;
  twice([&] {
    timed_barrier start(2);
    std::atomic<bool> done{false};
    worker blocking;
    worker nonblocking;
    auto waiter = blocking.post([&] {
      const bool started = start.arrive_and_wait();
      for (int i = 0; i < kRounds; ++i) {
        Lock lock(path, mode(true));
      }
      done.store(true);
      return started;
    });
    auto prober = nonblocking.post([&] {
      std::map<std::string, int> refusals;
      int attempts = 0;
      if (!start.arrive_and_wait()) ++refusals["start timed out"];
      while (!done.load()) {
        ++attempts;
        const outcome result =
            capture([&] { Lock lock(path, mode(true, false)); });
        if (!result.granted()) {
          std::ostringstream text;
          text << result;
          ++refusals[text.str()];
        }
      }
      return std::make_pair(attempts, refusals);
    });
    BOOST_TEST_REQUIRE(ready_within(waiter));
    BOOST_TEST_REQUIRE(ready_within(prober));
    BOOST_TEST(waiter.get());
    const auto [attempts, refusals] = prober.get();
    for (const auto& [what, count] : refusals) {
      BOOST_ERROR("non-blocking shared beside shared refused "
                  << count << " of " << attempts << " times: " << what);
    }
  });
}

BOOST_AUTO_TEST_CASE_TEMPLATE(many_shared_then_one_exclusive, Lock,
                              lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  const fs::path path = dreadlocks_test::unique_path("many-shared");
  constexpr std::size_t kReaders = 6;
  twice([&] {
    event_log log;
    rendezvous all_holding(kReaders);
    auto readers = named_holders<Lock>("S", kReaders, &log);
    std::vector<std::future<bool>> met;
    std::vector<std::future<outcome>> locked;
    for (auto& reader : readers) {
      locked.push_back(reader->lock(path, mode(true)));
    }
    for (auto& f : locked) require_ok(std::move(f), "shared lock");
    // All readers reach the rendezvous while holding: they hold at once.
    for (auto& reader : readers) {
      met.push_back(reader->run([&] { return all_holding.arrive_and_wait(); }));
    }
    for (auto& f : met) {
      BOOST_TEST_REQUIRE(ready_within(f));
      BOOST_TEST_REQUIRE(f.get(), "shared holders did not hold concurrently");
    }

    holder<Lock> writer("X", &log);
    auto exclusive = writer.lock(path, mode(false));
    BOOST_TEST(writer.wait_until_waiting(), "exclusive did not wait");
    BOOST_TEST(!is_ready(exclusive), "exclusive granted beside readers");
    for (std::size_t i = 0; i < kReaders; ++i) {
      require_ok(readers[i]->unlock(), "shared unlock");
      if (i + 1 < kReaders) {
        BOOST_TEST(!is_ready(exclusive), "exclusive granted beside readers");
      }
    }
    require_ok(std::move(exclusive), "exclusive after the readers");
    // The exclusive came last: after every reader had left.
    const long granted = log.index_of("X acquired");
    BOOST_TEST_REQUIRE(granted >= 0);
    for (std::size_t i = 0; i < kReaders; ++i) {
      BOOST_TEST(log.index_of("S" + std::to_string(i) + " released") < granted,
                 log.dump());
    }
    // While the exclusive holds, a reader is refused.
    require_would_block(readers[0]->lock(path, mode(true, false)), key_of(path),
                        true, "shared beside the exclusive");
    require_ok(writer.unlock(), "exclusive unlock");
  });
}

BOOST_AUTO_TEST_CASE_TEMPLATE(shared_chain_against_waiting_exclusive, Lock,
                              lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  const fs::path path = dreadlocks_test::unique_path("chain");
  constexpr std::size_t kChain = 5;
  twice([&] {
    event_log log;
    auto readers = named_holders<Lock>("R", kChain, &log);
    holder<Lock> writer("X", &log);

    require_ok(readers[0]->lock(path, mode(true)), "first reader");
    auto exclusive = writer.lock(path, mode(false));
    BOOST_TEST(writer.wait_until_waiting(), "exclusive did not wait");
    for (std::size_t i = 1; i < kChain; ++i) {
      // A new reader is admitted at once (without waiting) while the
      // previous one still holds and the exclusive waits.
      BOOST_TEST(!is_ready(exclusive), "exclusive granted beside a reader");
      require_ok(readers[i]->lock(path, mode(true, /*blocking=*/false)),
                 "reader admitted while an exclusive waits");
      require_ok(readers[i - 1]->unlock(), "previous reader leaves");
      BOOST_TEST(writer.wait_until_waiting(), "exclusive stopped waiting");
      BOOST_TEST(!is_ready(exclusive), "exclusive granted beside a reader");
    }
    require_ok(readers[kChain - 1]->unlock(), "last reader leaves");
    require_ok(std::move(exclusive), "exclusive at the end of the chain");
    const long granted = log.index_of("X acquired");
    BOOST_TEST(granted > log.index_of("R" + std::to_string(kChain - 1) +
                                      " released"),
               log.dump());
    BOOST_TEST(static_cast<std::size_t>(granted) + 1 == log.events().size(),
               log.dump());
    require_ok(writer.unlock(), "exclusive unlock");
  });
}

// A scratch directory made the current directory for one test case; the
// previous one is restored at the end. Only changed while no other thread
// of the test runs.
class scoped_current_dir {
 public:
  explicit scoped_current_dir(const fs::path& dir)
      : previous_(fs::current_path()) {
    fs::create_directories(dir);
    fs::current_path(dir);
  }
  ~scoped_current_dir() { fs::current_path(previous_); }

 private:
  fs::path previous_;
};

BOOST_AUTO_TEST_CASE_TEMPLATE(key_normalization, Lock, lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  scoped_current_dir cwd(dreadlocks_test::unique_path("cwd"));
  fs::create_directories("dir");
  const fs::path key = (fs::current_path() / "lock").lexically_normal();
  const std::vector<fs::path> spellings = {
      "lock", "./lock", "dir/../lock", key, key.parent_path() / "." / "lock",
      key.parent_path() / "dir" / ".." / "lock"};
  // The path a guard and its errors name for a spelling: the key, except
  // that a file-backed lock keeps `dir/..` (docs/keys.md) while still
  // locking the one file.
  const auto named = [](const fs::path& spelling) {
    return dreadlocks::lock_key(spelling, "test", Lock::kKeyForm).path();
  };
  twice([&] {
    for (const auto& first : spellings) {
      holder<Lock> one("one");
      holder<Lock> two("two");
      require_ok(one.lock(first, mode(false)), "exclusive " + first.string());
      BOOST_TEST(one.held_path() == named(first));
      for (const auto& other : spellings) {
        BOOST_TEST_CONTEXT(first << " held, " << other << " asked") {
          require_would_block(two.lock(other, mode(true, false)),
                              named(other), true,
                              "shared through another spelling");
        }
      }
      require_ok(one.unlock(), "unlock");
    }
    // Shared holds through every spelling are one key held several times.
    holder<Lock> readers("readers");
    for (const auto& spelling : spellings) {
      require_ok(readers.lock(spelling, mode(true, true, true)),
                 "shared " + spelling.string());
      BOOST_TEST(readers.held_path() == named(spelling));
    }
    BOOST_TEST(dreadlocks::introspection::held_thread_keys() == 1u);
    if constexpr (file_backed_v<Lock>) {
      BOOST_TEST(dreadlocks::introspection::open_lock_files() == 1u);
    }
    holder<Lock> writer("writer");
    require_would_block(writer.lock("lock", mode(false, false)), key, false,
                        "exclusive beside the readers");
    for (std::size_t i = 0; i < spellings.size(); ++i) {
      require_ok(readers.unlock(), "shared unlock");
    }
    require_ok(writer.lock("./dir/../lock", mode(false, false)),
               "exclusive after the readers");
    require_ok(writer.unlock(), "exclusive unlock");
    check_lock_file<Lock>(key);
  });
  // The string types a user passes spell the same key, and exclude one
  // another.
  holder<Lock> one("one");
  holder<Lock> two("two");
  require_ok(one.lock(fs::path("dir/../lock"), mode(false)), "fs::path");
  auto spelled = [&](auto spelling) {
    return two.run([spelling] {
      return capture([&] { Lock lock(spelling, mode(true, false)); });
    });
  };
  require_would_block(spelled(std::string("./lock")), key, true,
                      "std::string");
  require_would_block(spelled(std::string_view("lock")), key, true,
                      "std::string_view");
  require_would_block(spelled(static_cast<const char*>("dir/../lock")),
                      named("dir/../lock"), true, "const char*");
  require_ok(one.unlock(), "unlock");
  require_ok(spelled(static_cast<const char*>("lock")), "free again");
  check_registries_empty("after the string types");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(distinct_keys_are_independent, Lock,
                              lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  const fs::path a = dreadlocks_test::unique_path("key-a");
  const fs::path b = dreadlocks_test::unique_path("key-b");
  twice([&] {
    holder<Lock> one("one");
    holder<Lock> two("two");
    require_ok(one.lock(a, mode(false)), "exclusive a");
    require_ok(two.lock(b, mode(false, false)), "exclusive b beside a");
    BOOST_TEST(dreadlocks::introspection::held_thread_keys() == 2u);
    require_would_block(one.lock(b, mode(true, false)), key_of(b), true,
                        "b is held");
    require_would_block(two.lock(a, mode(true, false)), key_of(a), true,
                        "a is held");
    require_ok(two.unlock(), "unlock b");
    BOOST_TEST(dreadlocks::introspection::held_thread_keys() == 1u);
    require_ok(one.unlock(), "unlock a");
  });
}

BOOST_AUTO_TEST_CASE_TEMPLATE(unlock_and_move_release_the_key, Lock,
                              lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  const fs::path path = dreadlocks_test::unique_path("unlock");
  twice([&] {
    holder<Lock> other("other");
    {
      Lock lock(path, mode(false));
      BOOST_TEST(lock.owns_lock());
      require_would_block(other.lock(path, mode(true, false)), key_of(path),
                          true, "held");
      lock.unlock();
      lock.unlock();  // idempotent
      BOOST_TEST(!lock.owns_lock());
      require_ok(other.lock(path, mode(false, false)), "after unlock()");
      require_ok(other.unlock(), "other unlock");
    }
    {
      Lock lock(path, mode(true));
      Lock moved(std::move(lock));
      BOOST_TEST(!lock.owns_lock());
      BOOST_TEST(moved.owns_lock());
      require_would_block(other.lock(path, mode(false, false)), key_of(path),
                          false, "moved guard still holds");
      // Released by the guard it was moved into, here, on this thread.
      moved = Lock(dreadlocks_test::unique_path("other-key"), mode(true));
      require_ok(other.lock(path, mode(false, false)), "after move-assign");
      require_ok(other.unlock(), "other unlock");
    }
  });
}

}  // namespace
