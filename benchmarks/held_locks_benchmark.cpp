// benchmarks/held_locks_benchmark.cpp
//
// One process holding N distinct locks (N = 1, 100, 10000): the cost of one
// more lock-unlock cycle on another path, which should not grow with N, and
// the heap memory each held lock costs the library.
//
//   tools/bazel run -c opt //benchmarks:held_locks_benchmark
//
// Memory is counted by this binary's own global operator new/delete: the
// bytes malloc hands out (malloc_usable_size) for the registries' entries
// and the key (the normalized path guard.path() returns), not the guard
// object itself (the caller's storage) nor the kernel's open-file and lock
// records. bytes_per_held_lock = key_bytes_per_lock +
// registry_bytes_per_lock.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include "benchmarks/bench_support.hpp"
#include "dreadlocks/dreadlocks.hpp"
#include "dreadlocks/introspection.hpp"

namespace {

std::atomic<std::int64_t> live_bytes{0};

}  // namespace

void* operator new(std::size_t size) {
  void* block = std::malloc(size == 0 ? 1 : size);
  if (block == nullptr) throw std::bad_alloc();
  live_bytes.fetch_add(static_cast<std::int64_t>(malloc_usable_size(block)),
                       std::memory_order_relaxed);
  return block;
}

void operator delete(void* block) noexcept {
  if (block == nullptr) return;
  live_bytes.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(block)),
                       std::memory_order_relaxed);
  std::free(block);
}

void operator delete(void* block, std::size_t) noexcept {
  operator delete(block);
}

namespace {

constexpr std::int64_t kMostHeld = 10000;

// Paths of kMostHeld + 1 existing files, the same for every N, so that the
// file system looks the same whatever N is. The last one is the cycled one.
const std::vector<std::filesystem::path>& held_paths() {
  static const std::vector<std::filesystem::path> paths = [] {
    std::vector<std::filesystem::path> made;
    made.reserve(kMostHeld + 1);
    for (std::int64_t i = 0; i <= kMostHeld; ++i) {
      made.push_back(dreadlocks_bench::lock_file("held-" + std::to_string(i) +
                                                 ".lock"));
    }
    return made;
  }();
  return paths;
}

template <class Lock>
void held(benchmark::State& state) {
  const auto& paths = held_paths();
  const std::int64_t n = state.range(0);
  // What the keys alone cost: the normalized path that guard.path()
  // returns, shared by the guard and the registries.
  std::int64_t key_bytes = 0;
  {
    std::vector<dreadlocks::lock_key> keys;
    keys.reserve(static_cast<std::size_t>(n));
    const std::int64_t before = live_bytes.load();
    for (std::int64_t i = 0; i < n; ++i) {
      keys.emplace_back(paths[static_cast<std::size_t>(i)], "held");
    }
    key_bytes = live_bytes.load() - before;
  }
  std::vector<Lock> locks;
  locks.reserve(static_cast<std::size_t>(n));
  // Entries left unused by earlier runs would be reused and hide what a
  // held lock costs: the registries drop them first.
  dreadlocks::introspection::trim();
  const std::int64_t before = live_bytes.load();
  for (std::int64_t i = 0; i < n; ++i) {
    locks.emplace_back(paths[static_cast<std::size_t>(i)]);
  }
  const std::int64_t after = live_bytes.load();
  const auto& cycled = paths.back();
  for (auto _ : state) {
    Lock lock(cycled);
    benchmark::DoNotOptimize(lock);
  }
  // With one lock, the registries' few kept-for-reuse entries (and the
  // thread's recent keys) from earlier runs absorb it: only many locks
  // give a per-lock figure.
  if (n >= 100) {
    const auto per_lock = [n](std::int64_t bytes) {
      return static_cast<double>(bytes) / static_cast<double>(n);
    };
    state.counters["bytes_per_held_lock"] = per_lock(after - before);
    state.counters["key_bytes_per_lock"] = per_lock(key_bytes);
    state.counters["registry_bytes_per_lock"] =
        per_lock(after - before - key_bytes);
  }
}

void BM_thread_level_path_lock_held(benchmark::State& state) {
  held<dreadlocks::thread_level_path_lock>(state);
}

void BM_process_level_path_lock_held(benchmark::State& state) {
  held<dreadlocks::process_level_path_lock>(state);
}

void BM_path_lock_held(benchmark::State& state) {
  held<dreadlocks::path_lock>(state);
}

}  // namespace

BENCHMARK(BM_thread_level_path_lock_held)->ArgName("held")->Arg(1)->Arg(100)->Arg(kMostHeld);
BENCHMARK(BM_process_level_path_lock_held)->ArgName("held")->Arg(1)->Arg(100)->Arg(kMostHeld);
BENCHMARK(BM_path_lock_held)->ArgName("held")->Arg(1)->Arg(100)->Arg(kMostHeld);
