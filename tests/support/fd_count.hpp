// tests/support/fd_count.hpp
//
// Counts this process's open descriptors from /proc/self/fd, overall and
// on one file, to prove that a lock holds exactly one descriptor while held
// and none after, whatever path it failed or succeeded on (Linux only).
//
//   const std::size_t before = dreadlocks_test::open_descriptor_count();
//   { dreadlocks::path_lock lock(file);
//     BOOST_TEST(dreadlocks_test::open_descriptor_count() == before + 1);
//     BOOST_TEST(dreadlocks_test::descriptors_open_on(file) == 1u); }
//   BOOST_TEST(dreadlocks_test::open_descriptor_count() == before);

#ifndef DREADLOCKS_TESTS_SUPPORT_FD_COUNT_HPP_
#define DREADLOCKS_TESTS_SUPPORT_FD_COUNT_HPP_

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace dreadlocks_test {

// Returns the descriptors open in this process, not counting the one used
// to read /proc/self/fd.
inline std::vector<int> open_descriptors() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) {
    throw std::system_error(errno, std::generic_category(),
                            "open_descriptors: opendir /proc/self/fd");
  }
  const int own = ::dirfd(dir);
  std::vector<int> found;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const int fd = std::atoi(entry->d_name);
    if (fd != own) found.push_back(fd);
  }
  ::closedir(dir);
  return found;
}

// Returns the number of descriptors open in this process.
inline std::size_t open_descriptor_count() { return open_descriptors().size(); }

// Returns how many of this process's descriptors are open on the file
// `file` names (same device and inode: every spelling, hard links
// included); 0 if `file` does not exist.
inline std::size_t descriptors_open_on(const std::filesystem::path& file) {
  struct ::stat target;
  if (::stat(file.c_str(), &target) != 0) return 0;
  std::size_t count = 0;
  for (const int fd : open_descriptors()) {
    struct ::stat info;
    if (::fstat(fd, &info) == 0 && info.st_dev == target.st_dev &&
        info.st_ino == target.st_ino) {
      ++count;
    }
  }
  return count;
}

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_SUPPORT_FD_COUNT_HPP_
