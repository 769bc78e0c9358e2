// dreadlocks/basic_path_mutex.hpp
//
// A mutex over a path, for the standard locking tools.

#ifndef DREADLOCKS_BASIC_PATH_MUTEX_HPP_
#define DREADLOCKS_BASIC_PATH_MUTEX_HPP_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <chrono>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "dreadlocks/basic_path_lock.hpp"
#include "dreadlocks/detail/attributes.hpp"
#include "dreadlocks/detail/path_argument.hpp"
#include "dreadlocks/detail/thread_tag.hpp"
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
// Each acquisition takes both levels as a basic_path_lock with the same
// policies would, and the mutex records the two holds per thread until the
// matching unlock: exclusive by one thread, or shared by any number of
// threads. With a ProcessPolicy that can keep files open (keeps_files_v,
// the shipped file-backed ones), the mutex keeps the lock file its first
// lock opened open until it is destroyed, and from its second lock on
// takes the kept file directly (the thread level under the file's key,
// then one registry section), so that each later lock and unlock is the
// two lock system calls and little else; like
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

  // Requires: no thread holds the mutex (holds left are released). Lets go
  // of the lock file the mutex kept open.
  ~basic_path_mutex() {
    if (slot_owner_.load(std::memory_order_acquire) != 0) slot_.release();
    for (held& left : holds_) left.release();
    if constexpr (kKeepsFile) ProcessPolicy::unkeep(kept_);
  }

  // lock()
  //
  // Locks exclusively, waiting as long as it takes.
  DREADLOCKS_INLINE_STEP void lock() DREADLOCKS_ACQUIRE() {
    take(waiting(false), "basic_path_mutex::lock");
  }

  // try_lock()
  //
  // Locks exclusively if that can be done without waiting; returns whether
  // it did.
  [[nodiscard]] bool try_lock() DREADLOCKS_TRY_ACQUIRE(true) {
    return try_take(no_wait(false), "basic_path_mutex::try_lock");
  }

  // try_lock_for()
  //
  // Locks exclusively, waiting at most `timeout`; returns whether it did.
  template <class Rep, class Period>
  [[nodiscard]] bool try_lock_for(
      const std::chrono::duration<Rep, Period>& timeout)
      DREADLOCKS_TRY_ACQUIRE(true) {
    return try_take(wait_for(false, timeout), "basic_path_mutex::try_lock_for");
  }

  // try_lock_until()
  //
  // Locks exclusively, waiting at most until `deadline`; returns whether it
  // did.
  template <class Clock, class Duration>
  [[nodiscard]] bool try_lock_until(
      const std::chrono::time_point<Clock, Duration>& deadline)
      DREADLOCKS_TRY_ACQUIRE(true) {
    return try_take(wait_for(false, deadline - Clock::now()),
                    "basic_path_mutex::try_lock_until");
  }

  // unlock()
  //
  // Releases the calling thread's exclusive lock. Requires: the calling
  // thread holds it (a call without a hold does nothing). Never throws.
  DREADLOCKS_INLINE_STEP void unlock() noexcept DREADLOCKS_RELEASE() {
    give_back(false);
  }

  // lock_shared()
  //
  // Locks shared, waiting as long as it takes.
  DREADLOCKS_INLINE_STEP void lock_shared() DREADLOCKS_ACQUIRE_SHARED() {
    take(waiting(true), "basic_path_mutex::lock_shared");
  }

  // try_lock_shared()
  //
  // Locks shared if that can be done without waiting; returns whether it
  // did.
  [[nodiscard]] bool try_lock_shared() DREADLOCKS_TRY_ACQUIRE_SHARED(true) {
    return try_take(no_wait(true), "basic_path_mutex::try_lock_shared");
  }

  // try_lock_shared_for()
  //
  // Locks shared, waiting at most `timeout`; returns whether it did.
  template <class Rep, class Period>
  [[nodiscard]] bool try_lock_shared_for(
      const std::chrono::duration<Rep, Period>& timeout)
      DREADLOCKS_TRY_ACQUIRE_SHARED(true) {
    return try_take(wait_for(true, timeout),
                    "basic_path_mutex::try_lock_shared_for");
  }

  // try_lock_shared_until()
  //
  // Locks shared, waiting at most until `deadline`; returns whether it did.
  template <class Clock, class Duration>
  [[nodiscard]] bool try_lock_shared_until(
      const std::chrono::time_point<Clock, Duration>& deadline)
      DREADLOCKS_TRY_ACQUIRE_SHARED(true) {
    return try_take(wait_for(true, deadline - Clock::now()),
                    "basic_path_mutex::try_lock_shared_until");
  }

  // unlock_shared()
  //
  // Releases the calling thread's shared lock. Requires: the calling thread
  // holds it (a call without a hold does nothing). Never throws.
  DREADLOCKS_INLINE_STEP void unlock_shared() noexcept
      DREADLOCKS_RELEASE_SHARED() {
    give_back(true);
  }

  // path()
  //
  // Returns the key path the mutex locks, folded as its guard's
  // (basic_path_lock::path()); built on first use, it can throw
  // std::bad_alloc, nothing else.
  const std::filesystem::path& path() const { return key_.path(); }

 private:
  using clock = lock_request::clock;

  // One hold of the mutex: the two levels' holds, taken by one thread (by
  // its tag, never reused) in one mode.
  struct held {
    detail::thread_tag thread = 0;
    bool shared = false;
    typename ThreadPolicy::hold at_thread_level{};
    typename ProcessPolicy::hold at_process_level{};

    // Releases the process level, then the thread level, as a guard does.
    DREADLOCKS_INLINE_STEP void release() noexcept {
      ProcessPolicy::release(at_process_level);
      ThreadPolicy::release(at_thread_level);
    }
  };

  // The options of each kind of request, in the mode `shared`: waiting as
  // long as it takes, not waiting, waiting at most `d`.
  static lock_options waiting(bool shared) noexcept {
    lock_options options;
    options.shared = shared;
    return options;
  }

  static lock_options no_wait(bool shared) noexcept {
    lock_options options = waiting(shared);
    options.blocking = false;
    return options;
  }

  template <class Rep, class Period>
  static lock_options wait_for(bool shared,
                               const std::chrono::duration<Rep, Period>& d) {
    using std::chrono::nanoseconds;
    using given = std::chrono::duration<Rep, Period>;
    lock_options options = waiting(shared);
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

  // Takes a hold as `options` ask, for the public call `operation`.
  // Inlined into lock() and the others with the kept file's path
  // (take_kept()), so that its system call is made as few calls deep as
  // it can be (docs/performance.md, "Call depth at the system calls").
  DREADLOCKS_INLINE_STEP void take(const lock_options& options,
                                   const char* operation) {
    // Only a timeout needs the clock (some 30 ns a read, as much as the
    // rest of a kept cycle's bookkeeping).
    const clock::time_point start =
        options.timeout ? clock::now() : clock::time_point{};
    if constexpr (kKeepsFile) {
      // From the second hold on, the kept file is locked directly: no
      // guard, no locate() (docs/mutex.md, "The kept descriptor").
      if (const lock_key* file_key = ProcessPolicy::kept_key(kept_)) {
        take_kept(*file_key, options, start, operation);
        return;
      }
    }
    take_through_guard(options, start, operation);
  }

  // Takes a hold through a guard, as the first hold does (and every hold
  // where the ProcessPolicy keeps no file), and keeps the file it opened.
  void take_through_guard(const lock_options& options, clock::time_point start,
                          const char* operation) {
    typename ThreadPolicy::hold at_thread_level{};
    typename ProcessPolicy::hold at_process_level{};
    guard_type(key_, options, start, operation)
        .hand_over(at_thread_level, at_process_level);
    if constexpr (kKeepsFile) {
      // The first hold keeps the file open for the mutex's lifetime; later
      // ones find it kept, unless the file is another (a forked child's
      // first holds). Under the mutex: keep() calls are serialized.
      try {
        std::lock_guard<std::mutex> lock(mutex_);
        ProcessPolicy::keep(kept_, at_process_level);
      } catch (...) {
        ProcessPolicy::release(at_process_level);
        ThreadPolicy::release(at_thread_level);
        throw;
      }
    }
    record(options.shared, at_thread_level, at_process_level);
  }

  // Takes both levels on the kept file whose thread key is `file_key`, as
  // the guard would, without locating it: the thread level under the
  // file's key, then the process level; records the hold. Holds nothing
  // when it throws.
  // Inlined into lock() and the others, as give_back() is into unlock():
  // each is then one call less deep at its system call (docs/performance.md,
  // "Call depth at the system calls").
  DREADLOCKS_INLINE_STEP void take_kept(const lock_key& file_key,
                                        const lock_options& options,
                                        clock::time_point start,
                                        const char* operation) {
    // One request for both levels: the process level reads the key of
    // neither (only path(), which names the mutex's spelling).
    const lock_key& thread_key =
        guard_type::kKeyedByFile ? file_key : static_cast<const lock_key&>(key_);
    lock_request request = lock_request::make<ReentrancyPolicy>(
        thread_key, options, operation, start);
    if (!thread_key.shares_block_with(key_)) request.named = &key_;
    typename ThreadPolicy::hold at_thread_level =
        ThreadPolicy::acquire(request);
    typename ProcessPolicy::hold at_process_level;
    try {
      at_process_level = ProcessPolicy::lock_kept(kept_, request);
    } catch (...) {
      ThreadPolicy::release(at_thread_level);
      throw;
    }
    record(options.shared, at_thread_level, at_process_level);
  }

  // Records a granted hold of the calling thread, moved from the two
  // levels' holds: in the slot if it is free (a compare-and-swap, the
  // common case of one holder at a time), else in the list. Throws only
  // std::bad_alloc, having released the hold.
  void record(bool shared, typename ThreadPolicy::hold& at_thread_level,
              typename ProcessPolicy::hold& at_process_level) {
    const detail::thread_tag self = detail::this_thread_tag();
    detail::thread_tag free = 0;
    if (slot_owner_.compare_exchange_strong(free, self,
                                            std::memory_order_acquire,
                                            std::memory_order_relaxed)) {
      slot_.shared = shared;
      slot_.at_thread_level = std::move(at_thread_level);
      slot_.at_process_level = std::move(at_process_level);
      return;
    }
    held hold{self, shared, std::move(at_thread_level),
              std::move(at_process_level)};
    try {
      std::lock_guard<std::mutex> lock(mutex_);
      holds_.push_back(std::move(hold));
      listed_.store(holds_.size(), std::memory_order_relaxed);
    } catch (...) {
      hold.release();
      throw;
    }
  }

  bool try_take(const lock_options& options, const char* operation) {
    try {
      take(options, operation);
      return true;
    } catch (const acquiring_lock_would_block_error&) {
      return false;
    }
  }

  // Releases the calling thread's newest listed hold of the mode, else its
  // hold of the mode in the slot.
  DREADLOCKS_INLINE_STEP void give_back(bool shared) noexcept {
    const detail::thread_tag self = detail::this_thread_tag();
    held released;
    // The list only when it has holds: the calling thread's own are seen
    // (it recorded them), and it looks for no other thread's.
    if (listed_.load(std::memory_order_relaxed) == 0 ||
        !take_listed(self, shared, released)) {
      // Only the thread whose tag the slot holds reads or empties it.
      if (slot_owner_.load(std::memory_order_relaxed) != self ||
          slot_.shared != shared) {
        return;
      }
      released.at_thread_level = std::move(slot_.at_thread_level);
      released.at_process_level = std::move(slot_.at_process_level);
      slot_owner_.store(0, std::memory_order_release);
    }
    // Released outside the mutex guarding the list, after the slot is
    // free.
    released.release();
  }

  // Moves the calling thread's newest listed hold of the mode into
  // `released`; returns whether it found one.
  bool take_listed(detail::thread_tag self, bool shared,
                   held& released) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    // The newest hold first, so that nested holds unwind in order.
    for (auto it = holds_.rbegin(); it != holds_.rend(); ++it) {
      if (it->thread == self && it->shared == shared) {
        released = std::move(*it);
        holds_.erase(std::next(it).base());
        listed_.store(holds_.size(), std::memory_order_relaxed);
        return true;
      }
    }
    return false;
  }

  // Whether the mutex keeps its lock file open between its holds: where
  // the ProcessPolicy offers it (keeps_files_v).
  static constexpr bool kKeepsFile = keeps_files_v<ProcessPolicy>;

  lock_key key_;
  // The thread whose hold is in slot_ (0: none). Only that thread reads
  // and empties slot_ until it stores 0 again.
  std::atomic<detail::thread_tag> slot_owner_{0};
  held slot_;
  std::mutex mutex_;  // guards holds_ and keep(), never held while locking
  std::vector<held> holds_;  // the holds that found the slot taken
  std::atomic<std::size_t> listed_{0};  // holds_.size(), read without mutex_
  // The lock file kept open from the first hold to the destructor.
  typename detail::kept_storage<ProcessPolicy>::type kept_{};
};

}  // namespace dreadlocks

#endif  // DREADLOCKS_BASIC_PATH_MUTEX_HPP_
