// tests/perf/fork_condition_test.cpp
//
// The registries share a few condition variables between keys (issue 4).
// A thread of the parent may be waiting on one when another thread forks;
// POSIX leaves the child's copy of such a condition undefined, so the child
// gets fresh ones. Here the child then locks the same key (the same
// condition) with a waiter of its own, and its release must wake it.

#define BOOST_TEST_MODULE fork_condition_test
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/alarm_watchdog.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_path.hpp"

namespace {

using namespace std::chrono_literals;

// Returns true once thread `tid` of this process sleeps (state S: blocked
// in the kernel, here on the condition's futex), polling at most `limit`.
bool sleeps_within(pid_t tid, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  const std::string stat = "/proc/self/task/" + std::to_string(tid) + "/stat";
  while (std::chrono::steady_clock::now() < end) {
    std::ifstream in(stat);
    std::string text((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    const auto paren = text.rfind(')');
    if (paren != std::string::npos && paren + 2 < text.size() &&
        text[paren + 2] == 'S') {
      return true;
    }
    std::this_thread::yield();
  }
  return false;
}

// Holds `path` in this thread while a new thread waits for it; returns
// once the waiter sleeps (or the bound passed), with the waiter running.
struct waiter_on {
  std::optional<dreadlocks::thread_level_path_lock> held;
  std::atomic<pid_t> tid{0};
  std::thread thread;
  bool sleeping = false;

  explicit waiter_on(const std::filesystem::path& path) : held(std::in_place, path) {
    thread = std::thread([this, path] {
      tid = static_cast<pid_t>(::syscall(SYS_gettid));
      dreadlocks::thread_level_path_lock waiting(path);
    });
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (tid.load() == 0 && std::chrono::steady_clock::now() < end) {
      std::this_thread::yield();
    }
    sleeping = tid.load() != 0 && sleeps_within(tid.load(), 10000ms);
  }

  ~waiter_on() {
    held.reset();
    thread.join();
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_child_wakes_its_own_waiters_after_a_fork_beside_a_waiter) {
#if defined(__SANITIZE_THREAD__)
  // The child must start a thread after a multi-threaded fork, which
  // ThreadSanitizer refuses ("dup thread with used id").
  BOOST_TEST_MESSAGE("skipped under ThreadSanitizer");
  BOOST_TEST(true);
#else
  dreadlocks_test::alarm_watchdog dog("fork_condition_test", 60s);
  const auto path = dreadlocks_test::unique_path("fork-condition");
  waiter_on parent(path);
  BOOST_TEST_REQUIRE(parent.sleeping, "the parent's waiter never slept");

  // The child locks the same key (so the same condition variable) afresh,
  // with a waiter of its own, and releases: the release must wake it.
  dreadlocks_test::child_process child([&] {
    waiter_on own(path);
    dreadlocks_test::child_require(own.sleeping,
                                   "the child's waiter never slept");
    return 0;  // ~waiter_on: release (broadcast), then join the waiter
  });
  const auto status = child.wait();
  BOOST_TEST(status.ok(), status.describe());
#endif
}
