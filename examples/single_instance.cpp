// A daemon that refuses to run twice: the first instance holds a lock on its
// lock file for as long as it runs; a second one finds it held and exits at
// once instead of waiting. The kernel releases the lock when the process
// ends, however it ends, so a crash never leaves a stale lock behind.
//
//   single_instance LOCKFILE SECONDS   run ("serve") for SECONDS seconds
//
// Exit status: 0 after serving, 75 (EX_TEMPFAIL) if another instance runs.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>

#include "dreadlocks/dreadlocks.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: single_instance LOCKFILE SECONDS\n");
    return 64;
  }
  // Only processes need excluding: process_level_path_lock.
  std::optional<dreadlocks::process_level_path_lock> instance;
  try {
    instance.emplace(argv[1], dreadlocks::lock_options{.blocking = false});
  } catch (const dreadlocks::acquiring_lock_would_block_error&) {
    std::fprintf(stderr, "single_instance: already running (%s is locked)\n",
                 argv[1]);
    return 75;
  }
  std::printf("single_instance: running as pid %d\n", static_cast<int>(getpid()));
  std::fflush(stdout);

  std::this_thread::sleep_for(std::chrono::seconds(std::atoi(argv[2])));
  std::printf("single_instance: done\n");
  return 0;
}
