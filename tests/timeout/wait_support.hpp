// tests/timeout/wait_support.hpp
//
// Helpers of the timeout, mutex and multi-path tests: the holders
// (holder.hpp) and snapshot of what this process holds
// (nothing_left_behind.hpp) they use, lock options of a timed request, a
// stopwatch, checks of the would-block error a timed request throws, and
// the kernel's settled view of a file's locks.

#ifndef DREADLOCKS_TESTS_TIMEOUT_WAIT_SUPPORT_HPP_
#define DREADLOCKS_TESTS_TIMEOUT_WAIT_SUPPORT_HPP_

#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/fd_count.hpp"
#include "tests/support/holder.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/proc_locks.hpp"
#include "tests/support/scenario_locks.hpp"
#include "tests/support/shared_memory.hpp"

namespace dreadlocks_test {

// Lock options for a timed (or zero/negative timeout) request.
inline dreadlocks::lock_options timed(std::chrono::nanoseconds timeout,
                                      bool shared = false) {
  dreadlocks::lock_options options;
  options.shared = shared;
  options.timeout = timeout;
  return options;
}

// Measures wall time since construction.
class stopwatch {
 public:
  stopwatch() : start_(steady::now()) {}
  steady::time_point start() const { return start_; }
  steady::duration elapsed() const { return steady::now() - start_; }
  long long ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(elapsed())
        .count();
  }

 private:
  steady::time_point start_;
};

// The text a timed request's error carries: "timed out after waiting N ms".
inline std::string timed_out_text(std::chrono::milliseconds timeout) {
  return "timed out after waiting " + std::to_string(timeout.count()) + " ms";
}

// Checks a would-block error: its level, code, path, mode, and that the
// message names all of them and the reason (`reason` is "would block" or
// timed_out_text()).
inline void check_would_block(
    const dreadlocks::acquiring_lock_would_block_error& error,
    dreadlocks::lock_level level, const std::filesystem::path& file,
    bool shared, const std::string& reason) {
  const std::string what = error.what();
  BOOST_TEST((error.level() == level), what);
  BOOST_TEST((error.code() == std::errc::operation_would_block), what);
  BOOST_TEST(error.path() == key_of(file), what);
  BOOST_TEST(error.shared() == shared, what);
  BOOST_TEST(what.find(dreadlocks::to_string(level)) != std::string::npos,
             what);
  BOOST_TEST(what.find(mode_name(shared)) != std::string::npos, what);
  BOOST_TEST(what.find(key_of(file).string()) != std::string::npos, what);
  BOOST_TEST(what.find(reason) != std::string::npos,
             what << " (expected \"" << reason << "\")");
}

// The kernel's locks on `file` (/proc/locks), read until two reads in a
// row agree. /proc/locks is produced page by page while other processes of
// the machine add and drop locks, so one read may list an entry twice or
// skip one when the table is busy.
inline std::vector<kernel_lock> settled_kernel_locks_on(
    const std::filesystem::path& file) {
  const auto same = [](const std::vector<kernel_lock>& a,
                       const std::vector<kernel_lock>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (a[i].blocked != b[i].blocked || a[i].family != b[i].family ||
          a[i].type != b[i].type || a[i].pid != b[i].pid) {
        return false;
      }
    }
    return true;
  };
  auto last = kernel_locks_on(file);
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto next = kernel_locks_on(file);
    if (same(last, next)) return next;
    last = std::move(next);
  }
  return last;
}

// The number of requests blocked in the kernel on `file`, read as above.
inline std::size_t settled_blocked_requests_on(
    const std::filesystem::path& file) {
  std::size_t count = 0;
  for (const auto& entry : settled_kernel_locks_on(file)) {
    count += entry.blocked;
  }
  return count;
}

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_TIMEOUT_WAIT_SUPPORT_HPP_
