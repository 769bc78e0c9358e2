// tools/dreadlock/acquire.cpp

#include "tools/dreadlock/acquire.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <system_error>

// The umbrella header: lock_key, key_form and the primitive's types come
// with it (they live in a target users reach only through //dreadlocks).
#include "dreadlocks/dreadlocks.hpp"
#include "dreadlocks/posix_primitives.hpp"
#include "tools/dreadlock/exit_codes.hpp"

namespace dreadlock_cli {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

int report_error(const options& options, const std::string& reason,
                 int exit_code) {
  std::fprintf(stderr, "dreadlock: cannot lock \"%s\": %s\n",
               options.path.c_str(), reason.c_str());
  return exit_code;
}

std::string reason_for(const lock_outcome& outcome) {
  if (outcome.access_note != nullptr) return outcome.access_note;
  return std::strerror(outcome.error);
}

// Opens PATH as the library opens a lock file (SPEC §2, through the
// public posix_file_primitive): -1 after a message. The key keeps PATH's
// text as typed (`..` after a symlink means what open(2) makes of it).
int open_path(const options& options, int& exit_code) {
  try {
    const dreadlocks::lock_key key(options.path, "dreadlock",
                                   dreadlocks::key_form::as_opened);
    dreadlocks::open_failure failure;
    const int fd = dreadlocks::posix_file_primitive::open(key, failure);
    if (fd >= 0) return fd;
    std::string reason = failure.error.code().message();
    if (failure.note != nullptr) reason += std::string(" (") + failure.note + ")";
    exit_code = report_error(options, reason,
                             exit_code_for_lock_error(failure.error.code()));
  } catch (const std::system_error& error) {
    // An empty path, or a relative one in a deleted current directory.
    exit_code = report_error(options, error.code().message(),
                             exit_code_for_lock_error(error.code()));
  } catch (const std::bad_alloc&) {
    exit_code = report_error(options, "out of memory", os_error_exit);
  }
  return -1;
}

}  // namespace

lock_request lock_request_for(const options& options) {
  lock_request request;
  request.wanted = options.unlock   ? lock_request::mode::unlock
                   : options.shared ? lock_request::mode::shared
                                    : lock_request::mode::exclusive;
  request.fcntl_only = options.fcntl_only;
  request.start = options.start;
  request.length = options.length;
  request.nonblock = options.nonblock ||
                     (options.timeout && options.timeout->count() <= 0);
  request.timeout = options.timeout;
  return request;
}

acquisition acquire(const options& options) {
  acquisition result;
  if (options.descriptor >= 0) {
    if (::fcntl(options.descriptor, F_GETFD) < 0) {
      std::fprintf(stderr, "dreadlock: %d: %s\n", options.descriptor,
                   std::strerror(errno));
      result.exit_code = data_error_exit;
      return result;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  const int fd = options.descriptor >= 0
                     ? options.descriptor
                     : open_path(options, result.exit_code);
  if (fd < 0) return result;
  const lock_outcome outcome = lock_descriptor(fd, lock_request_for(options));
  if (outcome.result != lock_outcome::status::acquired) {
    if (options.descriptor < 0) ::close(fd);
    switch (outcome.result) {
      case lock_outcome::status::conflict:
      case lock_outcome::status::timed_out:
        if (options.verbose) {
          std::fprintf(stderr, "dreadlock: %s\n",
                       outcome.result == lock_outcome::status::conflict
                           ? "failed to get lock"
                           : "timeout while waiting to get lock");
        }
        result.exit_code = options.conflict_exit_code;
        return result;
      default:
        result.exit_code = report_error(
            options, reason_for(outcome),
            outcome.access_note != nullptr
                ? cannot_open_exit
                : exit_code_for_lock_error(
                      std::error_code(outcome.error, std::generic_category())));
        return result;
    }
  }
  if (options.verbose) {
    // On stdout, as flock(1) prints it.
    std::printf("dreadlock: getting lock took %.6f seconds\n",
                seconds_since(start));
  }
  result.descriptor = fd;
  result.opened = options.descriptor < 0;
  return result;
}

}  // namespace dreadlock_cli
