// A cache file shared by the threads of this process and by other
// processes: readers take it shared (std::shared_lock), the writer that
// refreshes it takes it exclusive (std::unique_lock), through one
// dreadlocks::path_mutex on CACHE.lock. A reader checks that it never sees
// a half-written cache: the first and last lines must name one generation.
//
//   cache_file CACHE ROUNDS   1 writer and 3 reader threads, ROUNDS each
//
// Exit status: 0 if every read saw a whole cache, 1 otherwise.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <shared_mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"

namespace {

std::atomic<int> torn_reads{0};

// Rewrites the cache: a header, a body, a trailer, in separate writes.
void refresh(const std::string& cache, dreadlocks::path_mutex& mutex, int generation) {
  std::unique_lock<dreadlocks::path_mutex> writer(mutex);
  std::ofstream out(cache, std::ios::trunc);
  out << "generation " << generation << '\n' << std::flush;
  for (int line = 0; line < 50; ++line) out << "entry " << line << '\n';
  out << std::flush;
  out << "generation " << generation << '\n';
}

// Reads the cache; counts a read whose first and last lines differ.
void read_once(const std::string& cache, dreadlocks::path_mutex& mutex) {
  std::shared_lock<dreadlocks::path_mutex> reader(mutex);
  std::ifstream in(cache);
  std::string first, line, last;
  if (!std::getline(in, first)) return;  // not written yet
  last = first;
  while (std::getline(in, line)) last = line;
  if (first != last) ++torn_reads;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: cache_file CACHE ROUNDS\n");
    return 64;
  }
  const std::string cache = argv[1];
  const int rounds = std::atoi(argv[2]);
  dreadlocks::path_mutex mutex(cache + ".lock");

  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    for (int i = 0; i < rounds; ++i) refresh(cache, mutex, i);
  });
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) read_once(cache, mutex);
    });
  }
  for (auto& thread : threads) thread.join();

  std::printf("cache_file: %d torn reads\n", torn_reads.load());
  return torn_reads == 0 ? 0 : 1;
}
