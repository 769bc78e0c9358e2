// tools/dreadlock/acquire_windows.cpp

#include "tools/dreadlock/acquire_windows.hpp"

#if !defined(_WIN32)
#include <sys/stat.h>
#endif

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <new>
#include <string>
#include <system_error>

#include "tools/dreadlock/exit_codes.hpp"

namespace dreadlock_cli {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

bool timed(const dreadlocks::lock_options& wanted) {
  return wanted.blocking && wanted.timeout &&
         *wanted.timeout > std::chrono::nanoseconds(0);
}

int report_error(const options& options, const std::string& reason,
                 int exit_code) {
  std::fprintf(stderr, "dreadlock: cannot lock \"%s\": %s\n",
               options.path.c_str(), reason.c_str());
  return exit_code;
}

// The OS reason, and for a missing file that is a symlink, what it is: the
// library refuses to create a file through one.
std::string reason_for(const std::system_error& error, const std::string& path) {
  std::string reason = error.code().message();
#if !defined(_WIN32)
  struct ::stat link {};
  if (error.code() == std::errc::no_such_file_or_directory &&
      ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
    reason += " (a dangling symlink; its target is not created)";
  }
#else
  (void)path;  // the library's own note says what the path is
#endif
  return reason;
}

}  // namespace

acquisition acquire(const options& options) {
  dreadlocks::lock_options wanted;
  wanted.shared = options.shared;
  wanted.blocking = !options.nonblock;
  wanted.timeout = options.timeout;
  const auto start = std::chrono::steady_clock::now();
  acquisition result;
  try {
#if defined(_WIN32)
    // PATH is UTF-8 there (main_windows.cpp), not the ANSI code page.
    result.lock.emplace(std::filesystem::u8path(options.path), wanted);
#else
    result.lock.emplace(options.path, wanted);
#endif
  } catch (const dreadlocks::acquiring_lock_would_block_error&) {
    if (options.verbose) {
      std::fprintf(stderr,
                   "dreadlock: %s to get lock on \"%s\" (%.6f seconds)\n",
                   timed(wanted) ? "timeout while waiting" : "failed",
                   options.path.c_str(), seconds_since(start));
    }
    result.exit_code = options.conflict_exit_code;
    return result;
  } catch (const dreadlocks::recursive_deadlock_error& error) {
    result.exit_code = report_error(
        options,
        "the kernel reports a deadlock (" + error.code().message() + ")",
        os_error_exit);
    return result;
  } catch (const std::system_error& error) {
    // Bad paths and OS failures; filesystem_error (the current directory
    // unreadable for a relative PATH) is one too.
    result.exit_code = report_error(options, reason_for(error, options.path),
                                    exit_code_for_lock_error(error.code()));
    return result;
  } catch (const std::bad_alloc&) {
    result.exit_code = report_error(options, "out of memory", os_error_exit);
    return result;
  }
  if (options.verbose) {
    std::fprintf(stderr, "dreadlock: getting lock took %.6f seconds\n",
                 seconds_since(start));
  }
  return result;
}

}  // namespace dreadlock_cli
