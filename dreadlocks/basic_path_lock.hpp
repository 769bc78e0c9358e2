// dreadlocks/basic_path_lock.hpp
//
// The guard that composes the three policies.

#ifndef DREADLOCKS_BASIC_PATH_LOCK_HPP_
#define DREADLOCKS_BASIC_PATH_LOCK_HPP_

#include <filesystem>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "dreadlocks/detail/attributes.hpp"
#include "dreadlocks/detail/path_argument.hpp"
#include "dreadlocks/errors.hpp"
#include "dreadlocks/lock_options.hpp"
#include "dreadlocks/lock_request.hpp"
#include "dreadlocks/policy_concepts.hpp"
#include "dreadlocks/process_policies.hpp"
#include "dreadlocks/reentrancy_policies.hpp"
#include "dreadlocks/thread_policies.hpp"

namespace dreadlocks {

template <class ThreadPolicy, class ProcessPolicy, class ReentrancyPolicy>
class basic_path_mutex;

// basic_path_lock
//
// An RAII guard that locks a path at the thread level (ThreadPolicy), then
// at the process level (ProcessPolicy), in the constructor, and releases in
// reverse order in the destructor or unlock(). ReentrancyPolicy decides what
// a thread asking again for a key it holds gets. Move-only. Where the
// ProcessPolicy can locate the file first (locates_files_v, the shipped
// file-backed ones), the file is found before the thread level is taken,
// and the thread level is keyed by the file (see the caveat on spellings).
//
//   dreadlocks::path_lock lock("/var/lock/app.lock");   // exclusive, waits
//   dreadlocks::path_lock reader("/var/lock/app.lock",
//                                {.shared = true, .blocking = false});
//
// Caveats of the OS lock, stated once:
// - Locks are advisory: they exclude only processes that lock the same file
//   through dreadlocks (or compatible fcntl locks); nothing stops a process
//   from reading or writing the file without locking.
// - Classic fcntl locks belong to the process: closing ANY descriptor of the
//   lock file releases them. dreadlocks never does so itself; closing
//   native_handle(), or another descriptor you opened to the file, is your
//   error. OFD locks (the Linux default) belong to the descriptor instead.
// - Spellings: the process level locks the file open(2) of the given
//   spelling names (`..` after a symlink is not folded away), and with a
//   file-backed ProcessPolicy one file is one lock at both levels however it
//   is spelled (lexical variants, symlinks, hard links, symlinked
//   directories), reentrancy and recursive_deadlock_error included. A
//   guard whose ProcessPolicy opens no file (thread_level_path_lock) keys
//   lexically: `d/../f` is `f`, and a symlink is another key
//   (docs/keys.md).
// - The kernel releases a dead process's locks; the lock file is never
//   deleted.
template <class ThreadPolicy, class ProcessPolicy, class ReentrancyPolicy>
class basic_path_lock {
  // Stops first at the requirement a policy does not meet, naming it
  // (dreadlocks/policy_concepts.hpp).
  static_assert(detail::check_policies<ThreadPolicy, ProcessPolicy,
                                       ReentrancyPolicy>());

 public:
  // The three policies, and the type native_handle() returns.
  using thread_policy = ThreadPolicy;
  using process_policy = ProcessPolicy;
  using reentrancy_policy = ReentrancyPolicy;
  using native_handle_type = typename ProcessPolicy::native_handle_type;

  // How the guard folds a spelling into its key: as the ProcessPolicy says
  // (process_key_form_v), lexical for one that opens no file.
  static constexpr key_form kKeyForm = process_key_form_v<ProcessPolicy>;

  // basic_path_lock()
  //
  // Locks `path` with `options`, waiting if `options.blocking` (at most
  // `options.timeout` for both levels together, if set). `path` is a
  // std::filesystem::path, boost::filesystem::path, std::string,
  // std::string_view or C string; it is made a key (lock_key, in
  // kKeyForm) first.
  //
  // Throws acquiring_thread_level_lock_would_block_error or
  // acquiring_process_level_lock_would_block_error (held in a conflicting
  // mode, and not blocking or the timeout expired), recursive_deadlock_error (a repeat the
  // ReentrancyPolicy refuses, or a deadlocking upgrade), std::system_error
  // for a bad path or an OS failure (naming the path and the reason). Holds
  // nothing when it throws.
  template <class Path,
            class = std::enable_if_t<detail::is_path_argument_v<Path>>>
  explicit basic_path_lock(const Path& path, lock_options options = {})
      : basic_path_lock(
            lock_key(path, kConstructor, kKeyForm), options,
            // Only a timeout needs the clock; reading it costs about as
            // much as an uncontended thread-level cycle.
            options.timeout ? lock_request::clock::now()
                            : lock_request::clock::time_point{},
            kConstructor) {}

  // basic_path_lock()
  //
  // Locks an already normalized key, with the timeout's clock started at
  // `start` and errors naming `operation`. For the other guards and the
  // mutex types of this library, which share one deadline over several
  // acquisitions or name their own operation. A key of another key_form
  // than kKeyForm is refolded (lock_key::in_form()). Throws as the
  // constructor above, and std::system_error(errc::invalid_argument) for an
  // empty (moved-from) key.
  basic_path_lock(lock_key key, const lock_options& options,
                  lock_request::clock::time_point start,
                  const char* operation)
      : key_(std::move(key)), options_(options) {
    if (key_.form() != kKeyForm) key_ = key_.in_form(kKeyForm, operation);
    if (key_.native().empty()) {
      // A moved-from key: no path to lock.
      throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                              std::string(operation) + ": empty path");
    }
    const auto request =
        lock_request::make<ReentrancyPolicy>(key_, options, operation, start);
    if constexpr (kKeyedByFile) {
      acquire_by_file(request);
    } else {
      thread_hold_ = ThreadPolicy::acquire(request);
      try {
        process_hold_ = ProcessPolicy::acquire(request);
      } catch (...) {
        ThreadPolicy::release(thread_hold_);
        throw;
      }
    }
    owns_ = true;
  }

  basic_path_lock(const basic_path_lock&) = delete;
  basic_path_lock& operator=(const basic_path_lock&) = delete;

  // Takes over `other`'s lock; `other` then owns nothing.
  basic_path_lock(basic_path_lock&& other) noexcept
      : key_(std::move(other.key_)),
        options_(other.options_),
        // The moved-from guard keeps empty holds, so that nothing it still
        // answers (native_handle()) points into the new owner's lock.
        thread_hold_(std::exchange(other.thread_hold_, {})),
        process_hold_(std::exchange(other.process_hold_, {})),
        owns_(std::exchange(other.owns_, false)) {}

  // Releases this guard's lock, then takes over `other`'s.
  basic_path_lock& operator=(basic_path_lock&& other) noexcept {
    if (this != &other) {
      unlock();
      key_ = std::move(other.key_);
      options_ = other.options_;
      thread_hold_ = std::exchange(other.thread_hold_, {});
      process_hold_ = std::exchange(other.process_hold_, {});
      owns_ = std::exchange(other.owns_, false);
    }
    return *this;
  }

  ~basic_path_lock() { unlock(); }

  // unlock()
  //
  // Releases the process level, then the thread level. Does nothing if the
  // guard owns nothing (already unlocked, or moved from). Never throws.
  void unlock() noexcept {
#if defined(__GNUC__) && !defined(__clang__)
    // GCC (12, -O1, sanitizers) can inline a whole guard into its user's
    // std::optional and then warn that the members read here "may be used
    // uninitialized" on paths where the optional is empty. A false positive
    // under -Werror in the user's build; silenced for these reads only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
    if (!owns_) return;
    owns_ = false;
    ProcessPolicy::release(process_hold_);
    ThreadPolicy::release(thread_hold_);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  }

  // owns_lock()
  //
  // Returns true until unlock() or a move away.
  bool owns_lock() const noexcept { return owns_; }
  explicit operator bool() const noexcept { return owns_; }

  // native_handle()
  //
  // Returns the lock file's descriptor, valid while owns_lock(). Reading
  // and writing through it (pread, pwrite, ftruncate) is fine; closing it
  // is the caller's error (see the class comment).
  native_handle_type native_handle() const noexcept {
    return ProcessPolicy::native_handle(process_hold_);
  }

  // path()
  //
  // Returns the key path: the absolute spelling folded in kKeyForm (as
  // opened, `..` after a directory of the path kept, for a file-backed
  // ProcessPolicy; lexically normal otherwise). The first call for a key
  // builds the std::filesystem::path (see lock_key::path()); it can throw
  // std::bad_alloc, nothing else.
  const std::filesystem::path& path() const { return key_.path(); }

  // options()
  //
  // Returns the options the lock was taken with.
  const lock_options& options() const noexcept { return options_; }

 private:
  static constexpr const char* kConstructor = "basic_path_lock::basic_path_lock";

  // Whether the thread level is keyed by the file rather than the
  // spelling: where the ProcessPolicy can tell the file first
  // (locates_files_v) and there is a thread level to key.
  static constexpr bool kKeyedByFile =
      locates_files_v<ProcessPolicy> &&
      !std::is_same_v<ThreadPolicy, no_thread_lock>;

  // Locks the file the request names at both levels, the thread level under
  // the file's key (see the locating group in
  // dreadlocks/policy_concepts.hpp). Holds nothing when it throws. A
  // template, so that an explicit instantiation of the guard over a policy
  // without these steps does not instantiate it.
  // Inlined into the constructor: one call less deep at its system calls
  // (docs/performance.md, "Call depth at the system calls").
  template <class P = ProcessPolicy>
  DREADLOCKS_INLINE_STEP void acquire_by_file(const lock_request& request) {
    if (P::try_repeat(request, process_hold_)) {
      // A repeat this thread's process-level holds cover, through the key
      // that opened the file: that key is the file's thread key.
      try {
        thread_hold_ = ThreadPolicy::acquire(request);
      } catch (...) {
        P::release(process_hold_);
        throw;
      }
      return;
    }
    typename P::located file = P::locate(request);
    try {
      thread_hold_ =
          ThreadPolicy::acquire(request.for_key(P::thread_key(file, request)));
    } catch (...) {
      P::abandon(file);
      throw;
    }
    try {
      process_hold_ = P::lock_located(file, request);
    } catch (...) {
      ThreadPolicy::release(thread_hold_);
      throw;
    }
  }

  // hand_over()
  //
  // Moves the guard's two holds to `at_thread_level` and `at_process_level`
  // and leaves it owning nothing, so that its destructor releases nothing.
  // Requires: owns_lock(). Never throws. For basic_path_mutex, which keeps
  // the holds its first lock takes through a guard.
  void hand_over(typename ThreadPolicy::hold& at_thread_level,
                 typename ProcessPolicy::hold& at_process_level) noexcept {
    at_thread_level = std::exchange(thread_hold_, {});
    at_process_level = std::exchange(process_hold_, {});
    owns_ = false;
  }

  friend class basic_path_mutex<ThreadPolicy, ProcessPolicy, ReentrancyPolicy>;

  lock_key key_;
  lock_options options_;
  typename ThreadPolicy::hold thread_hold_{};
  typename ProcessPolicy::hold process_hold_{};
  bool owns_ = false;
};

}  // namespace dreadlocks

#endif  // DREADLOCKS_BASIC_PATH_LOCK_HPP_
