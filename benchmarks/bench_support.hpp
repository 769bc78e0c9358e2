// benchmarks/bench_support.hpp
//
// What the benchmark binaries share: a scratch directory for lock files,
// the raw system-call sequence that the process-level cases are measured
// against, and the switch to the multi-threaded regime.

#ifndef DREADLOCKS_BENCHMARKS_BENCH_SUPPORT_HPP_
#define DREADLOCKS_BENCHMARKS_BENCH_SUPPORT_HPP_

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#if defined(__has_include)
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define DREADLOCKS_BENCH_HAS_SINGLE_THREADED_FLAG 1
#endif
#endif

namespace dreadlocks_bench {

// Returns a directory of this process's own, created on first use under
// $TMPDIR (else /tmp) and removed when the process exits normally.
inline const std::filesystem::path& scratch_dir() {
  struct dir {
    std::filesystem::path path;
    dir() {
      const char* tmp = std::getenv("TMPDIR");
      std::string pattern =
          std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
          "/dreadlocks-bench.XXXXXX";
      if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), pattern);
      }
      // The lexically normal absolute form: the key the library would make.
      path = std::filesystem::absolute(pattern).lexically_normal();
    }
    ~dir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const dir scratch;
  return scratch.path;
}

// Returns the path of lock file `name` in the scratch directory, created
// (empty) so that every case finds it existing, as Boost's file_lock needs.
inline std::filesystem::path lock_file(const std::string& name) {
  std::filesystem::path path = scratch_dir() / name;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), path);
  ::close(fd);
  return path;
}

// The sequence a hand-written lock would make, the baseline of the
// process-level cases: open, lock (waiting), unlock, close. Returns false
// if a call failed.
inline bool raw_ofd_cycle(const char* path, bool shared) noexcept {
  const int fd = ::open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0666);
  if (fd < 0) return false;
  struct ::flock request {};
  request.l_type = shared ? F_RDLCK : F_WRLCK;
  request.l_whence = SEEK_SET;
  bool ok = ::fcntl(fd, F_OFD_SETLKW, &request) == 0;
  request.l_type = F_UNLCK;
  ok = ::fcntl(fd, F_OFD_SETLK, &request) == 0 && ok;
  ::close(fd);
  return ok;
}

// The floors of issue 16's targets: what a cycle on a descriptor kept open
// costs with no bookkeeping at all. raw_ofd_kept_cycle(): lock (waiting)
// and unlock `fd`; raw_ofd_validated_cycle(): the same after a stat(2) of
// `path` (the check a reused descriptor needs). Return false if a call
// failed.
inline bool raw_ofd_kept_cycle(int fd, bool shared) noexcept {
  struct ::flock request {};
  request.l_type = shared ? F_RDLCK : F_WRLCK;
  request.l_whence = SEEK_SET;
  bool ok = ::fcntl(fd, F_OFD_SETLKW, &request) == 0;
  request.l_type = F_UNLCK;
  return ::fcntl(fd, F_OFD_SETLK, &request) == 0 && ok;
}
inline bool raw_ofd_validated_cycle(const char* path, int fd,
                                    bool shared) noexcept {
  struct ::stat named {};
  return ::stat(path, &named) == 0 && raw_ofd_kept_cycle(fd, shared);
}

// Starts a thread and joins it, so that the process is multi-threaded for
// good: while a process has one thread, glibc (2.34+) skips the atomic
// instructions in pthread_mutex_lock/unlock and the library its key
// reference counts (__libc_single_threaded), and glibc never sets the flag
// back after a join. A thread-level lock only matters in a multi-threaded
// process, so that is the regime its users see. Aborts if the flag is
// still set afterwards (the numbers would be the single-threaded ones).
inline void leave_single_threaded_regime() {
  std::thread([] {}).join();
#if defined(DREADLOCKS_BENCH_HAS_SINGLE_THREADED_FLAG)
  if (::__libc_single_threaded != 0) {
    std::fputs("__libc_single_threaded still set after a thread ran\n", stderr);
    std::abort();
  }
#endif
}

}  // namespace dreadlocks_bench

#endif  // DREADLOCKS_BENCHMARKS_BENCH_SUPPORT_HPP_
