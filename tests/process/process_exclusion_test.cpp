// tests/process/process_exclusion_test.cpp
//
// Exclusion between processes (the original suite's process scenarios):
// the non-blocking matrix, a writer against another process's threads,
// many readers then a writer, a chain of overlapping readers against a
// waiting writer, and a holder killed with SIGKILL. Each runs against both
// process policies, with and without the thread level.

#define BOOST_TEST_MODULE dreadlocks process exclusion
#include <signal.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/process/process_test_common.hpp"
#include "tests/support/nothing_left_behind.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

// Shared by a holder, the threads of another process, and the test.
struct delay_state {
  explicit delay_state(unsigned threads) : all_in(threads) {}
  dlt::process_event about_to_lock;
  dlt::process_event got;
  dlt::process_barrier all_in;
  std::atomic<int> early{0};
  std::atomic<int> not_together{0};
};

// Shared by readers (counted in `inside`), a writer and the test.
struct writer_state {
  dlt::process_event about_to_lock;
  dlt::process_event got;
  std::atomic<int> inside{0};
  std::atomic<int> seen_inside{-1};
};

// Forks a writer that says it is about to lock, waits for Lock on `file`
// exclusively, and once granted records how many readers it found inside.
template <class Lock>
dlt::child_process start_writer(const fs::path& file, writer_state& state) {
  return dlt::child_process([&] {
    state.about_to_lock.signal();
    Lock lock(file, dlt::mode(false));
    state.seen_inside = state.inside.load();
    state.got.signal();
    return 0;
  });
}

// The writer got the lock, with no reader inside, and exited well.
void check_writer_got_it_alone(dlt::child_process& writer,
                               writer_state& state) {
  BOOST_TEST(state.got.wait());
  BOOST_TEST(dlt::exited_ok(writer.wait()));
  BOOST_TEST(state.seen_inside.load() == 0);
}

// Shared by a waiter whose wait is interrupted by signals and the test.
struct interrupt_state {
  dlt::process_event about_to_lock;
  dlt::process_event interrupted;  // posted by the signal handler
  dlt::process_event got;
};
interrupt_state* interrupts = nullptr;  // the waiter's handler posts here

extern "C" void count_interrupt(int) { interrupts->interrupted.signal(); }

#if defined(__SANITIZE_THREAD__)
constexpr bool handlers_deferred = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool handlers_deferred = true;
#else
constexpr bool handlers_deferred = false;
#endif
#else
constexpr bool handlers_deferred = false;
#endif

}  // namespace

BOOST_AUTO_TEST_SUITE(process_exclusion)

// Process A holds `first`; process B (this one) tries `rest` without
// blocking: granted iff both are shared, else the process-level error
// (checked for level, code, mode, path and message by try_lock_once).
BOOST_AUTO_TEST_CASE_TEMPLATE(non_blocking_matrix, Lock, dlt::file_locks) {
  dlt::watchdog dog(20s);
  for (const bool first_shared : {true, false}) {
    for (const bool rest_shared : {true, false}) {
      const auto file = dlt::unique_path("matrix");
      dlt::process_holder<Lock> a(file, dlt::mode(first_shared));
      BOOST_TEST_REQUIRE(a.wait_settled() == dlt::attempt::granted);
      std::string detail;
      const dlt::attempt got = dlt::try_lock_once<Lock>(
          file, dlt::mode(rest_shared, false), &detail);
      const dlt::attempt expected = first_shared && rest_shared
                                        ? dlt::attempt::granted
                                        : dlt::attempt::process_would_block;
      BOOST_TEST(got == expected,
                 "first " << dlt::mode_name(first_shared) << ", rest "
                          << dlt::mode_name(rest_shared) << ": " << detail);
      if (expected != dlt::attempt::granted) {
        // The message says which path, which level and which mode.
        BOOST_TEST(detail.find(dlt::key_of(file).string()) !=
                   std::string::npos);
        BOOST_TEST(detail.find("process-level") != std::string::npos);
        BOOST_TEST(detail.find(dlt::mode_name(rest_shared)) !=
                   std::string::npos);
      }
      // The refusal is the process-level class, caught as its base too.
      if (expected != dlt::attempt::granted) {
        BOOST_CHECK_THROW(Lock(file, dlt::mode(rest_shared, false)),
                          dreadlocks::acquiring_lock_would_block_error);
      }
      BOOST_TEST(dlt::exited_ok(a.release_and_exit()));
      // Once A is gone, anything is granted at once.
      BOOST_TEST(dlt::try_lock_once<Lock>(file, dlt::mode(false, false)) ==
                 dlt::attempt::granted);
    }
  }
}

// One process holds exclusive; the threads of another process ask for
// shared without blocking: each gets the process-level error.
BOOST_AUTO_TEST_CASE_TEMPLATE(exclusive_holder_refuses_other_process_threads,
                              Lock, dlt::file_locks) {
  dlt::watchdog dog(20s);
  constexpr int threads = 8;
  const auto file = dlt::unique_path("refuse-threads");
  dlt::process_holder<Lock> a(file, dlt::mode(false));
  BOOST_TEST_REQUIRE(a.wait_settled() == dlt::attempt::granted);
  dlt::child_process b([&] {
    std::atomic<int> refused{0};
    std::vector<std::thread> workers;
    for (int i = 0; i < threads; ++i) {
      workers.emplace_back([&] {
        if (dlt::try_lock_once<Lock>(file, dlt::mode(true, false)) ==
            dlt::attempt::process_would_block) {
          ++refused;
        }
      });
    }
    for (auto& worker : workers) worker.join();
    return refused == threads ? 0 : 1;
  });
  BOOST_TEST(dlt::exited_ok(b.wait()));
  BOOST_TEST(dlt::exited_ok(a.release_and_exit()));
}

// One process holds exclusive; the threads of another process ask for
// shared, blocking: none gets it before the holder releases (each checks
// the holder's set-before-unlock flag, and the kernel shows the request
// blocked), then all get it and hold it together.
BOOST_AUTO_TEST_CASE_TEMPLATE(exclusive_holder_delays_other_process_threads,
                              Lock, dlt::file_locks) {
  dlt::watchdog dog(20s);
  constexpr unsigned threads = 6;
  dlt::shared_object<delay_state> state(threads);
  const auto file = dlt::unique_path("delay-threads");
  dlt::process_holder<Lock> a(file, dlt::mode(false));
  BOOST_TEST_REQUIRE(a.wait_settled() == dlt::attempt::granted);
  dlt::child_process b([&] {
    std::vector<std::thread> workers;
    for (unsigned i = 0; i < threads; ++i) {
      workers.emplace_back([&] {
        state->about_to_lock.signal();
        Lock lock(file, dlt::mode(true));
        if (!a.releasing()) ++state->early;
        // Every thread of B holds shared at the same time.
        if (!state->all_in.arrive_and_wait(10s)) ++state->not_together;
        state->got.signal();
      });
    }
    for (auto& worker : workers) worker.join();
    return 0;
  });
  BOOST_TEST_REQUIRE(state->about_to_lock.wait_n(threads));
  BOOST_TEST(dlt::wait_for_blocked_requests(file, 1));
  BOOST_TEST(!state->got.try_wait(),
             "a thread of B got shared while A "
             "held exclusive");
  BOOST_TEST(dlt::exited_ok(a.release_and_exit()));
  BOOST_TEST(state->got.wait_n(threads));
  BOOST_TEST(dlt::exited_ok(b.wait()));
  BOOST_TEST(state->early.load() == 0);
  BOOST_TEST(state->not_together.load() == 0);
}

// Several processes hold shared; a writer process waits until the last of
// them has released, and finds none inside.
BOOST_AUTO_TEST_CASE_TEMPLATE(many_shared_then_one_exclusive, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  constexpr int readers = 5;
  dlt::shared_object<writer_state> state;
  const auto file = dlt::unique_path("many-shared");
  std::vector<std::unique_ptr<dlt::process_holder<Lock>>> holders;
  for (int i = 0; i < readers; ++i) {
    holders.push_back(std::make_unique<dlt::process_holder<Lock>>(
        file, dlt::mode(true), &state->inside));
  }
  for (auto& reader : holders) {
    BOOST_TEST_REQUIRE(reader->wait_settled() == dlt::attempt::granted);
  }
  BOOST_TEST(state->inside.load() == readers);
  auto writer = start_writer<Lock>(file, *state);
  BOOST_TEST_REQUIRE(state->about_to_lock.wait());
  BOOST_TEST(dlt::wait_for_blocked_requests(file, 1));
  for (int i = 0; i < readers; ++i) {
    BOOST_TEST(!state->got.try_wait(), "the writer got exclusive with "
                                           << readers - i
                                           << " readers holding");
    BOOST_TEST(dlt::exited_ok(holders[i]->release_and_exit()));
  }
  check_writer_got_it_alone(writer, *state);
}

// A chain of overlapping readers (each granted without blocking while the
// previous one still holds and a writer waits) does not deadlock against
// the waiting writer, which gets the lock once the chain ends.
BOOST_AUTO_TEST_CASE_TEMPLATE(overlapping_shared_chain_vs_waiting_exclusive,
                              Lock, dlt::file_locks) {
  dlt::watchdog dog(20s);
  constexpr int chain = 5;
  dlt::shared_object<writer_state> state;
  const auto file = dlt::unique_path("shared-chain");
  auto previous = std::make_unique<dlt::process_holder<Lock>>(
      file, dlt::mode(true), &state->inside);
  BOOST_TEST_REQUIRE(previous->wait_settled() == dlt::attempt::granted);
  auto writer = start_writer<Lock>(file, *state);
  BOOST_TEST_REQUIRE(state->about_to_lock.wait());
  BOOST_TEST_REQUIRE(dlt::wait_for_blocked_requests(file, 1));
  for (int i = 1; i < chain; ++i) {
    // A new reader is granted at once although a writer waits.
    auto next = std::make_unique<dlt::process_holder<Lock>>(
        file, dlt::mode(true, false), &state->inside);
    BOOST_TEST_REQUIRE(next->wait_settled() == dlt::attempt::granted,
                       "reader " << i << " of the chain");
    BOOST_TEST(dlt::exited_ok(previous->release_and_exit()));
    BOOST_TEST(!state->got.try_wait(), "the writer got in during the chain");
    previous = std::move(next);
  }
  // The writer still waits (it is woken by each release and waits again).
  BOOST_TEST(dlt::wait_for_blocked_requests(file, 1));
  BOOST_TEST(dlt::exited_ok(previous->release_and_exit()));
  check_writer_got_it_alone(writer, *state);
}

// A process waiting for the lock is interrupted by signals (a handler
// without SA_RESTART, so the kernel wait fails with EINTR): it keeps
// waiting, and gets the lock once the holder releases.
BOOST_AUTO_TEST_CASE_TEMPLATE(interrupted_wait_is_retried, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  constexpr int signals = 3;
  dlt::shared_object<interrupt_state> state;
  const auto file = dlt::unique_path("eintr");
  dlt::process_holder<Lock> a(file, dlt::mode(false));
  BOOST_TEST_REQUIRE(a.wait_settled() == dlt::attempt::granted);
  dlt::child_process waiter([&] {
    interrupts = state.get();
    struct sigaction action {};
    action.sa_handler = &count_interrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART
    dlt::child_require(::sigaction(SIGUSR1, &action, nullptr) == 0,
                       "sigaction");
    state->about_to_lock.signal();
    Lock lock(file, dlt::mode(false));
    dlt::child_require(a.releasing(), "granted only after the release");
    state->got.signal();
    return 0;
  });
  BOOST_TEST_REQUIRE(state->about_to_lock.wait());
  for (int i = 0; i < signals; ++i) {
    BOOST_TEST_REQUIRE(dlt::wait_for_blocked_requests(file, 1));
    waiter.kill(SIGUSR1);
    // ThreadSanitizer defers a handler until the thread leaves the kernel
    // wait, and may merge pending signals: then only the outcome is checked.
    if (!handlers_deferred) BOOST_TEST_REQUIRE(state->interrupted.wait());
  }
  BOOST_TEST(dlt::wait_for_blocked_requests(file, 1));
  BOOST_TEST(!state->got.try_wait());
  BOOST_TEST(dlt::exited_ok(a.release_and_exit()));
  BOOST_TEST(state->got.wait());
  if (handlers_deferred) BOOST_TEST(state->interrupted.wait());
  BOOST_TEST(dlt::exited_ok(waiter.wait()));
}

// A process killed with SIGKILL while holding exclusive releases it: the
// kernel drops its locks, and this process gets the lock at once, without
// blocking.
BOOST_AUTO_TEST_CASE_TEMPLATE(sigkilled_holder_releases, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("sigkill");
  dlt::process_holder<Lock> a(file, dlt::mode(false));
  BOOST_TEST_REQUIRE(a.wait_settled() == dlt::attempt::granted);
  BOOST_TEST(dlt::try_lock_once<Lock>(file, dlt::mode(true, false)) ==
             dlt::attempt::process_would_block);
  a.process().kill(SIGKILL);
  const auto status = a.process().wait();
  BOOST_TEST(status.killed_by(SIGKILL), status.describe());
  {
    Lock lock(file, dlt::mode(false, false));
    BOOST_TEST(lock.owns_lock());
  }
  BOOST_TEST(dlt::kernel_locks_on(file).empty());
}

BOOST_AUTO_TEST_SUITE_END()
