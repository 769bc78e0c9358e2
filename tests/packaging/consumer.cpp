// The program every packaging consumer builds (CMake find_package,
// add_subdirectory, FetchContent, a Makefile through pkg-config): written as
// a user's C++17 program would be, it locks PATH, then starts a second
// process of itself that must find the lock held.
//
//   consumer PATH          lock PATH, check from another process, exit 0
//   consumer --probe PATH  exit 3 if PATH is locked by another process, 0 if not
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "dreadlocks/dreadlocks.hpp"

namespace {

constexpr int kHeld = 3;

int probe(const char* path) {
  dreadlocks::lock_options options;
  options.blocking = false;
  try {
    dreadlocks::path_lock lock(path, options);
    return 0;
  } catch (const dreadlocks::acquiring_lock_would_block_error&) {
    return kHeld;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--probe") return probe(argv[2]);
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PATH\n", argv[0]);
    return 2;
  }
  dreadlocks::path_lock lock(argv[1]);
  std::printf("consumer: locked %s (dreadlocks %s)\n", lock.path().c_str(),
              DREADLOCKS_VERSION_STRING);

  // Arguments are quoted for /bin/sh; the test paths hold no quote.
  const std::string probe_command =
      std::string("'") + argv[0] + "' --probe '" + argv[1] + "'";
  const int status = std::system(probe_command.c_str());
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != kHeld) {
    std::fprintf(stderr, "consumer: another process could take the lock\n");
    return 1;
  }
  std::printf("consumer: another process found it held\n");

  // A lock object kept across cycles, as a user's loop keeps one: its later
  // cycles take the mutex's direct path, which must build warning-free too.
  dreadlocks::path_mutex mutex(std::string(argv[1]) + ".mutex");
  mutex.lock();
  mutex.unlock();
  for (int cycle = 0; cycle < argc * 50; ++cycle) {
    mutex.lock();
    mutex.unlock();
  }
  std::printf("consumer: locked and unlocked a kept mutex\n");
  return 0;
}
