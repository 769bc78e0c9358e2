// dreadlocks/lock_request.hpp
//
// What a policy is given when asked to acquire: the normalized key and the
// request decided by the guard. Users writing their own ThreadPolicy or
// ProcessPolicy read these two types; nothing else of the guard.

#ifndef DREADLOCKS_LOCK_REQUEST_HPP_
#define DREADLOCKS_LOCK_REQUEST_HPP_

#include <chrono>
#include <filesystem>
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
class lock_key {
 public:
  // lock_key()
  //
  // Normalizes `path`. Throws std::system_error(errc::invalid_argument) for
  // an empty path or one holding a NUL character, naming `operation` and the
  // path; std::filesystem::filesystem_error if the current directory cannot
  // be read for a relative path.
  lock_key(const std::filesystem::path& path, const char* operation)
      : path_(normalize(path, operation)) {}

  // path()
  //
  // Returns the normalized absolute path.
  const std::filesystem::path& path() const noexcept { return path_; }

  // native()
  //
  // Returns the normalized path in the OS's native encoding; this string is
  // what registries hash and compare.
  const std::filesystem::path::string_type& native() const noexcept {
    return path_.native();
  }

 private:
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

  std::filesystem::path path_;
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
