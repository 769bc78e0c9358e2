// tests/support/temp_path.hpp
//
// The one maker of scratch paths for tests: fresh, unique paths under
// Bazel's TEST_TMPDIR, for lock files, directories and captured output.

#ifndef DREADLOCKS_TESTS_SUPPORT_TEMP_PATH_HPP_
#define DREADLOCKS_TESTS_SUPPORT_TEMP_PATH_HPP_

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace dreadlocks_test {

// Returns the test's scratch directory: $TEST_TMPDIR, else the system's.
inline std::filesystem::path scratch_dir() {
  if (const char* dir = std::getenv("TEST_TMPDIR")) return dir;
  return std::filesystem::temp_directory_path();
}

// Returns a path no other call (in any process) has returned, with `stem`
// in its name, and nothing at it: a file or directory left there by an
// earlier run whose pid was reused is removed, so that counters start at
// zero and links can be created. The file is not created.
inline std::filesystem::path unique_path(const std::string& stem) {
  static std::atomic<unsigned> counter{0};
  auto path = scratch_dir() / (stem + "-" + std::to_string(::getpid()) + "-" +
                               std::to_string(counter.fetch_add(1)) + ".lock");
  std::filesystem::remove_all(path);
  return path;
}

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_SUPPORT_TEMP_PATH_HPP_
