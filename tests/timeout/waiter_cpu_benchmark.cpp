// tests/timeout/waiter_cpu_benchmark.cpp
//
// How much CPU a thread uses while it waits for a lock (issue 6: "a waiter
// uses well under 5% of a core"). Each iteration is one wait of about 2 s;
// the waiting thread's CPU time (CLOCK_THREAD_CPUTIME_ID, cross-checked
// with getrusage(RUSAGE_THREAD)) over its wall time is reported as the
// counter `cpu_fraction` (0.01 = 1% of a core).
//
//   tools/bazel run -c opt //tests/timeout:waiter_cpu_benchmark
//
// Scenarios:
// - TimedProcessWait: another process holds the file; path_lock with a 2 s
//   timeout expires. The process level has no timed kernel wait, so this
//   polls (F_OFD_SETLK, backoff 1 ms doubling to 16 ms): the worst case.
// - TimedProcessWaitGranted: the other process releases after 2 s; a
//   path_lock with a 10 s timeout polls until it is granted.
// - BlockingProcessWait: the other process releases after 2 s; an untimed
//   path_lock sleeps in the kernel (F_OFD_SETLKW) until granted.
// - TimedThreadWait: another thread holds the key; path_lock with a 2 s
//   timeout waits on a condition variable and expires.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_path.hpp"

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr auto kWait = 2s;

double thread_cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + now.tv_nsec * 1e-9;
}

double rusage_thread_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

double seconds(steady::duration d) {
  return std::chrono::duration<double>(d).count();
}

// A pipe end pair; closes what it owns.
struct pipe_pair {
  int read = -1;
  int write = -1;
  pipe_pair() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      throw std::system_error(errno, std::generic_category(), "pipe2");
    }
    read = fds[0];
    write = fds[1];
  }
  ~pipe_pair() {
    if (read >= 0) ::close(read);
    if (write >= 0) ::close(write);
  }
};

void send(int fd, char c) {
  while (::write(fd, &c, 1) < 0 && errno == EINTR) {
  }
}

// Reads one byte within `timeout`; 0 on timeout or end of file.
char receive(int fd, std::chrono::milliseconds timeout) {
  pollfd entry{fd, POLLIN, 0};
  if (::poll(&entry, 1, static_cast<int>(timeout.count())) <= 0) return 0;
  char c = 0;
  return ::read(fd, &c, 1) == 1 ? c : 0;
}

// other_process
//
// A child process that locks the file exclusively (process level) on
// command: 'H' holds until 'R'; 'T' holds for kWait, then releases; 'Q'
// quits. It answers 'h' once it holds.
class other_process {
 public:
  explicit other_process(std::filesystem::path file)
      : file_(std::move(file)),
        child_([this] { return serve(); }, /*alarm_seconds=*/300) {}

  ~other_process() {
    send(commands_.write, 'Q');
    child_.wait(10s);
  }

  void hold() { command('H'); }
  void hold_for_a_while() { command('T'); }
  void release() { send(commands_.write, 'R'); }

 private:
  void command(char c) {
    send(commands_.write, c);
    if (receive(answers_.read, 10s) != 'h') {
      throw std::runtime_error("the other process did not take the lock");
    }
  }

  int serve() {
    std::optional<dreadlocks::process_level_path_lock> lock;
    for (;;) {
      const char c = receive(commands_.read, 200s);
      switch (c) {
        case 'H':
          lock.emplace(file_);
          send(answers_.write, 'h');
          break;
        case 'T':
          lock.emplace(file_);
          send(answers_.write, 'h');
          std::this_thread::sleep_for(kWait);  // the scenario: hold 2 s
          lock.reset();
          break;
        case 'R':
          lock.reset();
          break;
        default:  // 'Q', end of file or timeout
          return 0;
      }
    }
  }

  std::filesystem::path file_;
  pipe_pair commands_;
  pipe_pair answers_;
  dreadlocks_test::child_process child_;  // last: forks once the rest is built
};

// Measures `wait` per iteration: wall time and the calling thread's CPU.
template <class Wait>
void measure(benchmark::State& state, Wait wait) {
  double wall = 0, cpu = 0, rusage_cpu = 0;
  for (auto _ : state) {
    const auto start = steady::now();
    const double cpu_start = thread_cpu_seconds();
    const double rusage_start = rusage_thread_seconds();
    wait();
    cpu += thread_cpu_seconds() - cpu_start;
    rusage_cpu += rusage_thread_seconds() - rusage_start;
    wall += seconds(steady::now() - start);
  }
  state.counters["cpu_fraction"] = cpu / wall;
  state.counters["rusage_cpu_fraction"] = rusage_cpu / wall;
  state.counters["cpu_ms_per_wait"] =
      benchmark::Counter(cpu * 1e3, benchmark::Counter::kAvgIterations);
  state.counters["wall_ms_per_wait"] =
      benchmark::Counter(wall * 1e3, benchmark::Counter::kAvgIterations);
}

// Measures path_lock requests with a kWait timeout on `file`, which
// someone else holds throughout: each must expire with WouldBlock (the
// error of the level where the holder is); a grant spoils the run.
template <class WouldBlock>
void measure_expiries(benchmark::State& state,
                      const std::filesystem::path& file,
                      const char* if_granted) {
  dreadlocks::lock_options options;
  options.timeout = kWait;
  measure(state, [&] {
    try {
      dreadlocks::path_lock lock(file, options);
      state.SkipWithError(if_granted);
    } catch (const WouldBlock&) {
    }
  });
}

// Measures path_lock requests with `options` on `file`, each granted when
// `other` lets go after holding for kWait.
void measure_grants(benchmark::State& state, const std::filesystem::path& file,
                    other_process& other, dreadlocks::lock_options options) {
  measure(state, [&] {
    other.hold_for_a_while();
    dreadlocks::path_lock lock(file, options);
    benchmark::DoNotOptimize(lock.owns_lock());
  });
}

void TimedProcessWait(benchmark::State& state) {
  const auto file = dreadlocks_test::unique_path("cpu-timed-process");
  other_process other(file);
  other.hold();
  measure_expiries<dreadlocks::acquiring_process_level_lock_would_block_error>(
      state, file, "granted while another process holds the file");
  other.release();
}

void TimedProcessWaitGranted(benchmark::State& state) {
  const auto file = dreadlocks_test::unique_path("cpu-timed-granted");
  other_process other(file);
  dreadlocks::lock_options options;
  options.timeout = 10s;
  measure_grants(state, file, other, options);
}

void BlockingProcessWait(benchmark::State& state) {
  const auto file = dreadlocks_test::unique_path("cpu-blocking-process");
  other_process other(file);
  measure_grants(state, file, other, {});
}

void TimedThreadWait(benchmark::State& state) {
  const auto file = dreadlocks_test::unique_path("cpu-timed-thread");
  std::mutex mutex;
  std::condition_variable changed;
  bool held = false, done = false;
  std::thread holder([&] {
    dreadlocks::thread_level_path_lock lock(file);
    std::unique_lock<std::mutex> guard(mutex);
    held = true;
    changed.notify_all();
    changed.wait_for(guard, 120s, [&] { return done; });
  });
  {
    std::unique_lock<std::mutex> guard(mutex);
    changed.wait_for(guard, 10s, [&] { return held; });
  }
  measure_expiries<dreadlocks::acquiring_thread_level_lock_would_block_error>(
      state, file, "granted while another thread holds the key");
  {
    std::lock_guard<std::mutex> guard(mutex);
    done = true;
  }
  changed.notify_all();
  holder.join();
}

// Every iteration waits about kWait: timed in wall-clock milliseconds.
void wall_ms(benchmark::internal::Benchmark* registered) {
  registered->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(TimedProcessWait)->Apply(wall_ms)->Iterations(3);
BENCHMARK(TimedProcessWaitGranted)->Apply(wall_ms)->Iterations(2);
BENCHMARK(BlockingProcessWait)->Apply(wall_ms)->Iterations(2);
BENCHMARK(TimedThreadWait)->Apply(wall_ms)->Iterations(2);
