// tests/perf/nested_syscalls_helper.cpp
//
// Run by nested_syscalls_test.sh under strace: takes a path_lock, then
// repeats nested reentrant acquisitions whose mode is already held between
// pairs of marker system calls, close(-4242) and close(-4243), so that the
// test can count what the nesting itself asks of the kernel.
//
//   nested_syscalls_helper LOCK_FILE [ITERATIONS]

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>

#include "dreadlocks/dreadlocks.hpp"

namespace {

constexpr int kBeginMarker = -4242;
constexpr int kEndMarker = -4243;

dreadlocks::lock_options nested(bool shared) {
  dreadlocks::lock_options options;
  options.shared = shared;
  options.reentrant = true;
  return options;
}

// Holds `Lock` on `path` in the outer mode, then, between the markers,
// takes `iterations` nested locks in each mode the outer hold covers (the
// same mode; shared inside exclusive), through path_lock and
// process_level_path_lock. Returns false if a nested lock did not own it.
bool nest(const std::filesystem::path& path, bool outer_shared,
          long iterations) {
  dreadlocks::lock_options outer_options;
  outer_options.shared = outer_shared;
  const dreadlocks::path_lock outer(path, outer_options);
  bool ok = outer.owns_lock();
  {
    // One round before the marker: one-time work (the thread's key cache,
    // spare registry entries) is not what is measured.
    const dreadlocks::path_lock warm(path, nested(true));
    ok = ok && warm.owns_lock();
  }
  ::close(kBeginMarker);
  for (long i = 0; i < iterations; ++i) {
    const dreadlocks::path_lock same(path, nested(outer_shared));
    const dreadlocks::process_level_path_lock process_same(
        path, nested(outer_shared));
    ok = ok && same.owns_lock() && process_same.owns_lock();
    if (!outer_shared) {
      const dreadlocks::path_lock shared_inside(path, nested(true));
      const dreadlocks::process_level_path_lock process_shared_inside(
          path, nested(true));
      ok = ok && shared_inside.owns_lock() && process_shared_inside.owns_lock();
    }
  }
  ::close(kEndMarker);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s LOCK_FILE [ITERATIONS]\n", argv[0]);
    return 2;
  }
  // A std::filesystem::path, as a program that locks a path repeatedly
  // keeps it: a C string would be converted (allocated) on every call,
  // which is no system call either, except that ASan's quarantine then
  // maps fresh memory now and then.
  const std::filesystem::path path = argv[1];
  const long iterations = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 1000;
  try {
    const bool ok = nest(path, false, iterations) && nest(path, true, iterations);
    if (!ok) {
      std::fprintf(stderr, "a nested lock did not own its lock\n");
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
