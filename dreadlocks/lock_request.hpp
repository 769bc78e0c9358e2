// dreadlocks/lock_request.hpp
//
// What a policy is given when asked to acquire: the normalized key and the
// request decided by the guard. Users writing their own ThreadPolicy or
// ProcessPolicy read these two types; nothing else of the guard.

#ifndef DREADLOCKS_LOCK_REQUEST_HPP_
#define DREADLOCKS_LOCK_REQUEST_HPP_

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

namespace dreadlocks {

// lock_key
//
// The key a path is locked under: its lexically normalized absolute form.
// `lock`, `./lock`, `dir/../lock` and `/cwd/lock` are one key. Building a
// key reads the current directory for a relative path and touches nothing
// else of the file system; symlinks are not resolved (see docs/keys.md).
//
// A key shares its (immutable) path with the other keys for the same path
// that the calling thread made recently, so that locking a path again costs
// a string comparison, not a normalization and a copy of the path.
class lock_key {
 public:
  // lock_key()
  //
  // Normalizes `path`. Throws std::system_error(errc::invalid_argument) for
  // an empty path or one holding a NUL character, naming `operation` and the
  // path; std::filesystem::filesystem_error if the current directory cannot
  // be read for a relative path.
  lock_key(const std::filesystem::path& path, const char* operation)
      : path_(intern(path, operation)) {}

  // lock_key()
  //
  // As above; takes over `path` when it is already normal and new.
  lock_key(std::filesystem::path&& path, const char* operation)
      : path_(intern(std::move(path), operation)) {}

  // path()
  //
  // Returns the normalized absolute path (empty for a moved-from key).
  const std::filesystem::path& path() const noexcept {
    return path_ != nullptr ? path_->path : empty_path();
  }

  // native()
  //
  // Returns the normalized path in the OS's native encoding; this string is
  // what registries hash and compare.
  const std::filesystem::path::string_type& native() const noexcept {
    return path().native();
  }

  // hash()
  //
  // Returns std::hash of native(), computed once per path, so that every
  // registry a lock goes through looks the key up without hashing it again.
  std::size_t hash() const noexcept {
    return path_ != nullptr ? path_->hash : 0;
  }

 private:
  struct normal_path {
    explicit normal_path(std::filesystem::path&& normal)
        : path(std::move(normal)),
          hash(std::hash<std::filesystem::path::string_type>()(
              path.native())) {}
    std::filesystem::path path;
    std::size_t hash;
  };
  using shared_path = std::shared_ptr<const normal_path>;

  // The few keys the calling thread made last. A thread tends to lock the
  // same paths again (a cycle, a nested lock, a handful of files in turn);
  // four entries catch that at the price of four small paths kept alive per
  // thread.
  struct recent_keys {
    static constexpr std::size_t kSize = 4;
    shared_path keys[kSize];
    std::size_t next = 0;

    std::size_t last = 0;  // the entry found or added last: tried first

    shared_path find(const std::filesystem::path::string_type& text) noexcept {
      if (matches(last, text)) return keys[last];
      for (std::size_t i = 0; i < kSize; ++i) {
        if (i != last && matches(i, text)) {
          last = i;
          return keys[i];
        }
      }
      return nullptr;
    }

    bool matches(std::size_t i,
                 const std::filesystem::path::string_type& text) const
        noexcept {
      return keys[i] != nullptr && keys[i]->path.native() == text;
    }

    shared_path add(std::filesystem::path&& normal) {
      shared_path key = std::make_shared<const normal_path>(std::move(normal));
      keys[next] = key;
      last = next;
      next = (next + 1) % kSize;
      return key;
    }

    static recent_keys& mine() {
      thread_local recent_keys recent;
      return recent;
    }
  };

  // Returns the shared normal form of `path`. A recent key with the same
  // text proves `path` normal (and free of NUL) without looking further.
  template <class Path>
  static shared_path intern(Path&& path, const char* operation) {
    recent_keys& recent = recent_keys::mine();
    if (shared_path hit = recent.find(path.native())) return hit;
    if (already_normal(path, operation)) {
      return recent.add(std::filesystem::path(std::forward<Path>(path)));
    }
    std::filesystem::path normal = normalize(path, operation);
    if (shared_path hit = recent.find(normal.native())) return hit;
    return recent.add(std::move(normal));
  }

  static const std::filesystem::path& empty_path() noexcept {
    static const std::filesystem::path empty;
    return empty;
  }

 private:
  // Returns true when `path` is absolute and lexically normal as it stands,
  // so that lexically_normal() (which rebuilds the path component by
  // component, the bulk of a cycle's cost) can be skipped: on POSIX, one
  // scan that finds a leading '/', no repeated '/', no "." or ".."
  // component and no trailing '/'. Anything else, and every path on
  // platforms with another separator, takes normalize(). Throws as
  // normalize() for a NUL character, the one thing the scan must reject.
  static bool already_normal(const std::filesystem::path& path,
                             const char* operation) {
    using value_type = std::filesystem::path::value_type;
    if constexpr (std::filesystem::path::preferred_separator != '/') {
      return false;
    } else {
      const auto& text = path.native();
      const std::size_t size = text.size();
      if (size == 0 || text[0] != '/') return false;
      // `start`: where the current component began (just past a '/').
      std::size_t start = 1;
      for (std::size_t i = 1; i <= size; ++i) {
        const value_type c = i < size ? text[i] : value_type('/');
        if (c == value_type{}) normalize(path, operation);  // throws
        if (c != '/') continue;
        const std::size_t length = i - start;
        if (length == 0 && !(i == size && size == 1)) return false;
        if (text[start] == '.' &&
            (length == 1 || (length == 2 && text[start + 1] == '.'))) {
          return false;
        }
        start = i + 1;
      }
      return true;
    }
  }

  static std::filesystem::path normalize(const std::filesystem::path& path,
                                         const char* operation) {
    if (path.empty()) {
      throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                              std::string(operation) + ": empty path");
    }
    if (path.native().find(std::filesystem::path::value_type{}) !=
        std::filesystem::path::string_type::npos) {
      // what() is a C string: spell the NUL so the message goes on.
      std::string shown;
      for (const char c : path.string()) {
        if (c == '\0') {
          shown += "\\0";
        } else {
          shown += c;
        }
      }
      throw std::system_error(
          std::make_error_code(std::errc::invalid_argument),
          std::string(operation) + ": path \"" + shown +
              "\" contains a NUL character");
    }
    if (path.is_absolute()) return path.lexically_normal();
    return (std::filesystem::current_path() / path).lexically_normal();
  }

  shared_path path_;
};

// lock_request
//
// One acquisition as a policy sees it. `reentry_allowed` is the
// ReentrancyPolicy's verdict for these options; `deadline` is
// `no_deadline` unless the request is timed, and `timeout` then the
// duration it was computed from (for messages); `operation` names the
// public call (e.g. "basic_path_lock::basic_path_lock") for error messages.
struct lock_request {
  using clock = std::chrono::steady_clock;
  static constexpr clock::time_point no_deadline = clock::time_point::max();

  const lock_key& key;
  bool shared;
  bool blocking;
  bool reentry_allowed;
  clock::time_point deadline;
  clock::duration timeout;
  const char* operation;

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
