// tests/timeout/wait_support.hpp
//
// Helpers of the timeout, mutex and multi-path tests: holders of a lock in
// another thread or another process that release on command (at once, once
// a given thread is seen asleep in its wait, or not before a given time), a
// stopwatch, checks of the would-block error a timed request throws, and a
// snapshot of what this process holds (registry entries, descriptors).
//
//   auto holder = dreadlocks_test::hold_in_process<
//       dreadlocks::process_level_path_lock>(file, {});
//   BOOST_TEST_REQUIRE(holder->wait_held());
//   holder->release(dreadlocks_test::release_order::when_asleep(
//       dreadlocks_test::current_tid()));
//   dreadlocks::path_lock lock(file, timed(10s));   // granted on release
//
// "Asleep" is read from /proc/<tid>/stat (state S): a thread that has said
// it is about to lock and is then seen sleeping is waiting inside the lock
// call. That is an ordering proof without a sleep. Linux only.

#ifndef DREADLOCKS_TESTS_TIMEOUT_WAIT_SUPPORT_HPP_
#define DREADLOCKS_TESTS_TIMEOUT_WAIT_SUPPORT_HPP_

#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "dreadlocks/process_policies.hpp"
#include "dreadlocks/detail/thread_registry.hpp"
#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/fd_count.hpp"
#include "tests/support/proc_locks.hpp"
#include "tests/support/scenario_locks.hpp"
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

// Lock options for a timed (or zero/negative timeout) request.
inline dreadlocks::lock_options timed(std::chrono::nanoseconds timeout,
                                      bool shared = false) {
  dreadlocks::lock_options options;
  options.shared = shared;
  options.timeout = timeout;
  return options;
}

// Measures wall time since construction.
class stopwatch {
 public:
  stopwatch() : start_(steady::now()) {}
  steady::time_point start() const { return start_; }
  steady::duration elapsed() const { return steady::now() - start_; }
  long long ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(elapsed())
        .count();
  }

 private:
  steady::time_point start_;
};

// The text a timed request's error carries: "timed out after waiting N ms".
inline std::string timed_out_text(std::chrono::milliseconds timeout) {
  return "timed out after waiting " + std::to_string(timeout.count()) + " ms";
}

// Checks a would-block error: its level, code, path, mode, and that the
// message names all of them and the reason (`reason` is "would block" or
// timed_out_text()).
inline void check_would_block(
    const dreadlocks::acquiring_lock_would_block_error& error,
    dreadlocks::lock_level level, const std::filesystem::path& file,
    bool shared, const std::string& reason) {
  const std::string what = error.what();
  BOOST_TEST((error.level() == level), what);
  BOOST_TEST((error.code() == std::errc::operation_would_block), what);
  BOOST_TEST(error.path() == key_of(file), what);
  BOOST_TEST(error.shared() == shared, what);
  BOOST_TEST(what.find(dreadlocks::to_string(level)) != std::string::npos,
             what);
  BOOST_TEST(what.find(mode_name(shared)) != std::string::npos, what);
  BOOST_TEST(what.find(key_of(file).string()) != std::string::npos, what);
  BOOST_TEST(what.find(reason) != std::string::npos,
             what << " (expected \"" << reason << "\")");
}

// The kernel's locks on `file` (/proc/locks), read until two reads in a
// row agree. /proc/locks is produced page by page while other processes of
// the machine add and drop locks, so one read may list an entry twice or
// skip one when the table is busy.
inline std::vector<kernel_lock> settled_kernel_locks_on(
    const std::filesystem::path& file) {
  const auto same = [](const std::vector<kernel_lock>& a,
                       const std::vector<kernel_lock>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (a[i].blocked != b[i].blocked || a[i].family != b[i].family ||
          a[i].type != b[i].type || a[i].pid != b[i].pid) {
        return false;
      }
    }
    return true;
  };
  auto last = kernel_locks_on(file);
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto next = kernel_locks_on(file);
    if (same(last, next)) return next;
    last = std::move(next);
  }
  return last;
}

// The number of requests blocked in the kernel on `file`, read as above.
inline std::size_t settled_blocked_requests_on(
    const std::filesystem::path& file) {
  std::size_t count = 0;
  for (const auto& entry : settled_kernel_locks_on(file)) {
    count += entry.blocked;
  }
  return count;
}

// What this process holds: keys in the thread registry, lock files open in
// the process registry, open descriptors.
struct holdings {
  std::size_t thread_keys;
  std::size_t open_files;
  std::size_t descriptors;
  bool operator==(const holdings& other) const {
    return thread_keys == other.thread_keys && open_files == other.open_files &&
           descriptors == other.descriptors;
  }
};

inline std::ostream& operator<<(std::ostream& out, const holdings& h) {
  return out << "{thread keys " << h.thread_keys << ", open files "
             << h.open_files << ", descriptors " << h.descriptors << "}";
}

inline holdings holdings_now() {
  return holdings{dreadlocks::detail::thread_registry::instance().size(),
                  dreadlocks::detail::process_registry_for<dreadlocks::posix_file_primitive>::instance().open_files(),
                  open_descriptor_count()};
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
  // Waits until the lock is held; false if it failed or timed out.
  virtual bool wait_held() = 0;
  // Tells the holder to release as `order` says and waits until it has;
  // false if it did not in time (or never saw the waiter asleep).
  virtual bool release(release_order order = release_order::now()) = 0;
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

  bool wait_held() override {
    std::unique_lock<std::mutex> guard(mutex_);
    changed_.wait_for(guard, std::chrono::seconds(15),
                      [&] { return state_ != state::starting; });
    if (state_ == state::failed) {
      BOOST_TEST_MESSAGE("thread holder failed: " << failure_);
    }
    return state_ == state::held || state_ == state::released;
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

  bool release(release_order order) override {
    order_release(order);
    return wait_released();
  }

 private:
  enum class state { starting, held, released, failed };

  void run() {
    try {
      lock_();
    } catch (const std::exception& error) {
      set(state::failed, error.what());
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

// A child process that takes `Lock` on `file` with `options`, reports,
// waits for the release order, releases and exits. Fork it while this
// process holds no lock and runs no thread but a watchdog.
template <class Lock>
class process_holder final : public holder {
  struct channel {
    process_event held;
    process_event ordered;
    process_event released;
    std::atomic<int> outcome{0};  // 1 held, 2 failed
    std::atomic<int> asleep_tid{0};
    std::atomic<long long> not_before{0};
    std::atomic<int> order_kept{0};
    char failure[256] = {};
  };

 public:
  process_holder(std::filesystem::path file, dreadlocks::lock_options options)
      : file_(std::move(file)),
        options_(options),
        child_([this] { return run(); }) {}

  ~process_holder() override {
    if (!told_) order_release(release_order::now());
    child_.wait(std::chrono::seconds(15));
  }

  bool wait_held() override {
    if (!channel_->held.wait()) return false;
    if (channel_->outcome != 1) {
      BOOST_TEST_MESSAGE("process holder failed: " << channel_->failure);
    }
    return channel_->outcome == 1;
  }

  void order_release(release_order order) override {
    channel_->asleep_tid = order.asleep_tid;
    channel_->not_before = order.not_before.time_since_epoch().count();
    told_ = true;
    channel_->ordered.signal();
  }

  bool wait_released() override {
    return channel_->released.wait() && channel_->order_kept == 1;
  }

  bool release(release_order order) override {
    order_release(order);
    return wait_released();
  }

  child_process& process() { return child_; }

 private:
  int run() {
    std::optional<Lock> lock;
    try {
      lock.emplace(file_, options_);
    } catch (const std::exception& error) {
      std::strncpy(channel_->failure, error.what(),
                   sizeof channel_->failure - 1);
      channel_->outcome = 2;
      channel_->held.signal();
      return 1;
    }
    channel_->outcome = 1;
    channel_->held.signal();
    child_require(channel_->ordered.wait(std::chrono::seconds(20)),
                  "process holder told to release in time");
    release_order order;
    order.asleep_tid = channel_->asleep_tid;
    order.not_before =
        steady::time_point(steady::duration(channel_->not_before.load()));
    channel_->order_kept = await_order(order) ? 1 : 0;
    lock.reset();
    channel_->released.signal();
    return 0;
  }

  std::filesystem::path file_;
  dreadlocks::lock_options options_;
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

#endif  // DREADLOCKS_TESTS_TIMEOUT_WAIT_SUPPORT_HPP_
