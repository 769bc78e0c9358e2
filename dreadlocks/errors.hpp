// dreadlocks/errors.hpp
//
// The exceptions dreadlocks throws when a lock cannot be granted. Each is a
// std::system_error, so `e.code()` compares equal to the std::errc below, and
// each names the path, the level and the mode that were asked for.
//
//   std::system_error
//   ├── acquiring_lock_would_block_error         errc::operation_would_block
//   │   ├── acquiring_thread_level_lock_would_block_error
//   │   └── acquiring_process_level_lock_would_block_error
//   └── recursive_deadlock_error                 errc::resource_deadlock_would_occur
//
// Bad input and OS failures (a directory, a missing parent, no permission,
// too many open files, ...) are plain std::system_error with the OS error
// code, and their message names the path too.

#ifndef DREADLOCKS_ERRORS_HPP_
#define DREADLOCKS_ERRORS_HPP_

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "dreadlocks/lock_level.hpp"

namespace dreadlocks {

// lock_error
//
// The common base of the errors below: a std::system_error that remembers
// which path, level and mode could not be granted. Not thrown by itself.
class lock_error : public std::system_error {
 public:
  // path()
  //
  // Returns the normalized key path of the refused request.
  const std::filesystem::path& path() const noexcept { return *path_; }

  // level()
  //
  // Returns the level that refused the request.
  lock_level level() const noexcept { return level_; }

  // shared()
  //
  // Returns true when a shared lock was asked for, false for exclusive.
  bool shared() const noexcept { return shared_; }

 // what()
  //
  // Returns "OPERATION: LEVEL MODE lock on "PATH" REASON: CODE TEXT", the
  // same text on every platform: CODE TEXT is "Resource temporarily
  // unavailable" or "Resource deadlock avoided", not the C library's text
  // for the code, which some do not have (mingw-w64's strerror() says
  // "Unknown error" for EWOULDBLOCK).
  const char* what() const noexcept override { return what_->c_str(); }

 protected:
  // For the errors below: the request `operation` made for `path` at
  // `level`, in the mode `shared`, refused for `reason` with `code`.
  lock_error(std::errc code, const char* operation, std::filesystem::path path,
             lock_level level, bool shared, const std::string& reason)
      : lock_error(code, describe(operation, path, level, shared, reason),
                   std::move(path), level, shared) {}

 private:
  // `path` by reference: moved only once `text`, built from it, is made.
  lock_error(std::errc code, const std::string& text,
             std::filesystem::path&& path, lock_level level, bool shared)
      : std::system_error(std::make_error_code(code), text),
        // Shared pointers keep copying the exception noexcept.
        what_(std::make_shared<const std::string>(text + ": " +
                                                  code_text(code))),
        path_(std::make_shared<const std::filesystem::path>(std::move(path))),
        level_(level),
        shared_(shared) {}

  // Builds "OPERATION: LEVEL MODE lock on "PATH" REASON".
  static std::string describe(const char* operation,
                              const std::filesystem::path& path,
                              lock_level level, bool shared,
                              const std::string& reason) {
    std::string text = operation;
    text += ": ";
    text += to_string(level);
    text += shared ? " shared" : " exclusive";
    text += " lock on \"";
    text += path.string();
    text += "\" ";
    text += reason;
    return text;
  }

  // The text of the codes lock errors carry, as glibc words them.
  static std::string code_text(std::errc code) {
    switch (code) {
      case std::errc::operation_would_block:
        return "Resource temporarily unavailable";
      case std::errc::resource_deadlock_would_occur:
        return "Resource deadlock avoided";
      default:
        return std::make_error_code(code).message();
    }
  }

  std::shared_ptr<const std::string> what_;
  std::shared_ptr<const std::filesystem::path> path_;
  lock_level level_;
  bool shared_;
};

// acquiring_lock_would_block_error
//
// Thrown when a lock is held in a conflicting mode and the request may not
// wait (`blocking = false`). Catch this class to handle both levels alike.
class acquiring_lock_would_block_error : public lock_error {
 protected:
  // For the two level-specific errors below.
  acquiring_lock_would_block_error(const char* operation,
                                   std::filesystem::path path,
                                   lock_level level, bool shared,
                                   const std::string& reason)
      : lock_error(std::errc::operation_would_block, operation,
                   std::move(path), level, shared, reason) {}
};

// acquiring_thread_level_lock_would_block_error
//
// Thrown when another thread of this process holds the key in a conflicting
// mode and the request may not wait.
class acquiring_thread_level_lock_would_block_error
    : public acquiring_lock_would_block_error {
 public:
  // A policy's refusal of the request `operation` made for `path`.
  acquiring_thread_level_lock_would_block_error(
      const char* operation, std::filesystem::path path, bool shared,
      const std::string& reason = "would block")
      : acquiring_lock_would_block_error(operation, std::move(path),
                                         lock_level::thread, shared, reason) {}
};

// acquiring_process_level_lock_would_block_error
//
// Thrown when another process holds the lock file in a conflicting mode and
// the request may not wait (or its timeout expired). One corner: while
// another thread of this process waits for a shared OS lock, a non-blocking
// exclusive request is refused too (docs/process-level.md).
class acquiring_process_level_lock_would_block_error
    : public acquiring_lock_would_block_error {
 public:
  // A policy's refusal of the request `operation` made for `path`.
  acquiring_process_level_lock_would_block_error(
      const char* operation, std::filesystem::path path, bool shared,
      const std::string& reason = "would block")
      : acquiring_lock_would_block_error(operation, std::move(path),
                                         lock_level::process, shared, reason) {
  }
};

// recursive_deadlock_error
//
// Thrown instead of hanging when waiting could never end: a thread asks
// again for a key it holds and its ReentrancyPolicy refuses, or a thread
// holding shared asks to upgrade while another shared holder is already
// waiting to upgrade, or the kernel reports a deadlock between processes.
class recursive_deadlock_error : public lock_error {
 public:
  // A policy's refusal of the request `operation` made for `path`.
  recursive_deadlock_error(const char* operation, std::filesystem::path path,
                           lock_level level, bool shared,
                           const std::string& reason)
      : lock_error(std::errc::resource_deadlock_would_occur, operation,
                   std::move(path), level, shared, reason) {}
};

}  // namespace dreadlocks

#endif  // DREADLOCKS_ERRORS_HPP_
