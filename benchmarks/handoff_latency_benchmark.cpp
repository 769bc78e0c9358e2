// benchmarks/handoff_latency_benchmark.cpp
//
// Hand-off latency between two processes: how long after one process
// releases a file the other, waiting for it, is granted it. Untimed waiters
// (which wait in the kernel: the baseline) and timed ones (10 s timeout)
// alternate round by round in one run, so that both see the same machine.
//
// A round: this process holds the file; it tells a forked child to lock it
// (timed or not); once the child's request is seen queued in the kernel
// (/proc/locks), it reads the clock and releases; the child reads the clock as soon as it is
// granted and sends that time back. Both clocks are CLOCK_MONOTONIC, one
// clock for the whole machine.
//
// Counters (microseconds): untimed_p50, untimed_p99, timed_p50, timed_p99,
// and p99_ratio = timed_p99 / untimed_p99.
//
//   tools/bazel run -c opt //benchmarks:handoff_latency_benchmark

#include <benchmark/benchmark.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/bench_support.hpp"
#include "dreadlocks/dreadlocks.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             clock_type::now().time_since_epoch())
      .count();
}

// Writes or reads one fixed-size value through a pipe; false on failure.
template <class T>
bool send(int fd, const T& value) {
  return ::write(fd, &value, sizeof value) == static_cast<ssize_t>(sizeof value);
}
template <class T>
bool receive(int fd, T& value) {
  return ::read(fd, &value, sizeof value) == static_cast<ssize_t>(sizeof value);
}

// The device and inode of `path` as /proc/locks writes them.
std::string lock_table_id(const std::filesystem::path& path) {
  struct ::stat info {};
  if (::stat(path.c_str(), &info) != 0) return {};
  char id[64];
  std::snprintf(id, sizeof id, "%02x:%02x:%lu", ::major(info.st_dev),
                ::minor(info.st_dev), static_cast<unsigned long>(info.st_ino));
  return id;
}

// Whether /proc/locks lists a request blocked ("->") on the file `id`.
bool request_queued(const std::string& id) {
  std::ifstream table("/proc/locks");
  std::string line;
  while (std::getline(table, line)) {
    if (line.find("->") != std::string::npos &&
        line.find(" " + id + " ") != std::string::npos) {
      return true;
    }
  }
  return false;
}

// The child: for each request (1 timed, 0 untimed, -1 stop), says it is
// about to lock, locks, reads the clock, releases, and sends the time.
template <class Lock>
[[noreturn]] void waiter(const std::filesystem::path& path, int requests,
                         int replies) {
  for (;;) {
    int timed = -1;
    if (!receive(requests, timed) || timed < 0) ::_exit(0);
    const std::int64_t about_to_lock = 0;
    if (!send(replies, about_to_lock)) ::_exit(1);
    dreadlocks::lock_options options;
    if (timed != 0) options.timeout = std::chrono::seconds(10);
    std::int64_t granted_at = 0;
    {
      Lock lock(path, options);
      granted_at = now_ns();
    }
    if (!send(replies, granted_at)) ::_exit(1);
  }
}

// The p-th quantile (0..1) of `values`, in microseconds.
double quantile_us(std::vector<std::int64_t> values, double p) {
  if (values.empty()) return 0;
  const auto index = static_cast<std::size_t>(p * (values.size() - 1) + 0.5);
  std::nth_element(values.begin(), values.begin() + index, values.end());
  return values[index] / 1000.0;
}

template <class Lock>
void BM_handoff_latency(benchmark::State& state) {
  const auto path = dreadlocks_bench::lock_file("handoff.lock");
  int to_child[2];
  int from_child[2];
  if (::pipe(to_child) != 0 || ::pipe(from_child) != 0) {
    state.SkipWithError("pipe failed");
    return;
  }
  const pid_t child = ::fork();
  if (child < 0) {
    state.SkipWithError("fork failed");
    return;
  }
  if (child == 0) waiter<Lock>(path, to_child[0], from_child[1]);
  const std::string id = lock_table_id(path);
  std::vector<std::int64_t> untimed;
  std::vector<std::int64_t> timed;
  bool ok = true;
  int round = 0;
  for (auto _ : state) {
    const int is_timed = round++ % 2;
    std::int64_t released_at = 0;
    {
      Lock lock(path);
      std::int64_t about_to_lock = -1;
      ok = send(to_child[1], is_timed) && receive(from_child[0], about_to_lock);
      // Waiting: its request is queued in the kernel (the timed waiter's
      // task as the untimed waiter itself), so that what is timed is the
      // hand-off, not the start of the wait. A bounded spin: the request
      // is queued within microseconds.
      const auto limit = clock_type::now() + std::chrono::seconds(10);
      while (ok && !request_queued(id)) {
        if (clock_type::now() > limit) ok = false;
        std::this_thread::yield();
      }
      released_at = now_ns();
    }
    std::int64_t granted_at = 0;
    if (!ok || !receive(from_child[0], granted_at)) {
      state.SkipWithError("the waiting process failed");
      break;
    }
    (is_timed != 0 ? timed : untimed).push_back(granted_at - released_at);
  }
  send(to_child[1], -1);
  ::waitpid(child, nullptr, 0);
  for (const int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) {
    ::close(fd);
  }
  state.counters["untimed_p50"] = quantile_us(untimed, 0.5);
  state.counters["untimed_p99"] = quantile_us(untimed, 0.99);
  state.counters["timed_p50"] = quantile_us(timed, 0.5);
  state.counters["timed_p99"] = quantile_us(timed, 0.99);
  state.counters["p99_ratio"] =
      quantile_us(timed, 0.99) / std::max(quantile_us(untimed, 0.99), 1e-3);
}

}  // namespace

// Rounds, not time: 1000 hand-offs per run, half timed (p99: the 5th
// slowest of 500).
BENCHMARK_TEMPLATE(BM_handoff_latency, dreadlocks::process_level_path_lock)
    ->Iterations(1000)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_handoff_latency, dreadlocks::path_lock)
    ->Iterations(1000)
    ->UseRealTime();

BENCHMARK_MAIN();
