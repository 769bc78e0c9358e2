// tests/perf/kept_syscalls_helper.cpp
//
// Run by kept_syscalls_test.sh under strace: locks and unlocks a path
// mutex, exclusive and shared, many times between a pair of marker system
// calls, close(-4242) and close(-4243), so that the test can check that a
// mutex kept across cycles asks the kernel for the lock and the unlock
// only (no open, close or stat): once through path_mutex, once through
// process_level_path_mutex.
//
//   kept_syscalls_helper LOCK_FILE [ITERATIONS]

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>

#include "dreadlocks/dreadlocks.hpp"

namespace {

constexpr int kBeginMarker = -4242;
constexpr int kEndMarker = -4243;

// Cycles `m` exclusive then shared `iterations` times between the markers,
// after one cycle of each before them (the first opens the file).
template <class Mutex>
void cycle(const std::filesystem::path& path, long iterations) {
  Mutex m(path);
  m.lock();
  m.unlock();
  m.lock_shared();
  m.unlock_shared();
  ::close(kBeginMarker);
  for (long i = 0; i < iterations; ++i) {
    m.lock();
    m.unlock();
    m.lock_shared();
    m.unlock_shared();
  }
  ::close(kEndMarker);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s LOCK_FILE [ITERATIONS]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path path = argv[1];
  const long iterations = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 1000;
  try {
    cycle<dreadlocks::path_mutex>(path, iterations);
    cycle<dreadlocks::process_level_path_mutex>(path, iterations);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
