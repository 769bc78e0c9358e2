// benchmarks/paired.hpp
//
// A case and its baseline measured side by side, for the targets that lie
// close to their line on a shared machine.
//
// A virtual machine's system calls cost tens of percent more or less from
// one second to the next (docs/performance.md), more than the 10-15% that
// separate a process-level lock from the raw system calls. Two medians
// measured seconds apart then differ by the machine's mood as much as by
// the code. Blocks of a few tens of microseconds, alternated, see the same
// machine: the ratio of two adjacent blocks cancels the drift, and the
// median of those ratios over a run ignores the blocks a preemption hit.

#ifndef DREADLOCKS_BENCHMARKS_PAIRED_HPP_
#define DREADLOCKS_BENCHMARKS_PAIRED_HPP_

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

namespace dreadlocks_bench {

// paired()
//
// Runs `work` and `baseline` (callables taking no argument) in alternating
// blocks of `block` calls each, for as long as `state` asks, the first of
// each pair of blocks alternating too (so that neither always runs warm).
// Sets the counter "ratio" to the median, over the run, of a block of work's
// time over its paired baseline block's time: below 1 when `work` is faster.
template <class Work, class Baseline>
void paired(benchmark::State& state, int block, Work&& work,
            Baseline&& baseline) {
  using clock = std::chrono::steady_clock;
  const auto time_block = [block](auto& calls) {
    const clock::time_point start = clock::now();
    for (int i = 0; i < block; ++i) calls();
    return std::chrono::duration<double>(clock::now() - start).count();
  };
  std::vector<double> ratios;
  bool work_first = true;
  for (auto _ : state) {
    double work_time;
    double baseline_time;
    if (work_first) {
      work_time = time_block(work);
      baseline_time = time_block(baseline);
    } else {
      baseline_time = time_block(baseline);
      work_time = time_block(work);
    }
    work_first = !work_first;
    ratios.push_back(work_time / baseline_time);
  }
  if (ratios.empty()) return;
  const auto middle =
      ratios.begin() + static_cast<std::ptrdiff_t>(ratios.size() / 2);
  std::nth_element(ratios.begin(), middle, ratios.end());
  state.counters["ratio"] = *middle;
  state.counters["blocks"] = static_cast<double>(ratios.size());
}

}  // namespace dreadlocks_bench

#endif  // DREADLOCKS_BENCHMARKS_PAIRED_HPP_
