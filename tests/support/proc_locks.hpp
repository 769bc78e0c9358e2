// tests/support/proc_locks.hpp
//
// Reads the kernel's table of file locks (/proc/locks, Linux) for one file:
// which locks are held on it, in what mode, and which requests are blocked
// waiting for it. This lets a test prove that another process is really
// waiting in the kernel (an ordering proof without sleeping).
//
//   BOOST_TEST(dreadlocks_test::wait_for_blocked_requests(file, 1));

#ifndef DREADLOCKS_TESTS_SUPPORT_PROC_LOCKS_HPP_
#define DREADLOCKS_TESTS_SUPPORT_PROC_LOCKS_HPP_

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace dreadlocks_test {

// One line of /proc/locks about a file.
struct kernel_lock {
  bool blocked = false;  // a request waiting ("->"), not a granted lock
  std::string family;    // "POSIX" (classic fcntl), "OFDLCK", "FLOCK", ...
  std::string type;      // "READ" or "WRITE"
  long pid = 0;          // -1 for OFD locks
};

// One pass over /proc/locks: the entries whose device field is `id`.
inline std::vector<kernel_lock> read_kernel_locks(const std::string& id) {
  std::vector<kernel_lock> found;
  std::ifstream table("/proc/locks");
  std::string line;
  while (std::getline(table, line)) {
    std::istringstream words(line);
    std::string ordinal, first;
    words >> ordinal >> first;
    kernel_lock entry;
    if (first == "->") {
      entry.blocked = true;
      words >> entry.family;
    } else {
      entry.family = first;
    }
    std::string advisory, device;
    words >> advisory >> entry.type >> entry.pid >> device;
    if (device == id) found.push_back(entry);
  }
  return found;
}

// Returns the entries of /proc/locks on the file `file` names (by device
// and inode); empty if the file does not exist.
//
// Caveat: the kernel produces /proc/locks a page per read(), so when the
// table is longer than a page and other processes on the machine lock and
// unlock meanwhile, an entry can be listed twice or skipped. An entry seen
// did exist; exact counts are not reliable. Use this to wait until
// something is seen (wait_for_blocked_requests), not to count holders: ask
// another process (a prober) what it is granted instead.
inline std::vector<kernel_lock> kernel_locks_on(
    const std::filesystem::path& file) {
  struct ::stat info;
  if (::stat(file.c_str(), &info) != 0) return {};
  char id[64];
  std::snprintf(id, sizeof id, "%02x:%02x:%lu", ::major(info.st_dev),
                ::minor(info.st_dev), static_cast<unsigned long>(info.st_ino));
  return read_kernel_locks(id);
}

// Returns the number of requests blocked in the kernel on `file`.
inline std::size_t blocked_requests_on(const std::filesystem::path& file) {
  std::size_t count = 0;
  for (const auto& entry : kernel_locks_on(file)) count += entry.blocked;
  return count;
}

// Polls /proc/locks until at least `count` requests are blocked on `file`,
// for at most `timeout`; returns whether they were seen. A waiter that is
// blocked in the kernel is observable state, so this proves "B waits"
// without guessing a sleep.
inline bool wait_for_blocked_requests(
    const std::filesystem::path& file, std::size_t count,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (blocked_requests_on(file) >= count) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    const timespec pause{0, 200000};  // poll interval, not a synchronisation
    ::nanosleep(&pause, nullptr);
  }
}

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_SUPPORT_PROC_LOCKS_HPP_
