// tests/perf/fork_condition_test.cpp
//
// The registries share a few condition variables between keys (issue 4).
// A thread of the parent may be waiting on one when another thread forks;
// POSIX leaves the child's copy of such a condition undefined, so the child
// gets fresh ones. Here the child then waits on the same condition with a
// waiter of its own, which must be woken: in the thread registry, through
// the same key; in the process registry, through a file whose state shares
// the condition.
//
// This is the one test that starts a thread in a child forked from a
// multi-threaded parent, on purpose: that is the situation under test. Two
// things make it run under ThreadSanitizer too:
// - ThreadSanitizer refuses such a thread unless die_after_fork=0; this
//   binary sets it through __tsan_default_options() below.
// - Every waiter runs on a stack of its own (own_stack_thread), so that the
//   child's thread cannot reuse the parent's waiter's stack and identity.

#define BOOST_TEST_MODULE fork_condition_test
#include <fcntl.h>
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
#include <vector>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/temp_path.hpp"
#include "tests/support/watchdog.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

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

// Returns true once `holds()` does, polling at most `limit`.
template <class Predicate>
bool within(std::chrono::milliseconds limit, Predicate holds) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (holds()) return true;
    std::this_thread::yield();
  }
  return false;
}

// Returns the text of /proc/self/task/<tid>/<name>.
std::string task_file(pid_t tid, const char* name) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/" + name);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

// Returns the id of the thread that stores it in `tid` once it has, or 0
// if it has not within `limit`.
pid_t started_within(const std::atomic<pid_t>& tid,
                     std::chrono::milliseconds limit) {
  within(limit, [&] { return tid.load() != 0; });
  return tid.load();
}

// Returns true once thread `tid` of this process sleeps (state S: blocked
// in the kernel, here on the condition's futex), polling at most `limit`.
bool sleeps_within(pid_t tid, std::chrono::milliseconds limit) {
  return within(limit, [&] {
    const std::string text = task_file(tid, "stat");
    const auto paren = text.rfind(')');
    return paren != std::string::npos && paren + 2 < text.size() &&
           text[paren + 2] == 'S';
  });
}

// Returns true once thread `tid` of this process is blocked in system call
// `call`, polling at most `limit`. Unlike state S, this tells a thread
// waiting on a condition (futex) from one waiting for a file lock (fcntl).
bool blocked_in_within(pid_t tid, long call, std::chrono::milliseconds limit) {
  // The file holds "running" while the thread runs, else the number of the
  // call it is blocked in, then its arguments.
  const std::string blocked = std::to_string(call) + " ";
  return within(limit, [&] {
    return task_file(tid, "syscall").compare(0, blocked.size(), blocked) == 0;
  });
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
    const pid_t id = started_within(tid, 10s);
    sleeping = id != 0 && sleeps_within(id, 10s);
  }

  ~waiter_on() { held.reset(); }  // then ~own_stack_thread joins
};

#if defined(F_OFD_SETLK)
// The default process policy, noting for each grant the condition variable
// of the granted file's state: the one the process registry's threads wait
// on while another thread of theirs asks the kernel for the file. The
// registry does not say which it is (file_state is its own), and the test
// must not guess: the child has to wait on the very condition the parent's
// thread waited on.
struct noting_process_lock : dreadlocks::ofd_process_lock {
  static hold acquire(const dreadlocks::lock_request& request) {
    hold granted = ofd_process_lock::acquire(request);
    last_condition = granted.granted.target->changed;
    return granted;
  }

  // The condition of the calling thread's last grant.
  static inline thread_local const void* last_condition = nullptr;
};

using noting_lock =
    dreadlocks::basic_path_lock<dreadlocks::no_thread_lock, noting_process_lock,
                                dreadlocks::reentrant_if_requested>;

// Returns the condition of `path`'s file, locking and releasing it. The
// registry keeps the released file's state (condition included) for the
// next lock of `path`; transition_waiters checks that it was taken up.
const void* condition_of(const std::filesystem::path& path) {
  const noting_lock probe(path);
  return noting_process_lock::last_condition;
}

// An exclusive OFD lock on `path` through a descriptor of its own: another
// open file description than the registry's, so to the registry it is
// another process holding the file, without the process.
class outside_lock {
 public:
  explicit outside_lock(const std::filesystem::path& path)
      : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666)) {
    if (fd_ < 0 || !set(F_WRLCK)) {
      const int error = errno;
      if (fd_ >= 0) ::close(fd_);
      throw std::system_error(error, std::generic_category(), "outside_lock");
    }
  }

  outside_lock(const outside_lock&) = delete;
  outside_lock& operator=(const outside_lock&) = delete;

  ~outside_lock() {
    release();
    ::close(fd_);
  }

  // Unlocks rather than closes: a forked child's copy of the descriptor
  // would keep the description, and so the lock, alive.
  void release() { set(F_UNLCK); }

 private:
  bool set(short type) {
    struct ::flock whole {};
    whole.l_type = type;
    whole.l_whence = SEEK_SET;
    return ::fcntl(fd_, F_OFD_SETLK, &whole) == 0;
  }

  int fd_;
};

// Two threads of this process locking `path` at the process level while an
// outside_lock holds it: an asker, waiting in the kernel (the file is then
// "in transition"), and after it a waiter, which therefore waits on the
// file's condition for the asker's answer instead of asking the kernel
// too. Returns once both wait so (or a bound passed). finish() drops the
// outside lock and joins both: it returns only if the asker, granted,
// woke the waiter through the condition.
struct transition_waiters {
  const void* const condition;  // the file's, noted before anyone waits
  outside_lock blocker;
  std::atomic<pid_t> asker_tid{0};
  std::atomic<pid_t> waiter_tid{0};
  std::atomic<const void*> waiter_condition{nullptr};
  std::optional<own_stack_thread> asker;
  std::optional<own_stack_thread> waiter;
  bool waiting = false;

  explicit transition_waiters(const std::filesystem::path& path)
      : condition(condition_of(path)), blocker(path) {
    asker.emplace([this, path] {
      asker_tid = static_cast<pid_t>(::syscall(SYS_gettid));
      const noting_lock granted(path);
    });
    // The waiter must find the transition begun: only the asker's
    // F_OFD_SETLKW blocks in fcntl, and only the condition in futex.
    const pid_t asking = started_within(asker_tid, 10s);
    const bool in_transition =
        asking != 0 && blocked_in_within(asking, SYS_fcntl, 10s);
    waiter.emplace([this, path] {
      waiter_tid = static_cast<pid_t>(::syscall(SYS_gettid));
      const noting_lock granted(path);
      waiter_condition = noting_process_lock::last_condition;
    });
    const pid_t waiting_id = started_within(waiter_tid, 10s);
    waiting = in_transition && waiting_id != 0 &&
              blocked_in_within(waiting_id, SYS_futex, 10s);
  }

  transition_waiters(const transition_waiters&) = delete;
  transition_waiters& operator=(const transition_waiters&) = delete;

  ~transition_waiters() { finish(); }

  // Returns the condition the waiter's file had when granted: `condition`
  // unless the registry gave the file a new state since condition_of().
  const void* finish() {
    blocker.release();
    waiter.reset();  // joins
    asker.reset();
    return waiter_condition.load();
  }
};
#endif  // F_OFD_SETLK

}  // namespace

BOOST_AUTO_TEST_CASE(a_child_wakes_its_own_waiters_after_a_fork_beside_a_waiter) {
  dreadlocks_test::watchdog dog(60s);
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

#if defined(F_OFD_SETLK)
BOOST_AUTO_TEST_CASE(
    a_child_wakes_its_own_waiters_after_a_fork_beside_a_process_level_waiter) {
  dreadlocks_test::watchdog dog(60s);
  const auto path = dreadlocks_test::unique_path("fork-process-condition");
  transition_waiters parent(path);
  BOOST_TEST_REQUIRE(parent.waiting,
                     "the parent's waiter never waited on the condition");

  // The child's registry starts empty (the parent's file is orphaned), so
  // the child reaches the parent's condition through a file of its own:
  // it opens new files until one's state has that condition, and keeps
  // the others held so that their states cannot be handed out again. Then
  // a waiter of its own on that file must be woken, twice (see above: a
  // single round would pass even without fresh conditions).
  dreadlocks_test::child_process child([&] {
    std::vector<noting_lock> others;
    std::filesystem::path same;
    for (int tried = 0; tried < 64 && same.empty(); ++tried) {
      auto candidate = dreadlocks_test::unique_path("fork-process-condition");
      noting_lock probe(candidate);
      if (noting_process_lock::last_condition == parent.condition) {
        same = std::move(candidate);
      } else {
        others.push_back(std::move(probe));
      }
    }
    dreadlocks_test::child_require(
        !same.empty(), "no file of the child's has the parent's condition");
    for (int round = 0; round < 2; ++round) {
      transition_waiters own(same);
      dreadlocks_test::child_require(
          own.waiting, "the child's waiter never waited on the condition");
      dreadlocks_test::child_require(
          own.finish() == parent.condition,
          "the child's waiter waited on another condition");
    }
    return 0;
  });
  const auto status = child.wait();
  BOOST_TEST(status.ok(), status.describe());
  BOOST_TEST(parent.finish() == parent.condition,
             "the parent's waiter waited on another condition");
}
#endif  // F_OFD_SETLK
