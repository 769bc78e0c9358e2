// tests/thread/exclusion_stress_test.cpp
//
// Mutual exclusion under load: many exclusive holders doing a
// read-modify-write of plain (non-atomic) data lose no update, while
// shared holders see the data stand still; and a random mix of modes,
// nesting and non-blocking requests over a few keys never breaks the
// "readers or one writer" invariant. Each runs for every alias with a
// thread level, twice in a row.

#define BOOST_TEST_MODULE dreadlocks_thread_exclusion
#include <boost/test/unit_test.hpp>
#include <random>

#include "tests/support/nothing_left_behind.hpp"
#include "tests/thread/thread_test_util.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using namespace dreadlocks_thread_test;

BOOST_AUTO_TEST_CASE_TEMPLATE(exclusive_read_modify_write_loses_nothing, Lock,
                              lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  const fs::path path = dreadlocks_test::unique_path("rmw");
  constexpr int kWriters = 8;
  constexpr int kIncrements = 500;
  constexpr int kReaders = 2;
  constexpr int kReads = 200;
  twice([&] {
    long counter = 0;  // guarded by the lock only
    std::atomic<long> torn_reads{0};
    std::atomic<long> reads{0};
    rendezvous start(kWriters + kReaders);
    std::vector<std::thread> threads;
    std::vector<std::future<bool>> started;
    // Starts a thread that runs `body` once all threads have started.
    const auto launch = [&](auto body) {
      std::promise<bool> met;
      started.push_back(met.get_future());
      threads.emplace_back([&start, body, met = std::move(met)]() mutable {
        met.set_value(start.arrive_and_wait());
        body();
      });
    };
    for (int w = 0; w < kWriters; ++w) {
      launch([&] {
        for (int i = 0; i < kIncrements; ++i) {
          Lock lock(path);
          const long seen = counter;
          std::this_thread::yield();
          counter = seen + 1;
        }
      });
    }
    for (int r = 0; r < kReaders; ++r) {
      launch([&] {
        // A bounded number of reads: a reader that never paused would keep
        // the writers out (readers are admitted while a writer waits).
        for (int i = 0; i < kReads; ++i) {
          Lock lock(path, mode(true));
          const long first = counter;
          std::this_thread::yield();
          if (counter != first) ++torn_reads;
          ++reads;
        }
      });
    }
    for (auto& f : started) BOOST_TEST(f.get(), "threads did not all start");
    for (auto& thread : threads) thread.join();
    // Read after join: no lock needed.
    BOOST_TEST(counter == long{kWriters} * kIncrements);
    BOOST_TEST(torn_reads.load() == 0);
    BOOST_TEST(reads.load() == long{kReaders} * kReads);
  });
}

// Random acquisitions over a few keys: per key, at no time does a writer
// coexist with another thread's hold.
BOOST_AUTO_TEST_CASE_TEMPLATE(random_mix_keeps_readers_or_one_writer, Lock,
                              lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  constexpr int kKeys = 3;
  constexpr int kThreads = 6;
  constexpr int kOperations = 400;
  std::vector<fs::path> paths;
  for (int k = 0; k < kKeys; ++k) {
    paths.push_back(dreadlocks_test::unique_path("mix"));
  }
  twice([&] {
    struct key_counts {
      std::atomic<int> readers{0};  // threads holding shared (outermost)
      std::atomic<int> writers{0};  // threads holding exclusive
    };
    std::vector<key_counts> counts(kKeys);
    std::atomic<long> violations{0};
    std::atomic<long> refused{0};
    std::atomic<long> unexpected{0};
    std::mutex messages_mutex;
    std::vector<std::string> messages;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 random(static_cast<unsigned>(t) * 7919u + 1u);
        for (int op = 0; op < kOperations; ++op) {
          const int k = static_cast<int>(random() % kKeys);
          const bool shared = random() % 3 != 0;
          const bool blocking = random() % 4 != 0;
          const bool nest = random() % 4 == 0;
          try {
            Lock lock(paths[k], mode(shared, blocking));
            auto& c = counts[k];
            if (shared) {
              ++c.readers;
              if (c.writers.load() != 0) ++violations;
            } else {
              if (++c.writers != 1 || c.readers.load() != 0) ++violations;
            }
            if (nest) {
              // Shared inside either mode never waits on others.
              Lock inner(paths[k], mode(true, false, true));
              if (!inner.owns_lock()) ++violations;
            }
            std::this_thread::yield();
            if (shared) {
              if (c.writers.load() != 0) ++violations;
              --c.readers;
            } else {
              if (c.readers.load() != 0) ++violations;
              --c.writers;
            }
          } catch (const dreadlocks::acquiring_lock_would_block_error& e) {
            // Non-blocking requests may be refused (at the process level
            // also spuriously, see nonblocking_shared_beside_arriving_shared
            // in thread_level_test.cpp); blocking ones never.
            if (blocking) {
              ++unexpected;
              std::lock_guard<std::mutex> lock(messages_mutex);
              messages.push_back(e.what());
            }
            ++refused;
          } catch (const std::exception& e) {
            if (++unexpected <= 3) {
              std::lock_guard<std::mutex> lock(messages_mutex);
              messages.push_back(e.what());
            }
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    BOOST_TEST(violations.load() == 0);
    BOOST_TEST(unexpected.load() == 0);
    for (const auto& message : messages) BOOST_TEST_MESSAGE(message);
    BOOST_TEST_MESSAGE("non-blocking refusals: " << refused.load());
  });
}

}  // namespace
