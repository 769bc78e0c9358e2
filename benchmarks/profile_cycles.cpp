// benchmarks/profile_cycles.cpp
//
// Runs one benchmark case a fixed number of times, for callgrind, which
// counts instructions repeatably however loaded the machine is:
//
//   valgrind --tool=callgrind bazel-bin/benchmarks/profile_cycles CASE COUNT
//
// Instructions per cycle = (Ir at COUNT - Ir at 0) / COUNT; profile_cycles.sh
// does that for every case. The cases ending in "_threaded" first start and
// join a thread (dreadlocks_bench::leave_single_threaded_regime), so that
// glibc and the library use their atomic instructions, as in any
// multi-threaded process; at COUNT 0 too, so the difference is the loop's.
// They run about as many instructions as the others (a locked
// read-modify-write counts as one instruction, like the plain load and
// store it replaces); what they show is which paths the code takes, not
// the instructions' latency, which is where their extra time goes.

#include <boost/interprocess/sync/file_lock.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "benchmarks/bench_support.hpp"
#include "dreadlocks/dreadlocks.hpp"

namespace {

dreadlocks::lock_options options(bool shared, bool reentrant = false) {
  dreadlocks::lock_options result;
  result.shared = shared;
  result.reentrant = reentrant;
  return result;
}

template <class Lock>
void cycle(const std::filesystem::path& path, bool shared, long count) {
  for (long i = 0; i < count; ++i) Lock lock(path, options(shared));
}

template <class Lock>
void nested(const std::filesystem::path& path, bool outer_shared,
            bool inner_shared, long count) {
  const Lock outer(path, options(outer_shared));
  for (long i = 0; i < count; ++i) {
    Lock inner(path, options(inner_shared, true));
  }
}

// The baseline: a mutex-guarded map from the path to a shared_mutex.
void guarded_map(const std::filesystem::path& path, long count) {
  std::mutex mutex;
  std::unordered_map<std::string, std::shared_mutex> map;
  for (long i = 0; i < count; ++i) {
    std::shared_mutex* entry;
    {
      std::lock_guard<std::mutex> lock(mutex);
      entry = &map.try_emplace(path.native()).first->second;
    }
    entry->lock();
    entry->unlock();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s CASE COUNT\n", argv[0]);
    return 2;
  }
  using namespace dreadlocks;
  const auto path = dreadlocks_bench::lock_file("profile.lock");
  const long count = std::strtol(argv[2], nullptr, 10);
  const std::map<std::string, std::function<void()>> cases = {
      {"thread_level", [&] { cycle<thread_level_path_lock>(path, false, count); }},
      {"thread_level_shared",
       [&] { cycle<thread_level_path_lock>(path, true, count); }},
      {"process_level", [&] { cycle<process_level_path_lock>(path, false, count); }},
      {"path_lock", [&] { cycle<path_lock>(path, false, count); }},
      {"path_lock_cold",
       [&] {
         // 16 files in turn, twice the idle files kept: every guard opens
         // its file (BM_paired_path_lock_cold_vs_raw_ofd).
         std::vector<std::filesystem::path> paths;
         for (int i = 0; i < 16; ++i) {
           paths.push_back(dreadlocks_bench::lock_file(
               "cold-" + std::to_string(i) + ".lock"));
         }
         for (long i = 0; i < count; ++i) {
           path_lock lock(paths[static_cast<std::size_t>(i % 16)],
                          options(false));
         }
       }},
      {"raw_ofd",
       [&] {
         for (long i = 0; i < count; ++i) {
           dreadlocks_bench::raw_ofd_cycle(path.c_str(), false);
         }
       }},
      {"path_mutex",
       [&] {
         // Kept across cycles: the first lock opens the file (at COUNT 0
         // too, so that the difference is the cycles').
         path_mutex mutex(path);
         mutex.lock();
         mutex.unlock();
         for (long i = 0; i < count; ++i) {
           mutex.lock();
           mutex.unlock();
         }
       }},
      {"boost_file_lock_kept",
       [&] {
         boost::interprocess::file_lock lock(path.c_str());
         for (long i = 0; i < count; ++i) {
           lock.lock();
           lock.unlock();
         }
       }},
      {"guarded_map", [&] { guarded_map(path, count); }},
      {"path_lock_nested", [&] { nested<path_lock>(path, false, false, count); }},
      {"thread_level_nested",
       [&] { nested<thread_level_path_lock>(path, false, false, count); }},
      {"thread_level_threaded",
       [&] {
         dreadlocks_bench::leave_single_threaded_regime();
         cycle<thread_level_path_lock>(path, false, count);
       }},
      {"guarded_map_threaded",
       [&] {
         dreadlocks_bench::leave_single_threaded_regime();
         guarded_map(path, count);
       }},
  };
  const auto found = cases.find(argv[1]);
  if (found == cases.end()) {
    std::fprintf(stderr, "unknown case %s\n", argv[1]);
    return 2;
  }
  found->second();
  return 0;
}
