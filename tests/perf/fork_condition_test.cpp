// tests/perf/fork_condition_test.cpp
//
// The registries share a few condition variables between keys (issue 4).
// A thread of the parent may be waiting on one when another thread forks;
// POSIX leaves the child's copy of such a condition undefined, so the child
// gets fresh ones. Here the child then locks the same key (the same
// condition) with a waiter of its own, and its release must wake it.
//
// This is the one test that starts a thread in a child forked from a
// multi-threaded parent, on purpose: that is the situation under test. Two
// things make it run under ThreadSanitizer too:
// - ThreadSanitizer refuses such a thread unless die_after_fork=0; this
//   binary sets it through __tsan_default_options() below.
// - Every waiter runs on a stack of its own (own_stack_thread), so that the
//   child's thread cannot reuse the parent's waiter's stack and identity.

#define BOOST_TEST_MODULE fork_condition_test
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/alarm_watchdog.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_path.hpp"

// ThreadSanitizer's defaults for this binary alone; the TSAN_OPTIONS of
// --config=tsan still apply on top. Without die_after_fork=0 the child dies
// as it starts its waiter ("starting new threads after multi-threaded fork
// is not supported"). ThreadSanitizer then stops checking the thread that
// forked, so it checks the child only in part; what the test asserts, that
// the child's waiter is woken, its exit status still says. Not the BUILD
// rule's env: Bazel 4.2.3 lets the config's --test_env=TSAN_OPTIONS
// replace it.
extern "C" const char* __tsan_default_options() { return "die_after_fork=0"; }

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

// A thread running `body` on a stack mapped here; joined on destruction.
//
// Not std::thread: in a child forked while another thread ran, glibc keeps
// that thread's stack as free and gives it to the child's first new thread,
// and with it the missing thread's pthread_t, which ThreadSanitizer still
// counts as alive ("dup thread with used id"). A stack the caller provides
// is never handed out again, so no waiter takes over another's identity.
class own_stack_thread {
 public:
  explicit own_stack_thread(std::function<void()> body)
      : body_(std::move(body)) {
    stack_ = ::mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack_ == MAP_FAILED) {
      throw std::system_error(errno, std::generic_category(), "mmap");
    }
    pthread_attr_t attributes;
    ::pthread_attr_init(&attributes);
    ::pthread_attr_setstack(&attributes, stack_, kStackSize);
    const int error = ::pthread_create(&thread_, &attributes, &run, this);
    ::pthread_attr_destroy(&attributes);
    if (error != 0) {
      ::munmap(stack_, kStackSize);
      throw std::system_error(error, std::generic_category(), "pthread_create");
    }
  }

  own_stack_thread(const own_stack_thread&) = delete;
  own_stack_thread& operator=(const own_stack_thread&) = delete;

  ~own_stack_thread() {
    ::pthread_join(thread_, nullptr);
    ::munmap(stack_, kStackSize);
  }

 private:
  // Roomy enough for the sanitizers' larger frames.
  static constexpr std::size_t kStackSize = std::size_t{4} << 20;

  static void* run(void* self) {
    static_cast<own_stack_thread*>(self)->body_();
    return nullptr;
  }

  std::function<void()> body_;
  void* stack_ = nullptr;
  pthread_t thread_{};
};

// Holds `path` in this thread while a new thread waits for it; returns
// once the waiter sleeps (or the bound passed), with the waiter running.
// Destruction releases the hold and joins the waiter, so it ends only if
// the release woke the waiter.
struct waiter_on {
  std::optional<dreadlocks::thread_level_path_lock> held;
  std::atomic<pid_t> tid{0};
  own_stack_thread thread;  // after `held` and `tid`: it uses both
  bool sleeping = false;

  explicit waiter_on(const std::filesystem::path& path)
      : held(std::in_place, path), thread([this, path] {
          tid = static_cast<pid_t>(::syscall(SYS_gettid));
          dreadlocks::thread_level_path_lock waiting(path);
        }) {
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (tid.load() == 0 && std::chrono::steady_clock::now() < end) {
      std::this_thread::yield();
    }
    sleeping = tid.load() != 0 && sleeps_within(tid.load(), 10000ms);
  }

  ~waiter_on() { held.reset(); }  // then ~own_stack_thread joins
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_child_wakes_its_own_waiters_after_a_fork_beside_a_waiter) {
  dreadlocks_test::alarm_watchdog dog("fork_condition_test", 60s);
  const auto path = dreadlocks_test::unique_path("fork-condition");
  waiter_on parent(path);
  BOOST_TEST_REQUIRE(parent.sleeping, "the parent's waiter never slept");

  // The child locks the same key (so the same condition variable) afresh,
  // with a waiter of its own, and releases: the release must wake it. Twice:
  // glibc's copy of a condition with the parent's waiter in it still serves
  // one broadcast and hangs in the next, so a single round would pass even
  // without fresh conditions.
  dreadlocks_test::child_process child([&] {
    for (int round = 0; round < 2; ++round) {
      waiter_on own(path);
      dreadlocks_test::child_require(own.sleeping,
                                     "the child's waiter never slept");
    }  // ~waiter_on: release (broadcast), then join the waiter
    return 0;
  });
  const auto status = child.wait();
  BOOST_TEST(status.ok(), status.describe());
}
