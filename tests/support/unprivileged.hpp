// tests/support/unprivileged.hpp
//
// Making file permissions apply to a test's child process although the
// tests run as root, and the files "the user may only read" to try them
// on: a read-only file and a directory.

#ifndef DREADLOCKS_TESTS_SUPPORT_UNPRIVILEGED_HPP_
#define DREADLOCKS_TESTS_SUPPORT_UNPRIVILEGED_HPP_

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_path.hpp"

namespace dreadlocks_test {

// read_only_files
//
// A fresh directory holding a file nobody may write (mode 0444) and a
// directory: the two kinds of lock file a process may only read.
struct read_only_files {
  std::filesystem::path base = unique_path("read-only");
  std::filesystem::path file = base / "read-only.lock";
  std::filesystem::path directory = base / "a-directory";
  read_only_files() {
    namespace fs = std::filesystem;
    fs::create_directory(base);
    fs::create_directory(directory);
    { std::ofstream create(file); }
    fs::permissions(file, fs::perms::owner_read | fs::perms::group_read |
                              fs::perms::others_read);
  }
};

// give_up_permission_override()
//
// Makes file permission checks apply to this (root) process and to the
// programs it executes from now on: removes CAP_DAC_OVERRIDE,
// CAP_DAC_READ_SEARCH and CAP_FOWNER from its bounding set (so that an
// exec does not give them back) and from its effective, permitted and
// inheritable sets. That works inside the user namespace of Bazel's
// sandbox, where setuid(65534) fails (the uid is not mapped); elsewhere,
// failing that, becomes uid/gid 65534 (nobody). Call it in a forked child
// only. Returns whether it succeeded.
inline bool give_up_permission_override() {
  constexpr int overrides[] = {CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
                               CAP_FOWNER};
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  bool dropped = ::syscall(SYS_capget, &header, data) == 0;
  for (const int cap : overrides) {
    dropped = dropped && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0;
    data[CAP_TO_INDEX(cap)].effective &= ~CAP_TO_MASK(cap);
    data[CAP_TO_INDEX(cap)].permitted &= ~CAP_TO_MASK(cap);
    data[CAP_TO_INDEX(cap)].inheritable &= ~CAP_TO_MASK(cap);
  }
  if (dropped && ::syscall(SYS_capset, &header, data) == 0) return true;
  constexpr uid_t nobody = 65534;
  return ::setgroups(0, nullptr) == 0 && ::setgid(nobody) == 0 &&
         ::setuid(nobody) == 0;
}

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_SUPPORT_UNPRIVILEGED_HPP_
