// dreadlocks/basic_multi_path_lock.hpp
//
// A guard over several paths, taken in one canonical total order.

#ifndef DREADLOCKS_BASIC_MULTI_PATH_LOCK_HPP_
#define DREADLOCKS_BASIC_MULTI_PATH_LOCK_HPP_

#include <algorithm>
#include <filesystem>
#include <initializer_list>
#include <iterator>
#include <type_traits>
#include <utility>
#include <vector>

#include "dreadlocks/basic_path_lock.hpp"
#include "dreadlocks/detail/path_argument.hpp"
#include "dreadlocks/lock_options.hpp"
#include "dreadlocks/lock_request.hpp"
#include "dreadlocks/policy_concepts.hpp"

namespace dreadlocks {

namespace detail {
template <class Range>
using path_range_probe = std::enable_if_t<is_path_argument_v<std::decay_t<
    decltype(*std::begin(std::declval<const Range&>()))>>>;

// A range of path arguments, but not a path argument itself (a string is a
// range of characters).
template <class Range>
inline constexpr bool is_path_range_v =
    !is_path_argument_v<Range> && is_detected_v<Range, path_range_probe>;
}  // namespace detail

// basic_multi_path_lock
//
// Locks a set of paths in one call, each with the same policies and
// options as basic_path_lock, in the canonical total order of their keys
// (the absolute paths folded as the guard folds them, compared as strings),
// with duplicate keys folded; releases in reverse order. Two threads or processes that lock
// overlapping sets this way cannot deadlock on them, whatever order they
// name the paths in.
//
//   dreadlocks::multi_path_lock both({"/data/b.lock", "/data/a.lock"});
//
// All or nothing: if any path cannot be locked (would block, timeout,
// error), the paths already taken are released before the exception
// leaves the constructor. A timeout bounds the whole call, not each path.
// Spellings of one file that are different texts (a symlink, a hard link,
// `..` after a symlinked directory) do not share the order; in one set they
// are one file asked for twice, which without reentrancy is
// recursive_deadlock_error where the thread level is keyed by the file.
// Lock canonical spellings (docs/keys.md, docs/multi-path.md).
template <class ThreadPolicy, class ProcessPolicy, class ReentrancyPolicy>
class basic_multi_path_lock {
  // The guard's check, here too, so that a broken policy stops at the
  // requirement it misses before anything else of this class is compiled.
  static_assert(detail::check_policies<ThreadPolicy, ProcessPolicy,
                                       ReentrancyPolicy>());

 public:
  // The guard that holds each path.
  using guard_type =
      basic_path_lock<ThreadPolicy, ProcessPolicy, ReentrancyPolicy>;

  // basic_multi_path_lock()
  //
  // Locks every path of `paths` (a range of any path type basic_path_lock
  // takes) with `options`. Throws what basic_path_lock throws, holding
  // nothing then.
  template <class Range,
            class = std::enable_if_t<detail::is_path_range_v<Range>>>
  explicit basic_multi_path_lock(const Range& paths, lock_options options = {})
      : options_(options) {
    lock_all(paths);
  }

  // basic_multi_path_lock()
  //
  // Locks `{path, path, ...}` with `options`.
  template <class Path,
            class = std::enable_if_t<detail::is_path_argument_v<Path>>>
  explicit basic_multi_path_lock(std::initializer_list<Path> paths,
                                 lock_options options = {})
      : options_(options) {
    lock_all(paths);
  }

  basic_multi_path_lock(const basic_multi_path_lock&) = delete;
  basic_multi_path_lock& operator=(const basic_multi_path_lock&) = delete;

  // Takes over `other`'s paths; `other` then owns nothing.
  basic_multi_path_lock(basic_multi_path_lock&& other) noexcept
      : options_(other.options_), guards_(std::move(other.guards_)) {
    other.guards_.clear();
  }

  // Releases this guard's paths, then takes over `other`'s.
  basic_multi_path_lock& operator=(basic_multi_path_lock&& other) noexcept {
    if (this != &other) {
      unlock();
      options_ = other.options_;
      guards_ = std::move(other.guards_);
      other.guards_.clear();
    }
    return *this;
  }

  ~basic_multi_path_lock() { unlock(); }

  // unlock()
  //
  // Releases every path, in reverse order of locking. Idempotent; never
  // throws.
  void unlock() noexcept {
    while (!guards_.empty()) guards_.pop_back();
  }

  // owns_lock()
  //
  // Returns true while at least one path is held.
  bool owns_lock() const noexcept { return !guards_.empty(); }
  explicit operator bool() const noexcept { return owns_lock(); }

  // guards()
  //
  // Returns the per-path guards in locking order: path(), native_handle().
  const std::vector<guard_type>& guards() const noexcept { return guards_; }

  // options()
  //
  // Returns the options the paths were locked with.
  const lock_options& options() const noexcept { return options_; }

 private:
  static constexpr const char* kConstructor =
      "basic_multi_path_lock::basic_multi_path_lock";

  template <class Range>
  void lock_all(const Range& paths) {
    std::vector<lock_key> keys;
    for (const auto& path : paths) {
      keys.emplace_back(path, kConstructor, guard_type::kKeyForm);
    }
    std::sort(keys.begin(), keys.end(),
              [](const lock_key& a, const lock_key& b) {
                return a.native() < b.native();
              });
    keys.erase(std::unique(keys.begin(), keys.end(),
                           [](const lock_key& a, const lock_key& b) {
                             return a.native() == b.native();
                           }),
               keys.end());
    guards_.reserve(keys.size());
    const auto start = lock_request::clock::now();
    try {
      for (auto& key : keys) {
        guards_.emplace_back(std::move(key), options_, start, kConstructor);
      }
    } catch (...) {
      unlock();
      throw;
    }
  }

  lock_options options_;
  std::vector<guard_type> guards_;
};

}  // namespace dreadlocks

#endif  // DREADLOCKS_BASIC_MULTI_PATH_LOCK_HPP_
