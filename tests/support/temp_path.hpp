// tests/support/temp_path.hpp
//
// Fresh, unique lock-file paths for tests, under Bazel's TEST_TMPDIR.

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
// in its name. The file is not created.
inline std::filesystem::path unique_path(const std::string& stem) {
  static std::atomic<unsigned> counter{0};
  return scratch_dir() / (stem + "-" + std::to_string(::getpid()) + "-" +
                          std::to_string(counter.fetch_add(1)) + ".lock");
}

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_SUPPORT_TEMP_PATH_HPP_
