// tests/timeout/kernel_wait_test.cpp
//
// Timed process-level waits on OFD and flock(2) locks wait in the kernel,
// as untimed ones do (detail/timed_kernel_wait.hpp), and leave nothing
// behind when they expire: no descriptor, hold, kernel request or task. A
// polling waiter is never seen in the kernel's queue (/proc/locks "->"), so
// the first case fails on a registry that polls.
//
// Built a second time with DREADLOCKS_TEST_NO_TASK (kernel_wait_fallback_
// test): the process then looks as if it ran under valgrind, where no task
// can be started, and the same cases check that timed waits fall back to
// polling: granted, expiring and racing alike, never queued in the kernel.

#define BOOST_TEST_MODULE kernel_wait_test
#include <dirent.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/holder.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/proc_locks.hpp"
#include "tests/support/scenario_locks.hpp"
#include "tests/support/temp_path.hpp"
#include "tests/support/watchdog.hpp"
#include "tests/timeout/wait_support.hpp"

using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

#if defined(DREADLOCKS_TEST_NO_TASK)
// Before the first timed wait, which reads it once.
struct looks_like_valgrind {
  looks_like_valgrind() {
    ::setenv("LD_PRELOAD", "/nonexistent/vgpreload_core-test.so", 1);
  }
};
BOOST_TEST_GLOBAL_FIXTURE(looks_like_valgrind);
constexpr bool kQueuedInKernel = false;
#else
constexpr bool kQueuedInKernel = true;
#endif

namespace dlt = dreadlocks_test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// The guards whose process level can bound a kernel wait: the aliases (OFD
// locks) and the same compositions over flock(2).
using kernel_waiting =
    boost::mpl::list<dreadlocks::path_lock, dreadlocks::process_level_path_lock,
                     dlt::both_levels_lock<dreadlocks::flock_process_lock>,
                     dlt::process_level_lock<dreadlocks::flock_process_lock>>;

// The waiting tasks whose parent is this process, zombies included: its
// children without an exit signal (field 38 of /proc/<pid>/stat), which
// the forked holders, with SIGCHLD, are not.
std::size_t tasks_of_this_process() {
  const std::string self = std::to_string(::getpid());
  std::size_t count = 0;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return 0;
  while (const dirent* entry = ::readdir(proc)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    std::ifstream stat(std::string("/proc/") + entry->d_name + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;  // gone meanwhile
    const auto paren = line.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(line.substr(paren + 1));
    std::string field;
    std::string parent;
    std::string exit_signal;
    for (int number = 3; fields >> field; ++number) {
      if (number == 4) parent = field;
      if (number == 38) exit_signal = field;
    }
    if (parent == self && exit_signal == "0") ++count;
  }
  ::closedir(proc);
  return count;
}

// A thread that asks Lock on `file` with `options` and records whether it
// was granted (releasing at once) or refused with the would-block error.
template <class Lock>
class timed_attempt {
 public:
  timed_attempt(const fs::path& file, dreadlocks::lock_options options)
      : thread_([this, file, options] {
          try {
            Lock lock(file, options);
            outcome_ = granted;
          } catch (const dreadlocks::acquiring_lock_would_block_error&) {
            outcome_ = refused;
          } catch (...) {
            outcome_ = failed;
          }
        }) {}

  ~timed_attempt() {
    if (thread_.joinable()) thread_.join();
  }

  // Joins the thread; returns 1 granted, 0 refused, -1 another error.
  int outcome() {
    thread_.join();
    return outcome_;
  }

  static constexpr int granted = 1;
  static constexpr int refused = 0;
  static constexpr int failed = -1;

 private:
  std::atomic<int> outcome_{failed};
  std::thread thread_;
};

// A thread that makes timed waits (20 s) with Lock on `files`, one by
// one, each once allowed, and records whether each was granted (then
// released at once) or refused; it ends when allowed once more (join()).
template <class Lock>
class waits_one_by_one {
 public:
  explicit waits_one_by_one(std::vector<fs::path> files)
      : files_(std::move(files)),
        outcomes_(files_.size(), timed_attempt<Lock>::failed),
        thread_([this] { run(); }) {}

  ~waits_one_by_one() {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      stopped_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // Lets the thread make its next wait.
  void allow_next() {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      ++allowed_;
    }
    changed_.notify_all();
  }

  // Waits (20 s at most) for wait number `n` (from 0) to end; returns its
  // outcome as timed_attempt does.
  int outcome_of(std::size_t n) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, 20s, [&] { return done_ > n; });
    return done_ > n ? outcomes_[n] : timed_attempt<Lock>::failed;
  }

  // Lets the thread end, once its waits are done, and joins it.
  void join() {
    allow_next();
    thread_.join();
  }

 private:
  // Waits (20 s at most) until allowed a step past `n`; false if stopped.
  bool allowed_past(std::size_t n) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, 20s,
                             [&] { return stopped_ || allowed_ > n; }) &&
           !stopped_;
  }

  void run() {
    for (std::size_t n = 0; n < files_.size(); ++n) {
      if (!allowed_past(n)) return;
      int outcome = timed_attempt<Lock>::failed;
      try {
        Lock lock(files_[n], dlt::timed(20s));
        outcome = timed_attempt<Lock>::granted;
      } catch (const dreadlocks::acquiring_lock_would_block_error&) {
        outcome = timed_attempt<Lock>::refused;
      } catch (...) {
      }
      {
        std::lock_guard<std::mutex> guard(mutex_);
        outcomes_[n] = outcome;
        done_ = n + 1;
      }
      changed_.notify_all();
    }
    allowed_past(files_.size());  // then ends
  }

  const std::vector<fs::path> files_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t allowed_ = 0;
  std::size_t done_ = 0;
  bool stopped_ = false;
  std::vector<int> outcomes_;
  std::thread thread_;  // last: starts once the rest is built
};

}  // namespace

BOOST_AUTO_TEST_SUITE(timed_process_wait)

// Another process holds the file; a timed waiter of this process is seen
// queued in the kernel, and is granted when the holder releases.
BOOST_AUTO_TEST_CASE_TEMPLATE(waits_in_the_kernel, Lock, kernel_waiting) {
  dlt::watchdog dog(20s);
  for (const bool shared : {false, true}) {
    BOOST_TEST_CONTEXT("asked " << dlt::mode_name(shared)) {
      const auto file = dlt::unique_path("kernel-wait");
      const auto empty = dlt::holdings_now();
      auto holder = dlt::hold_in_process<dlt::process_level_of<Lock>>(file, {});
      BOOST_TEST_REQUIRE(holder->wait_held());

      timed_attempt<Lock> waiter(file, dlt::timed(20s, shared));
      if (kQueuedInKernel) {
        BOOST_TEST(dlt::wait_for_blocked_requests(file, 1),
                   "the timed request is queued in the kernel");
      } else {
        BOOST_TEST(!dlt::wait_for_blocked_requests(file, 1, 300ms),
                   "a polling request is never queued in the kernel");
      }
      BOOST_TEST(holder->release());
      BOOST_TEST(waiter.outcome() == timed_attempt<Lock>::granted);
      BOOST_TEST(dlt::holdings_now() == empty);
    }
  }
}

// The waiter expires: the would-block error, and nothing left behind: no
// descriptor, registry entry, kernel request or waiting task.
BOOST_AUTO_TEST_CASE_TEMPLATE(expires_leaving_nothing, Lock, kernel_waiting) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("kernel-expiry");
  const auto empty = dlt::holdings_now();
  auto holder = dlt::hold_in_process<dlt::process_level_of<Lock>>(file, {});
  BOOST_TEST_REQUIRE(holder->wait_held());
  const std::size_t tasks = tasks_of_this_process();

  timed_attempt<Lock> waiter(file, dlt::timed(300ms));
  if (kQueuedInKernel) BOOST_TEST(dlt::wait_for_blocked_requests(file, 1));
  BOOST_TEST(waiter.outcome() == timed_attempt<Lock>::refused);

  BOOST_TEST(dlt::holdings_now() == empty);
  BOOST_TEST(dlt::settled_blocked_requests_on(file) == 0u);
  BOOST_TEST(tasks_of_this_process() == tasks, "no task left");
  BOOST_TEST(holder->release());
}

// The holder releases about when the deadline passes, so that the grant
// and the kill of the waiting task race: whichever wins, the answer is
// exact. Granted: the waiter held the file (the kernel showed its lock to
// nobody else: the holder had gone). Refused: nothing of it is left.
BOOST_AUTO_TEST_CASE_TEMPLATE(grant_racing_the_deadline_is_never_lost, Lock,
                              kernel_waiting) {
  dlt::watchdog dog(60s);
  int granted = 0;
  int refused = 0;
  for (int round = 0; round < 30; ++round) {
    const auto file = dlt::unique_path("kernel-race");
    const auto empty = dlt::holdings_now();
    auto holder = dlt::hold_in_process<dlt::process_level_of<Lock>>(file, {});
    BOOST_TEST_REQUIRE(holder->wait_held());
    const auto timeout = std::chrono::milliseconds(2 + round % 4);
    holder->order_release(
        dlt::release_order::at(dlt::steady::now() + timeout));
    const int outcome = timed_attempt<Lock>(file, dlt::timed(timeout)).outcome();
    BOOST_TEST_REQUIRE(outcome != timed_attempt<Lock>::failed);
    (outcome == timed_attempt<Lock>::granted ? granted : refused) += 1;
    BOOST_TEST_REQUIRE(holder->wait_released());
    BOOST_TEST(dlt::holdings_now() == empty);
    BOOST_TEST(dlt::settled_kernel_locks_on(file).empty(),
               "no lock or request left on the file");
    BOOST_TEST(tasks_of_this_process() == 0u,
               "no task left once the waiting thread has ended");
  }
  BOOST_TEST_MESSAGE("granted " << granted << ", refused " << refused);
}

// A task that wakes its caller in time ends on its own, and is reaped at
// the thread's next timed wait or at the thread's end
// (detail/timed_kernel_wait.hpp, task_slot): never more than one per
// thread, none once the thread has ended.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_granted_waits_task_is_reaped_by_the_next_wait,
                              Lock, kernel_waiting) {
  dlt::watchdog dog(30s);
  const std::vector<fs::path> files{dlt::unique_path("reap-first"),
                                    dlt::unique_path("reap-second")};
  std::vector<std::unique_ptr<dlt::holder>> holders;
  for (const auto& file : files) {
    holders.push_back(
        dlt::hold_in_process<dlt::process_level_of<Lock>>(file, {}));
    BOOST_TEST_REQUIRE(holders.back()->wait_held());
  }
  const std::size_t tasks = tasks_of_this_process();
  const std::size_t left_by_a_grant = kQueuedInKernel ? 1 : 0;
  waits_one_by_one<Lock> waiter(files);
  for (std::size_t n = 0; n < files.size(); ++n) {
    BOOST_TEST_CONTEXT("wait " << n) {
      waiter.allow_next();
      if (kQueuedInKernel) {
        BOOST_TEST(dlt::wait_for_blocked_requests(files[n], 1));
      }
      BOOST_TEST(holders[n]->release());
      BOOST_TEST_REQUIRE(waiter.outcome_of(n) ==
                         timed_attempt<Lock>::granted);
      // This wait's task is left, the one before it reaped.
      BOOST_TEST(tasks_of_this_process() == tasks + left_by_a_grant);
    }
  }
  waiter.join();
  BOOST_TEST(tasks_of_this_process() == tasks, "reaped at the thread's end");
}

BOOST_AUTO_TEST_SUITE_END()

// A fork() of a thread whose task is left to reap has that task recorded
// in its copy of the thread: the child's first timed wait must neither
// wait for it nor reap it (it is the parent's; its pid may name a child
// of the child), and the parent still reaps it at the thread's end.
BOOST_AUTO_TEST_CASE(a_fork_child_leaves_the_parents_task_alone) {
  using Lock = dreadlocks::process_level_path_lock;
  using dreadlocks::detail::task_outcome;
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("reap-fork");
  auto holder = dlt::hold_in_process<Lock>(file, {});
  BOOST_TEST_REQUIRE(holder->wait_held());
  const std::size_t tasks = tasks_of_this_process();
  bool granted = false;
  int child_status = -1;
  std::size_t tasks_after_grant = 0;
  std::size_t tasks_after_child = 0;
  std::thread worker([&] {
    holder->order_release(dlt::release_order::when_asleep(dlt::current_tid()));
    try {
      Lock lock(file, dlt::timed(20s));
      granted = true;
    } catch (...) {
    }
    tasks_after_grant = tasks_of_this_process();
    const pid_t child = ::fork();
    if (child == 0) {
      // A call that returns at once, made in a task of the child's: the
      // task's parent is the child.
      const dreadlocks::detail::kernel_call call{SYS_getppid, {0, 0, 0}};
      long result = 0;
      const auto outcome = dreadlocks::detail::wait_in_task_until(
          call, std::chrono::steady_clock::now() + 10s, result);
      const bool ok = kQueuedInKernel ? outcome == task_outcome::returned &&
                                            result == ::getpid()
                                      : outcome == task_outcome::unavailable;
      ::_exit(ok ? 0 : 1);
    }
    if (child > 0) ::waitpid(child, &child_status, 0);
    tasks_after_child = tasks_of_this_process();
  });
  worker.join();
  BOOST_TEST(granted);
  BOOST_TEST(holder->wait_released());
  BOOST_TEST((WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0),
             "the child's timed wait returned, its task made the call");
  BOOST_TEST(tasks_after_grant == tasks + (kQueuedInKernel ? 1 : 0));
  BOOST_TEST(tasks_after_child == tasks_after_grant,
             "the child left the parent's task alone");
  BOOST_TEST(tasks_of_this_process() == tasks, "reaped at the thread's end");
}

// flock(2) drops a shared lock to wait for exclusive: an upgrade that
// expires must end with the shared lock back, as set() does without
// waiting. This process holds shared (one thread), another process holds
// shared too; a second thread's timed exclusive request expires; the
// kernel then still lists this process's shared lock, and the other
// process's exclusive request is still refused.
BOOST_AUTO_TEST_CASE(flock_upgrade_that_expires_keeps_the_shared_lock) {
  using lock = dlt::process_level_lock<dreadlocks::flock_process_lock>;
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("kernel-upgrade");
  auto other = dlt::hold_in_process<lock>(file, dlt::timed(0s, true));
  BOOST_TEST_REQUIRE(other->wait_held());
  {
    lock reader(file, dlt::timed(0s, true));
    timed_attempt<lock> writer(file, dlt::timed(300ms));
    BOOST_TEST(writer.outcome() == timed_attempt<lock>::refused);
    std::size_t shared_locks = 0;
    for (const auto& entry : dlt::settled_kernel_locks_on(file)) {
      shared_locks += !entry.blocked && entry.type == "READ";
    }
    BOOST_TEST(shared_locks == 2u, "both processes still hold shared");
    auto excluded = dlt::hold_in_process<lock>(file, dlt::timed(0s));
    BOOST_TEST(excluded->wait_settled() == dlt::attempt::process_would_block);
  }
  BOOST_TEST(other->release());
}
