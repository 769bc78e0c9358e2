// tests/thread/thread_test_util.hpp
//
// Helpers for the thread-level tests: the lock aliases under test, a
// `holder` thread that takes and drops guards on command, a timed
// rendezvous, an event log, error checks and `twice()`, which runs a
// scenario two times in a row and checks that the registries are empty
// after each run.
//
// Boost.Test assertions are made on the main thread only: work done on a
// holder thread reports back through futures (exceptions included).

#ifndef DREADLOCKS_TESTS_THREAD_THREAD_TEST_UTIL_HPP_
#define DREADLOCKS_TESTS_THREAD_THREAD_TEST_UTIL_HPP_

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"
#include "dreadlocks/introspection.hpp"
#include "tests/support/holder.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/outcome.hpp"
#include "tests/support/scenario_locks.hpp"
#include "tests/support/temp_path.hpp"
#include "tests/support/watchdog.hpp"

namespace dreadlocks_thread_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The aliases with a thread level: in-process only, both levels with the
// platform's default (OFD on Linux), both levels with classic fcntl locks.
using lock_types = boost::mpl::list<
    dreadlocks::thread_level_path_lock, dreadlocks::path_lock,
    dreadlocks_test::both_levels_lock<dreadlocks::fcntl_process_lock>>;

// True for the aliases whose process level opens the lock file.
template <class Lock>
inline constexpr bool file_backed_v =
    !std::is_same_v<typename Lock::process_policy, dreadlocks::no_process_lock>;

// The bound of every wait that is expected to end.
inline constexpr auto kTimeout = 10s;

// Each test case's overall bound.
inline constexpr std::chrono::milliseconds kWatchdog = 30s;

// Requests, mode names, keys and outcomes as the process and timeout tests
// spell them too.
using dreadlocks_test::attempt;
using dreadlocks_test::attempt_of;
using dreadlocks_test::check_registries_empty;
using dreadlocks_test::key_of;
using dreadlocks_test::mode;
using dreadlocks_test::mode_name;

using dreadlocks_test::current_tid;
using dreadlocks_test::thread_state;

// An event log shared by threads; the order of entries is the order in
// which the events happened.
class event_log {
 public:
  void add(std::string event) {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(std::move(event));
  }
  std::vector<std::string> events() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }
  // Returns the position of `event`, or -1.
  long index_of(const std::string& event) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t i = 0; i < events_.size(); ++i) {
      if (events_[i] == event) return static_cast<long>(i);
    }
    return -1;
  }
  // Returns the position of the last `event`, or -1.
  long last_index_of(const std::string& event) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t i = events_.size(); i-- > 0;) {
      if (events_[i] == event) return static_cast<long>(i);
    }
    return -1;
  }
  std::string dump() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string text;
    for (const auto& e : events_) text += "[" + e + "] ";
    return text;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> events_;
};

// A rendezvous of `count` threads whose wait is bounded.
class rendezvous {
 public:
  explicit rendezvous(std::size_t count) : count_(count) {}
  // Returns false if the others did not all arrive within `limit`.
  bool arrive_and_wait(std::chrono::milliseconds limit = kTimeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    ++arrived_;
    changed_.notify_all();
    return changed_.wait_for(lock, limit, [&] { return arrived_ >= count_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t count_;
  std::size_t arrived_ = 0;
};

// How a request on another thread ended (attempt, outcome.hpp), with the
// error's details. Exceptions are turned into values on the thread that
// caught them: an exception object handed across threads
// (std::exception_ptr) is released inside libstdc++, where ThreadSanitizer
// cannot see the synchronisation, and reports a false race.
struct outcome {
  attempt kind = attempt::granted;
  std::error_code code;
  dreadlocks::lock_level level = dreadlocks::lock_level::thread;
  bool shared = false;
  fs::path path;
  std::string what;

  bool granted() const { return kind == attempt::granted; }
};

inline std::ostream& operator<<(std::ostream& out, const outcome& o) {
  out << o.kind;
  if (!o.what.empty()) out << " (" << o.what << ")";
  return out;
}

// Runs `f`, turning what it throws into an outcome.
template <class F>
outcome capture(F&& f) {
  outcome result;
  result.kind = attempt_of(f, [&](const std::exception& e) {
    result.what = e.what();
    if (const auto* error = dynamic_cast<const std::system_error*>(&e)) {
      result.code = error->code();
    }
    if (const auto* error = dynamic_cast<const dreadlocks::lock_error*>(&e)) {
      result.level = error->level();
      result.shared = error->shared();
      result.path = error->path();
    }
  });
  return result;
}

// A reusable barrier of `count` threads whose wait is bounded.
class timed_barrier {
 public:
  explicit timed_barrier(std::size_t count) : count_(count) {}
  // Returns false if the others did not all arrive within `limit`.
  bool arrive_and_wait(std::chrono::milliseconds limit = kTimeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    const std::size_t generation = generation_;
    if (++arrived_ == count_) {
      arrived_ = 0;
      ++generation_;
      changed_.notify_all();
      return true;
    }
    return changed_.wait_for(lock, limit,
                             [&] { return generation_ != generation; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t count_;
  std::size_t arrived_ = 0;
  std::size_t generation_ = 0;
};

// A thread that runs posted tasks in order. Tasks report through futures.
class worker {
 public:
  worker() : thread_([this] { loop(); }) {
    std::unique_lock<std::mutex> lock(mutex_);
    started_.wait(lock, [&] { return tid_ != 0; });
  }
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;
  ~worker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }

  template <class F>
  auto post(F f) -> std::future<std::invoke_result_t<F&>> {
    using result = std::invoke_result_t<F&>;
    auto task = std::make_shared<std::packaged_task<result()>>(std::move(f));
    auto future = task->get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.emplace_back([task] { (*task)(); });
    }
    changed_.notify_all();
    return future;
  }

  pid_t tid() const { return tid_; }

 private:
  void loop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tid_ = current_tid();
    }
    started_.notify_all();
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::condition_variable started_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  pid_t tid_ = 0;
  std::thread thread_;  // last: started once everything else exists
};

// A thread holding a stack of guards of type Lock, pushed and popped on
// command. Every guard is taken and dropped on the holder's own thread.
template <class Lock>
class holder {
 public:
  explicit holder(std::string name, event_log* log = nullptr)
      : name_(std::move(name)), log_(log) {}
  holder(const holder&) = delete;
  holder& operator=(const holder&) = delete;
  ~holder() {
    // Drops whatever is still held, on the holder's thread. If the thread
    // is stuck in a lock the watchdog ends the test.
    worker_.post([this] {
      while (!guards_.empty()) guards_.pop_back();
    }).wait();
  }

  // Takes a guard on `path` with `options`; logs "<name> acquired" (or
  // "<name> failed").
  std::future<outcome> lock(fs::path path, dreadlocks::lock_options options) {
    return worker_.post([this, path = std::move(path), options] {
      acquiring_.store(true);
      outcome result = capture([&] { guards_.emplace_back(path, options); });
      acquiring_.store(false);
      note(result.granted() ? "acquired" : "failed");
      return result;
    });
  }

  // Drops the innermost guard; logs "<name> released" just before.
  std::future<outcome> unlock() {
    return worker_.post([this] {
      return capture([&] {
        if (guards_.empty()) throw std::logic_error("holder: nothing held");
        note("released");
        guards_.pop_back();
      });
    });
  }

  // Drops the guard taken `index`-th (0 = outermost) out of order.
  std::future<outcome> unlock_at(std::size_t index) {
    return worker_.post([this, index] {
      return capture([&] {
        if (index >= guards_.size()) throw std::logic_error("holder: no guard");
        note("released");
        guards_.erase(guards_.begin() + static_cast<std::ptrdiff_t>(index));
      });
    });
  }

  // Runs `f` on the holder's thread.
  template <class F>
  auto run(F f) {
    return worker_.post(std::move(f));
  }

  // The number of guards the holder owns, asked on its thread.
  std::size_t held() {
    return worker_.post([this] { return guards_.size(); }).get();
  }

  // The innermost guard's path, asked on the holder's thread.
  fs::path held_path() {
    return worker_.post([this] { return guards_.back().path(); }).get();
  }

  // Bounded poll: returns true once the holder's thread is inside a lock()
  // and asleep (waiting for the lock), false if not seen within the bound.
  bool wait_until_waiting(std::chrono::milliseconds limit = kTimeout) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (acquiring_.load() && thread_state(worker_.tid()) == 'S' &&
          acquiring_.load()) {
        return true;
      }
      std::this_thread::yield();
    }
    return false;
  }

  const std::string& name() const { return name_; }

 private:
  void note(const char* what) {
    if (log_ != nullptr) log_->add(name_ + " " + what);
  }

  std::string name_;
  event_log* log_;
  std::atomic<bool> acquiring_{false};
  std::vector<Lock> guards_;  // touched on the worker's thread only
  worker worker_;             // last: destroyed (joined) first
};

// `count` holders named <prefix>0, <prefix>1, ..., logging to `log`.
template <class Lock>
std::vector<std::unique_ptr<holder<Lock>>> named_holders(
    const std::string& prefix, std::size_t count, event_log* log) {
  std::vector<std::unique_ptr<holder<Lock>>> holders;
  for (std::size_t i = 0; i < count; ++i) {
    holders.push_back(
        std::make_unique<holder<Lock>>(prefix + std::to_string(i), log));
  }
  return holders;
}

// Waits (bounded) for `future`; true if it became ready.
template <class T>
bool ready_within(std::future<T>& future,
                  std::chrono::milliseconds limit = kTimeout) {
  return future.wait_for(limit) == std::future_status::ready;
}

template <class T>
bool is_ready(std::future<T>& future) {
  return future.wait_for(0s) == std::future_status::ready;
}

// Requires `future` to finish within the bound with a granted outcome.
inline void require_ok(std::future<outcome> future, const std::string& what) {
  BOOST_TEST_REQUIRE(ready_within(future), what << ": did not finish");
  const outcome result = future.get();
  BOOST_TEST_REQUIRE(result.granted(), what << ": " << result);
}

// Checks an error outcome of the thread level: kind, code, level, mode,
// path, and a message naming the path, the level and the mode.
inline void check_thread_error(const outcome& result, attempt kind,
                               std::errc code, const fs::path& key, bool shared,
                               const std::string& what) {
  BOOST_TEST_CONTEXT(what) {
    BOOST_TEST_REQUIRE(result.kind == kind, "got " << result);
    BOOST_TEST((result.code == code), result.code.message());
    BOOST_TEST((result.level == dreadlocks::lock_level::thread));
    BOOST_TEST(result.shared == shared);
    BOOST_TEST(result.path == key);
    BOOST_TEST(result.what.find(key.string()) != std::string::npos,
               result.what);
    BOOST_TEST(result.what.find("thread-level") != std::string::npos,
               result.what);
    BOOST_TEST(result.what.find(mode_name(shared)) != std::string::npos,
               result.what);
  }
}

// Requires `future` to end (bounded) with the thread level's would-block
// error for `key` and mode `shared`.
inline void require_would_block(std::future<outcome> future,
                                const fs::path& key, bool shared,
                                const std::string& what) {
  BOOST_TEST_REQUIRE(ready_within(future), what << ": did not finish");
  check_thread_error(future.get(), attempt::thread_would_block,
                     std::errc::operation_would_block, key, shared, what);
}

// Requires `future` to end (bounded) with recursive_deadlock_error.
inline void require_recursive_deadlock(std::future<outcome> future,
                                       const fs::path& key, bool shared,
                                       const std::string& what) {
  BOOST_TEST_REQUIRE(ready_within(future), what << ": did not finish");
  check_thread_error(future.get(), attempt::deadlock,
                     std::errc::resource_deadlock_would_occur, key, shared,
                     what);
}

// Runs `scenario` twice in a row on the same registries (and the same
// paths), checking after each run that nothing was left behind.
template <class Scenario>
void twice(Scenario scenario) {
  for (int run = 1; run <= 2; ++run) {
    BOOST_TEST_CONTEXT("run " << run) {
      scenario();
      check_registries_empty("after run " + std::to_string(run));
    }
  }
}

// Checks the file-system side effect of the alias: the file-backed ones
// create the lock file, thread_level_path_lock never touches it.
template <class Lock>
void check_lock_file(const fs::path& path) {
  if constexpr (file_backed_v<Lock>) {
    BOOST_TEST(fs::exists(path), path << " should have been created");
  } else {
    BOOST_TEST(!fs::exists(path), path << " created by a thread-level lock");
  }
}

}  // namespace dreadlocks_thread_test

#endif  // DREADLOCKS_TESTS_THREAD_THREAD_TEST_UTIL_HPP_
