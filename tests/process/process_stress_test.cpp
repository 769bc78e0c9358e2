// tests/process/process_stress_test.cpp
//
// Processes (and processes x threads) contending for one lock file: read-
// modify-write of the lock file's own contents through native_handle()
// with no lost update, many processes adding to shared data exclusively,
// and groups of readers that must overlap interleaved with writers that
// must be alone.

#define BOOST_TEST_MODULE dreadlocks process stress
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "tests/process/process_test_common.hpp"
#include "tests/support/nothing_left_behind.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

// The counter kept in the first 8 bytes of the lock file; an empty file
// counts 0.
std::uint64_t read_counter(int fd) {
  std::uint64_t value = 0;
  const ssize_t got = ::pread(fd, &value, sizeof value, 0);
  if (got == 0) return 0;
  dlt::child_require(got == static_cast<ssize_t>(sizeof value),
                     "pread of the counter");
  return value;
}

void write_counter(int fd, std::uint64_t value) {
  dlt::child_require(::pwrite(fd, &value, sizeof value, 0) ==
                         static_cast<ssize_t>(sizeof value),
                     "pwrite of the counter");
}

std::uint64_t read_counter_of(const std::filesystem::path& file) {
  dlt::process_level_lock<dreadlocks::ofd_process_lock> lock(file,
                                                             dlt::mode(true));
  return read_counter(lock.native_handle());
}

struct exclusion_state {
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::atomic<long> plain_counter{
      0};  // updated by load + store, not atomically
};

struct groups_state {
  static constexpr unsigned groups = 3;
  static constexpr unsigned readers_per_group = 3;
  dlt::process_barrier together[groups] = {
      dlt::process_barrier(readers_per_group),
      dlt::process_barrier(readers_per_group),
      dlt::process_barrier(readers_per_group)};
  std::atomic<int> readers_inside{0};
  std::atomic<int> writers_inside{0};
  std::atomic<int> reader_saw_writer{0};
  std::atomic<int> writer_saw_other{0};
  std::atomic<int> barrier_timeouts{0};
  std::atomic<int> rounds_together{0};
  std::atomic<int> writes{0};
  std::atomic<int> max_readers_seen_by_reader{0};
};

// The processes of one scenario, started one by one and waited for
// together.
class process_group {
 public:
  template <class Body>
  void start(Body body) {
    children_.push_back(std::make_unique<dlt::child_process>(std::move(body)));
  }

  // Each within the scenario's bound (the watchdog's is 25 s).
  void check_all_exited_ok() {
    for (auto& child : children_) {
      BOOST_TEST(dlt::exited_ok(child->wait(22s)));
    }
  }

 private:
  std::vector<std::unique_ptr<dlt::child_process>> children_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(process_stress)

// 10 processes x 10 threads each increment a counter stored in the lock
// file itself, reading and writing it through native_handle() under an
// exclusive path_lock: no update is lost, and no two holders overlap.
BOOST_AUTO_TEST_CASE_TEMPLATE(read_modify_write_processes_x_threads, P,
                              dlt::process_policies) {
  dlt::watchdog dog(25s);
  constexpr int processes = 10;
  constexpr int threads = 10;
  constexpr int iterations = 100;
  using Lock = dlt::both_levels_lock<P>;
  const auto file = dlt::unique_path("rmw");
  dlt::shared_object<exclusion_state> state;
  process_group children;
  for (int p = 0; p < processes; ++p) {
    children.start([&] {
      std::atomic<int> failures{0};
      std::vector<std::thread> workers;
      for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
          try {
            for (int i = 0; i < iterations; ++i) {
              Lock lock(file);
              if (++state->inside != 1) ++state->overlaps;
              const int fd = lock.native_handle();
              write_counter(fd, read_counter(fd) + 1);
              --state->inside;
            }
          } catch (const std::exception& error) {
            std::fprintf(stderr, "rmw worker: %s\n", error.what());
            ++failures;
          }
        });
      }
      for (auto& worker : workers) worker.join();
      return failures == 0 ? 0 : 1;
    });
  }
  children.check_all_exited_ok();
  BOOST_TEST(state->overlaps.load() == 0);
  BOOST_TEST(read_counter_of(file) ==
             std::uint64_t{processes} * threads * iterations);
}

// 20 processes each add to a counter in the lock file and to a counter in
// shared memory (by a separate load and store, so that any overlap would
// lose updates), holding the lock exclusive.
BOOST_AUTO_TEST_CASE_TEMPLATE(twenty_processes_add_exclusively, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(25s);
  constexpr int processes = 20;
  constexpr int iterations = 200;
  const auto file = dlt::unique_path("twenty");
  dlt::shared_object<exclusion_state> state;
  process_group children;
  for (int p = 0; p < processes; ++p) {
    children.start([&] {
      for (int i = 0; i < iterations; ++i) {
        Lock lock(file, dlt::mode(false));
        if (++state->inside != 1) ++state->overlaps;
        const long seen = state->plain_counter.load(std::memory_order_relaxed);
        const int fd = lock.native_handle();
        write_counter(fd, read_counter(fd) + 1);
        state->plain_counter.store(seen + 1, std::memory_order_relaxed);
        --state->inside;
      }
      return 0;
    });
  }
  children.check_all_exited_ok();
  BOOST_TEST(state->overlaps.load() == 0);
  BOOST_TEST(state->plain_counter.load() == long{processes} * iterations);
  BOOST_TEST(read_counter_of(file) == std::uint64_t{processes} * iterations);
}

// Groups of reader processes each hold the shared lock at the same time
// (every reader of a group reaches the group's barrier while holding it:
// they overlap), round after round, while writer processes take the
// exclusive lock in between: a writer never sees a reader or another writer
// inside, a reader never sees a writer.
BOOST_AUTO_TEST_CASE_TEMPLATE(reader_groups_interleaved_with_writers, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(25s);
  constexpr unsigned groups = groups_state::groups;
  constexpr unsigned readers = groups_state::readers_per_group;
  constexpr int rounds = 20;
  constexpr int writers = 3;
  constexpr int writes = 30;
  const auto file = dlt::unique_path("groups");
  dlt::shared_object<groups_state> state;
  process_group children;
  for (unsigned g = 0; g < groups; ++g) {
    for (unsigned r = 0; r < readers; ++r) {
      children.start([&, g, r] {
        for (int round = 0; round < rounds; ++round) {
          Lock lock(file, dlt::mode(true));
          const int inside = ++state->readers_inside;
          int seen = state->max_readers_seen_by_reader.load();
          while (inside > seen &&
                 !state->max_readers_seen_by_reader.compare_exchange_weak(
                     seen, inside)) {
          }
          if (state->writers_inside != 0) ++state->reader_saw_writer;
          if (!state->together[g].arrive_and_wait(10s)) {
            ++state->barrier_timeouts;
          } else if (r == 0) {
            ++state->rounds_together;
          }
          if (state->writers_inside != 0) ++state->reader_saw_writer;
          --state->readers_inside;
        }
        return 0;
      });
    }
  }
  for (int w = 0; w < writers; ++w) {
    children.start([&] {
      for (int i = 0; i < writes; ++i) {
        Lock lock(file, dlt::mode(false));
        if (++state->writers_inside != 1 || state->readers_inside != 0) {
          ++state->writer_saw_other;
        }
        ++state->writes;
        --state->writers_inside;
      }
      return 0;
    });
  }
  children.check_all_exited_ok();
  BOOST_TEST(state->barrier_timeouts.load() == 0);
  BOOST_TEST(state->rounds_together.load() == int{groups} * rounds);
  BOOST_TEST(state->writes.load() == writers * writes);
  BOOST_TEST(state->reader_saw_writer.load() == 0);
  BOOST_TEST(state->writer_saw_other.load() == 0);
  BOOST_TEST(state->max_readers_seen_by_reader.load() >= int{readers});
}

BOOST_AUTO_TEST_SUITE_END()
