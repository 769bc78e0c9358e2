// Waits a bounded time for a lock and, when the time runs out, says what
// was waited for, how long, and how to find the holder, instead of hanging.
//
//   timed_wait LOCKFILE MILLISECONDS
//
// Exit status: 0 if the lock was had in time, 75 (EX_TEMPFAIL) if not.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "dreadlocks/dreadlocks.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: timed_wait LOCKFILE MILLISECONDS\n");
    return 64;
  }
  const std::chrono::milliseconds patience(std::atoi(argv[2]));
  try {
    dreadlocks::path_lock lock(argv[1], {.timeout = patience});
    std::printf("timed_wait: got %s\n", lock.path().c_str());
    return 0;
  } catch (const dreadlocks::acquiring_lock_would_block_error& e) {
    // e.what() names the operation, the level, the mode, the path and how
    // long it waited.
    std::fprintf(stderr,
                 "timed_wait: gave up after %lld ms: %s\n"
                 "timed_wait: to see who holds it: dreadlock --holders %s\n",
                 static_cast<long long>(patience.count()), e.what(),
                 e.path().c_str());
    return 75;
  }
}
