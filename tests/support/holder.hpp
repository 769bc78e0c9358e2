// tests/support/holder.hpp
//
// The one holder of the tests: a lock taken elsewhere (another thread or
// another process) and held until the test tells it to release, every wait
// bounded. Release can be ordered for once a given thread is seen asleep in
// its own wait (an ordering proof without a sleep), or not before a given
// time.
//
//   auto other = dreadlocks_test::hold_in_process<
//       dreadlocks::process_level_path_lock>(file, {});
//   BOOST_TEST_REQUIRE(other->wait_held());
//   other->order_release(dreadlocks_test::release_order::when_asleep(
//       dreadlocks_test::current_tid()));
//   dreadlocks::path_lock lock(file, timed(10s));   // granted on release
//   BOOST_TEST(other->wait_released());
//
// "Asleep" is read from /proc/<tid>/stat (state S): a thread that has said
// it is about to lock and is then seen sleeping is waiting inside the lock
// call. Linux only.

#ifndef DREADLOCKS_TESTS_SUPPORT_HOLDER_HPP_
#define DREADLOCKS_TESTS_SUPPORT_HOLDER_HPP_

#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/outcome.hpp"
#include "tests/support/shared_memory.hpp"

namespace dreadlocks_test {

using steady = std::chrono::steady_clock;

// The calling thread's kernel id.
inline pid_t current_tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

// The scheduler state of thread `tid` (of any process): 'R', 'S', 'D', ...;
// 0 if it cannot be read (the thread is gone).
inline char thread_state(pid_t tid) {
  std::ifstream in("/proc/" + std::to_string(tid) + "/stat");
  std::string line;
  std::getline(in, line);
  const auto paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) return 0;
  return line[paren + 2];
}

// Polls until thread `tid` is asleep (S), for at most `timeout`; returns
// whether it was seen asleep.
inline bool wait_until_asleep(
    pid_t tid, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    if (thread_state(tid) == 'S') return true;
    if (steady::now() >= deadline) return false;
    const timespec pause{0, 100000};  // poll interval, not a synchronisation
    ::nanosleep(&pause, nullptr);
  }
}

// release_order
//
// When a holder lets go once told to: at once, once thread `asleep_tid`
// is seen asleep (it said it is about to lock; asleep, it waits in the
// lock call), and not before `not_before`.
struct release_order {
  pid_t asleep_tid = 0;
  steady::time_point not_before{};

  static release_order now() { return {}; }
  static release_order when_asleep(pid_t tid) { return {tid, {}}; }
  static release_order at(steady::time_point when) { return {0, when}; }
};

// Applies `order` in the holder before it releases; false if the thread
// was never seen asleep.
inline bool await_order(const release_order& order) {
  bool ok = true;
  if (order.asleep_tid != 0) ok = wait_until_asleep(order.asleep_tid);
  // The scenario's own timing (e.g. "hold for 1.5 s of a 2 s timeout"),
  // not a synchronisation.
  if (order.not_before != steady::time_point{}) {
    std::this_thread::sleep_until(order.not_before);
  }
  return ok;
}

// holder
//
// A lock held elsewhere (another thread or another process) until
// release(). Every wait is bounded.
class holder {
 public:
  virtual ~holder() = default;
  // Waits until the holder got its lock or failed; says how it went
  // (other_error if it did not settle in time).
  virtual attempt wait_settled() = 0;
  // True if the holder got its lock or failed already; never waits.
  virtual bool settled_already() = 0;
  // Waits until the lock is held; false if it failed or timed out.
  bool wait_held() { return wait_settled() == attempt::granted; }
  // Tells the holder to release as `order` says and waits until it has;
  // false if it did not in time (or never saw the waiter asleep).
  bool release(release_order order = release_order::now()) {
    order_release(order);
    return wait_released();
  }
  // Tells the holder to release as `order` says; does not wait.
  virtual void order_release(release_order order) = 0;
  // Waits until the holder has released; false if not in time.
  virtual bool wait_released() = 0;
};

// A std::thread that runs `lock`, reports, waits for the release order,
// and runs `unlock`.
class thread_holder final : public holder {
 public:
  thread_holder(std::function<void()> lock, std::function<void()> unlock)
      : lock_(std::move(lock)),
        unlock_(std::move(unlock)),
        thread_([this] { run(); }) {}

  ~thread_holder() override {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      if (!ordered_) {
        ordered_ = true;
        order_ = release_order::now();
      }
    }
    changed_.notify_all();
    thread_.join();
  }

  attempt wait_settled() override {
    std::unique_lock<std::mutex> guard(mutex_);
    changed_.wait_for(guard, std::chrono::seconds(15),
                      [&] { return state_ != state::starting; });
    if (state_ == state::failed) {
      BOOST_TEST_MESSAGE("thread holder failed: " << failure_);
    }
    if (state_ == state::starting) return attempt::other_error;
    return outcome_;
  }

  bool settled_already() override {
    std::lock_guard<std::mutex> guard(mutex_);
    return state_ != state::starting;
  }

  void order_release(release_order order) override {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      ordered_ = true;
      order_ = order;
    }
    changed_.notify_all();
  }

  bool wait_released() override {
    std::unique_lock<std::mutex> guard(mutex_);
    changed_.wait_for(guard, std::chrono::seconds(15), [&] {
      return state_ == state::released || state_ == state::failed;
    });
    return state_ == state::released && order_kept_;
  }

 private:
  enum class state { starting, held, released, failed };

  void run() {
    std::string failure;
    const attempt got = attempt_of(
        lock_, [&](const std::exception& error) { failure = error.what(); });
    {
      std::lock_guard<std::mutex> guard(mutex_);
      outcome_ = got;
    }
    if (got != attempt::granted) {
      set(state::failed, failure);
      return;
    }
    set(state::held, "");
    release_order order;
    {
      std::unique_lock<std::mutex> guard(mutex_);
      if (!changed_.wait_for(guard, std::chrono::seconds(20),
                             [&] { return ordered_; })) {
        failure_ = "never told to release";
      }
      order = order_;
    }
    const bool kept = await_order(order);
    unlock_();
    {
      std::lock_guard<std::mutex> guard(mutex_);
      order_kept_ = kept;
    }
    set(state::released, "");
  }

  void set(state next, const std::string& failure) {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      state_ = next;
      if (!failure.empty()) failure_ = failure;
    }
    changed_.notify_all();
  }

  std::function<void()> lock_;
  std::function<void()> unlock_;
  std::mutex mutex_;
  std::condition_variable changed_;
  state state_ = state::starting;
  attempt outcome_ = attempt::other_error;
  bool ordered_ = false;
  bool order_kept_ = false;
  release_order order_;
  std::string failure_;
  std::thread thread_;  // last: starts once the rest is built
};

// Holds `Lock` on `file` with `options` in a new thread.
template <class Lock>
std::unique_ptr<holder> hold_in_thread(const std::filesystem::path& file,
                                       dreadlocks::lock_options options = {}) {
  auto guard = std::make_shared<std::optional<Lock>>();
  return std::make_unique<thread_holder>(
      [guard, file, options] { guard->emplace(file, options); },
      [guard] { guard->reset(); });
}

// process_holder
//
// A child process, forked at construction, that takes `Lock` on `file`
// with `options`, reports how that went (wait_settled), and, if granted,
// holds the lock until told to release (order_release), then releases and
// exits 0. With `inside`, a counter in shared memory, the child adds one
// while it holds the lock (after acquiring, before releasing). Fork it
// while this process holds no lock (unless the test is about that) and
// runs no thread a child would need.
template <class Lock>
class process_holder final : public holder {
  struct channel {
    process_event about_to_lock;
    process_event settled;
    process_event ordered;
    process_event released;
    std::atomic<int> outcome{0};  // an attempt, 0 until settled
    std::atomic<int> releasing{0};
    std::atomic<int> asleep_tid{0};
    std::atomic<long long> not_before{0};
    std::atomic<int> order_kept{0};
    char failure[256] = {};
  };

 public:
  process_holder(std::filesystem::path file, dreadlocks::lock_options options,
                 std::atomic<int>* inside = nullptr)
      : file_(std::move(file)),
        options_(options),
        inside_(inside),
        child_([this] { return run(); }) {}

  process_holder(const process_holder&) = delete;
  process_holder& operator=(const process_holder&) = delete;

  // Lets a settled child go and waits for it (bounded); a child still
  // asking for its lock is killed (child_process).
  ~process_holder() override {
    if (channel_->outcome == 0) return;
    if (!told_) order_release(release_order::now());
    child_.wait(std::chrono::seconds(15));
  }

  // Waits until the child is about to ask for its lock.
  bool wait_about_to_lock() { return channel_->about_to_lock.wait(); }

  attempt wait_settled() override {
    if (!channel_->settled.wait()) return attempt::other_error;
    const auto got = static_cast<attempt>(channel_->outcome.load());
    if (got != attempt::granted) {
      BOOST_TEST_MESSAGE("process holder: " << got << ": "
                                            << channel_->failure);
    }
    return got;
  }

  // True if the child already settled (consumes the signal); never waits.
  bool settled_already() override { return channel_->settled.try_wait(); }

  void order_release(release_order order) override {
    channel_->asleep_tid = order.asleep_tid;
    channel_->not_before = order.not_before.time_since_epoch().count();
    told_ = true;
    channel_->ordered.signal();
  }

  bool wait_released() override {
    return channel_->released.wait() && channel_->order_kept == 1;
  }

  // Tells the child to release now; returns how it exited.
  exit_status release_and_exit() {
    order_release(release_order::now());
    return child_.wait();
  }

  // True once the child is about to release (set before it unlocks).
  bool releasing() const { return channel_->releasing != 0; }

  child_process& process() { return child_; }

 private:
  int run() {
    channel_->about_to_lock.signal();
    std::optional<Lock> lock;
    const attempt got = attempt_of(
        [&] {
          lock.emplace(file_, options_);
          child_require(lock->owns_lock(), "holder owns its lock");
        },
        [&](const std::exception& error) {
          std::strncpy(channel_->failure, error.what(),
                       sizeof channel_->failure - 1);
        });
    if (got == attempt::other_error) {
      std::fprintf(stderr, "holder: %s\n", channel_->failure);
    }
    if (got == attempt::granted && inside_) ++*inside_;
    channel_->outcome = static_cast<int>(got);
    channel_->settled.signal();
    if (got != attempt::granted) return 1;
    child_require(channel_->ordered.wait(std::chrono::seconds(20)),
                  "holder told to release in time");
    release_order order;
    order.asleep_tid = channel_->asleep_tid;
    order.not_before =
        steady::time_point(steady::duration(channel_->not_before.load()));
    channel_->order_kept = await_order(order) ? 1 : 0;
    if (inside_) --*inside_;
    channel_->releasing = 1;
    lock->unlock();
    channel_->released.signal();
    return 0;
  }

  std::filesystem::path file_;
  dreadlocks::lock_options options_;
  std::atomic<int>* inside_;
  bool told_ = false;
  shared_object<channel> channel_;
  child_process child_;  // last: forks once the rest is built
};

// Holds `Lock` on `file` with `options` in a new child process.
template <class Lock>
std::unique_ptr<holder> hold_in_process(const std::filesystem::path& file,
                                        dreadlocks::lock_options options = {}) {
  return std::make_unique<process_holder<Lock>>(file, options);
}

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_SUPPORT_HOLDER_HPP_
