// dreadlocks/basic_path_mutex.hpp
//
// A mutex over a path, for the standard locking tools.

#ifndef DREADLOCKS_BASIC_PATH_MUTEX_HPP_
#define DREADLOCKS_BASIC_PATH_MUTEX_HPP_

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "dreadlocks/basic_path_lock.hpp"
#include "dreadlocks/detail/path_argument.hpp"
#include "dreadlocks/errors.hpp"
#include "dreadlocks/lock_options.hpp"
#include "dreadlocks/lock_request.hpp"
#include "dreadlocks/policy_concepts.hpp"
#include "dreadlocks/thread_annotations.hpp"

namespace dreadlocks {

// basic_path_mutex
//
// Meets the standard SharedTimedMutex requirements over a path, so that
// std::unique_lock, std::shared_lock, std::scoped_lock and std::lock work
// unchanged:
//
//   dreadlocks::path_mutex m("/var/lock/app.lock");
//   {
//     std::unique_lock<dreadlocks::path_mutex> writer(m);
//   }
//   {
//     std::shared_lock<dreadlocks::path_mutex> reader(m, 100ms);
//     if (reader) { ... }
//   }
//
// Each acquisition is a basic_path_lock with the same policies, held inside
// the mutex until the matching unlock: exclusive by one thread, or shared by
// any number of threads. With a ProcessPolicy that can keep files open
// (keeps_files_v, the shipped file-backed ones), the mutex keeps the lock
// file its first lock opened open until it is destroyed, so that each
// later lock and unlock is the two lock system calls; like
// boost::interprocess::file_lock, it then locks that file even if the
// path is deleted or replaced meanwhile (docs/mutex.md). The path is made a
// key once, when the mutex is made (folded as its guard's; docs/keys.md).
// Locking a mutex the calling thread already holds (in any mode)
// throws recursive_deadlock_error (errc::resource_deadlock_would_occur, as
// std::mutex::lock may) unless the ReentrancyPolicy allows it; try_* return
// false only when another holder is in the way, and throw for anything else
// (a bad path, an OS failure). Unlocking never throws. The caveats of the
// OS lock are those of basic_path_lock.
template <class ThreadPolicy, class ProcessPolicy, class ReentrancyPolicy>
class DREADLOCKS_CAPABILITY("mutex") basic_path_mutex {
  // The guard's check, here too, so that a broken policy stops at the
  // requirement it misses before anything else of this class is compiled.
  static_assert(detail::check_policies<ThreadPolicy, ProcessPolicy,
                                       ReentrancyPolicy>());

 public:
  using guard_type =
      basic_path_lock<ThreadPolicy, ProcessPolicy, ReentrancyPolicy>;

  // basic_path_mutex()
  //
  // Names the path to lock; locks nothing. Takes the same path types as
  // basic_path_lock. Throws std::system_error for an empty path or a NUL.
  template <class Path,
            class = std::enable_if_t<detail::is_path_argument_v<Path>>>
  explicit basic_path_mutex(const Path& path)
      : key_(path, "basic_path_mutex::basic_path_mutex",
             guard_type::kKeyForm) {}

  basic_path_mutex(const basic_path_mutex&) = delete;
  basic_path_mutex& operator=(const basic_path_mutex&) = delete;

  // Requires: no thread holds the mutex. Lets go of the lock file the
  // mutex kept open.
  ~basic_path_mutex() {
    if constexpr (kKeepsFile) ProcessPolicy::unkeep(kept_);
  }

  // lock()
  //
  // Locks exclusively, waiting as long as it takes.
  void lock() DREADLOCKS_ACQUIRE() {
    take(false, lock_options{}, "basic_path_mutex::lock");
  }

  // try_lock()
  //
  // Locks exclusively if that can be done without waiting; returns whether
  // it did.
  [[nodiscard]] bool try_lock() DREADLOCKS_TRY_ACQUIRE(true) {
    return try_take(false, no_wait(), "basic_path_mutex::try_lock");
  }

  // try_lock_for()
  //
  // Locks exclusively, waiting at most `timeout`; returns whether it did.
  template <class Rep, class Period>
  [[nodiscard]] bool try_lock_for(
      const std::chrono::duration<Rep, Period>& timeout)
      DREADLOCKS_TRY_ACQUIRE(true) {
    return try_take(false, wait_for(timeout), "basic_path_mutex::try_lock_for");
  }

  // try_lock_until()
  //
  // Locks exclusively, waiting at most until `deadline`; returns whether it
  // did.
  template <class Clock, class Duration>
  [[nodiscard]] bool try_lock_until(
      const std::chrono::time_point<Clock, Duration>& deadline)
      DREADLOCKS_TRY_ACQUIRE(true) {
    return try_take(false, wait_for(deadline - Clock::now()),
                    "basic_path_mutex::try_lock_until");
  }

  // unlock()
  //
  // Releases the calling thread's exclusive lock. Requires: the calling
  // thread holds it (a call without a hold does nothing). Never throws.
  void unlock() noexcept DREADLOCKS_RELEASE() { give_back(false); }

  // lock_shared()
  //
  // Locks shared, waiting as long as it takes.
  void lock_shared() DREADLOCKS_ACQUIRE_SHARED() {
    take(true, lock_options{}, "basic_path_mutex::lock_shared");
  }

  // try_lock_shared()
  //
  // Locks shared if that can be done without waiting; returns whether it
  // did.
  [[nodiscard]] bool try_lock_shared() DREADLOCKS_TRY_ACQUIRE_SHARED(true) {
    return try_take(true, no_wait(), "basic_path_mutex::try_lock_shared");
  }

  // try_lock_shared_for()
  //
  // Locks shared, waiting at most `timeout`; returns whether it did.
  template <class Rep, class Period>
  [[nodiscard]] bool try_lock_shared_for(
      const std::chrono::duration<Rep, Period>& timeout)
      DREADLOCKS_TRY_ACQUIRE_SHARED(true) {
    return try_take(true, wait_for(timeout),
                    "basic_path_mutex::try_lock_shared_for");
  }

  // try_lock_shared_until()
  //
  // Locks shared, waiting at most until `deadline`; returns whether it did.
  template <class Clock, class Duration>
  [[nodiscard]] bool try_lock_shared_until(
      const std::chrono::time_point<Clock, Duration>& deadline)
      DREADLOCKS_TRY_ACQUIRE_SHARED(true) {
    return try_take(true, wait_for(deadline - Clock::now()),
                    "basic_path_mutex::try_lock_shared_until");
  }

  // unlock_shared()
  //
  // Releases the calling thread's shared lock. Requires: the calling thread
  // holds it (a call without a hold does nothing). Never throws.
  void unlock_shared() noexcept DREADLOCKS_RELEASE_SHARED() {
    give_back(true);
  }

  // path()
  //
  // Returns the key path the mutex locks, folded as its guard's
  // (basic_path_lock::path()); built on first use, it can throw
  // std::bad_alloc, nothing else.
  const std::filesystem::path& path() const { return key_.path(); }

 private:
  struct held {
    std::thread::id thread;
    bool shared;
    guard_type guard;
  };

  static lock_options no_wait() noexcept {
    lock_options options;
    options.blocking = false;
    return options;
  }

  template <class Rep, class Period>
  static lock_options wait_for(const std::chrono::duration<Rep, Period>& d) {
    using std::chrono::nanoseconds;
    using given = std::chrono::duration<Rep, Period>;
    lock_options options;
    // A wait beyond nanoseconds' range (time_point::max(), say) is forever.
    // Compared as floating point: neither type need hold the other's range.
    using wide = std::chrono::duration<long double, std::nano>;
    if (wide(d) >= wide(nanoseconds::max())) {
      options.timeout = nanoseconds::max();
    } else {
      options.timeout =
          std::chrono::ceil<nanoseconds>(std::max(d, given::zero()));
    }
    return options;
  }

  void take(bool shared, lock_options options, const char* operation) {
    options.shared = shared;
    // Only a timeout needs the clock (some 30 ns a read, as much as the
    // rest of a kept cycle's bookkeeping).
    guard_type guard(key_, options,
                     options.timeout ? lock_request::clock::now()
                                     : lock_request::clock::time_point{},
                     operation);
    std::lock_guard<std::mutex> lock(mutex_);
    // Throws only std::bad_alloc, before the hold is recorded: the guard
    // then releases it, and the file stays kept (or not) as before.
    holds_.push_back(held{std::this_thread::get_id(), shared, std::move(guard)});
    if constexpr (kKeepsFile) {
      // The first hold keeps the file open for the mutex's lifetime; later
      // ones find it kept (a comparison), unless the file is another (a
      // forked child's first hold).
      ProcessPolicy::keep(kept_, holds_.back().guard.process_hold_);
    }
  }

  bool try_take(bool shared, const lock_options& options,
                const char* operation) {
    try {
      take(shared, options, operation);
      return true;
    } catch (const acquiring_lock_would_block_error&) {
      return false;
    }
  }

  void give_back(bool shared) noexcept {
    std::optional<guard_type> released;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto self = std::this_thread::get_id();
      // The newest hold first, so that nested holds unwind in order.
      for (auto it = holds_.rbegin(); it != holds_.rend(); ++it) {
        if (it->thread == self && it->shared == shared) {
          released.emplace(std::move(it->guard));
          holds_.erase(std::next(it).base());
          break;
        }
      }
    }
    // `released` unlocks here, outside the mutex guarding the list.
  }

  // Whether the mutex keeps its lock file open between its holds: where
  // the ProcessPolicy offers it (keeps_files_v).
  static constexpr bool kKeepsFile = keeps_files_v<ProcessPolicy>;

  lock_key key_;
  std::mutex mutex_;  // guards holds_ and kept_, never held while locking
  std::vector<held> holds_;
  // The lock file kept open from the first hold to the destructor.
  typename detail::kept_storage<ProcessPolicy>::type kept_{};
};

}  // namespace dreadlocks

#endif  // DREADLOCKS_BASIC_PATH_MUTEX_HPP_
