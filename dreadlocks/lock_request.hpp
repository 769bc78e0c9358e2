// dreadlocks/lock_request.hpp
//
// What a policy is given when asked to acquire: the request the guard
// decided, which carries the key to lock (lock_key, in lock_key.hpp, which
// this header includes). Users writing their own ThreadPolicy or
// ProcessPolicy read these two types; nothing else of the guard.

#ifndef DREADLOCKS_LOCK_REQUEST_HPP_
#define DREADLOCKS_LOCK_REQUEST_HPP_

#include <chrono>
#include <filesystem>

#include "dreadlocks/lock_key.hpp"

namespace dreadlocks {

// lock_request
//
// One acquisition as a policy sees it: what to lock, in which mode, how long
// to wait, and what to name in errors. Messages name path(), never `key`
// directly.
struct lock_request {
  // The clock deadlines are read on.
  using clock = std::chrono::steady_clock;

  // The deadline of a request that is not timed: the clock's last time
  // point.
  static constexpr clock::time_point no_deadline = clock::time_point::max();

  // The key to lock: the user's path as the guard folded it, or, at the
  // thread level of a guard keyed by the file, the file's thread key.
  const lock_key& key;

  // True for a shared lock, false for an exclusive one.
  bool shared;

  // False to be refused at once rather than wait (as a zero or negative
  // timeout asks too); see may_wait().
  bool blocking;

  // The ReentrancyPolicy's verdict for these options: true grants a thread's
  // request for a key it already holds, false refuses it with
  // recursive_deadlock_error.
  bool reentry_allowed;

  // Where a timed wait ends: `no_deadline` unless the request is timed (a
  // timeout past the clock's range waits forever); see timed().
  clock::time_point deadline;

  // The timeout the request was given, which `deadline` is computed from,
  // for messages; zero for none (or a request that does not wait).
  clock::duration timeout;

  // The public call the request comes from (e.g.
  // "basic_path_lock::basic_path_lock"), for error messages.
  const char* operation;

  // The key of the path the user gave, where `key` is another spelling of
  // its file (the thread level of a guard keyed by the file); nullptr
  // otherwise.
  const lock_key* named = nullptr;

  // path()
  //
  // Returns the path error messages name: the user's, as normalized.
  const std::filesystem::path& path() const {
    return (named != nullptr ? *named : key).path();
  }

  // for_key()
  //
  // Returns this request for `other`, a key of the same file, still naming
  // this request's path. Requires: `other` and this request's keys outlive
  // the result.
  lock_request for_key(const lock_key& other) const noexcept {
    lock_request moved{other,    shared,  blocking,  reentry_allowed,
                       deadline, timeout, operation, named};
    if (moved.named == nullptr && !other.shares_block_with(key)) {
      moved.named = &key;
    }
    return moved;
  }

  // make()
  //
  // Builds the request for `options`, the timeout's clock started at
  // `start` (so that several requests can share one deadline): a zero or
  // negative timeout asks not to wait at all.
  template <class ReentrancyPolicy, class Options>
  static lock_request make(const lock_key& key, const Options& options,
                           const char* operation,
                           clock::time_point start = clock::now()) {
    lock_request request{key,
                         options.shared,
                         options.blocking,
                         ReentrancyPolicy::allows_reentry(options),
                         no_deadline,
                         clock::duration::zero(),
                         operation};
    if (options.blocking && options.timeout) {
      if (*options.timeout <= clock::duration::zero()) {
        request.blocking = false;
      } else {
        // A timeout past the clock's range (nanoseconds::max(), say) waits
        // forever rather than overflowing.
        request.timeout =
            std::chrono::duration_cast<clock::duration>(*options.timeout);
        if (request.timeout < no_deadline - start) {
          request.deadline = start + request.timeout;
        }
      }
    }
    return request;
  }

  // may_wait()
  //
  // Returns true when the request may wait at all.
  bool may_wait() const noexcept { return blocking; }

  // timed()
  //
  // Returns true when the wait is bounded by `deadline`.
  bool timed() const noexcept { return blocking && deadline != no_deadline; }
};

}  // namespace dreadlocks

#endif  // DREADLOCKS_LOCK_REQUEST_HPP_
