// tests/api/api_support.hpp
//
// Helpers of the API tests: the aliases as a type list, probes that tell
// whether a path is held at the thread level (asked from another thread) or
// at the process level (asked through an independent open-file-description
// lock).

#ifndef DREADLOCKS_TESTS_API_API_SUPPORT_HPP_
#define DREADLOCKS_TESTS_API_API_SUPPORT_HPP_

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>

#include <boost/test/unit_test.hpp>

#include "dreadlocks/dreadlocks.hpp"
#include "dreadlocks/introspection.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/scenario_locks.hpp"

namespace api_test {

namespace fs = std::filesystem;

using all_aliases =
    std::tuple<dreadlocks::thread_level_path_lock,
               dreadlocks::process_level_path_lock, dreadlocks::path_lock>;

// The aliases that open a lock file.
using file_backed_aliases =
    std::tuple<dreadlocks::process_level_path_lock, dreadlocks::path_lock>;

// Whether guard type L excludes threads / processes.
template <class L>
inline constexpr bool has_thread_level = dreadlocks_test::excludes_threads_v<L>;
template <class L>
inline constexpr bool has_process_level =
    dreadlocks_test::excludes_processes_v<L>;

// Returns true when another thread of this process cannot take `path`
// exclusively at the thread level right now. Never waits.
inline bool thread_level_held(const fs::path& path) {
  bool held = false;
  std::exception_ptr failure;
  std::thread probe([&] {
    try {
      dreadlocks::lock_options options;
      options.blocking = false;
      dreadlocks::thread_level_path_lock lock(path, options);
    } catch (const dreadlocks::acquiring_thread_level_lock_would_block_error&) {
      held = true;
    } catch (...) {
      failure = std::current_exception();
    }
  });
  probe.join();
  if (failure) std::rethrow_exception(failure);
  return held;
}

#if defined(F_OFD_SETLK)
// Returns true when an independent open file description cannot take an
// exclusive lock on `path` right now (that is, the process level of some
// guard holds it). Only for OFD-locked files: closing the probe's
// descriptor would drop classic locks of this process. Never waits.
inline bool process_level_held(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;  // no file, no lock
  struct ::flock request {};
  request.l_type = F_WRLCK;
  request.l_whence = SEEK_SET;
  const int rc = ::fcntl(fd, F_OFD_SETLK, &request);
  const int error = errno;
  ::close(fd);
  if (rc == 0) return false;
  if (error == EAGAIN || error == EACCES) return true;
  throw std::system_error(error, std::generic_category(), "probe fcntl");
}

// Holds an OFD lock on `path` through its own descriptor: to this process's
// registry it looks like another process holding the file.
class foreign_holder {
 public:
  foreign_holder(const fs::path& path, bool shared)
      : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666)) {
    if (fd_ < 0) {
      throw std::system_error(errno, std::generic_category(), "open");
    }
    struct ::flock request {};
    request.l_type = shared ? F_RDLCK : F_WRLCK;
    request.l_whence = SEEK_SET;
    if (::fcntl(fd_, F_OFD_SETLK, &request) != 0) {
      const int error = errno;
      ::close(fd_);
      throw std::system_error(error, std::generic_category(), "F_OFD_SETLK");
    }
  }
  foreign_holder(const foreign_holder&) = delete;
  foreign_holder& operator=(const foreign_holder&) = delete;
  ~foreign_holder() { ::close(fd_); }

 private:
  int fd_;
};
#endif

// Checks that guard type L's levels hold / do not hold `path`.
template <class L>
void expect_held(const fs::path& path) {
  if constexpr (has_thread_level<L>) {
    BOOST_TEST(thread_level_held(path), "thread level should hold " << path);
  }
#if defined(F_OFD_SETLK)
  if constexpr (has_process_level<L>) {
    BOOST_TEST(process_level_held(path), "process level should hold " << path);
  }
#endif
}

template <class L>
void expect_free(const fs::path& path) {
  BOOST_TEST(!thread_level_held(path), "thread level should be free " << path);
#if defined(F_OFD_SETLK)
  BOOST_TEST(!process_level_held(path),
             "process level should be free " << path);
#endif
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace api_test

#endif  // DREADLOCKS_TESTS_API_API_SUPPORT_HPP_
