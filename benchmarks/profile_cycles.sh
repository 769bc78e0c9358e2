#!/usr/bin/env bash
# Instructions per lock-unlock cycle of each case, counted by callgrind:
#   tools/bazel build -c opt //benchmarks:profile_cycles
#   benchmarks/profile_cycles.sh bazel-bin/benchmarks/profile_cycles
set -euo pipefail
binary=$1
count=${2:-20000}
instructions() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$binary" "$1" "$2" 2>&1 |
    awk '/Collected :/ { print $4 }'
}
# The *_threaded cases in a process that has had a second thread (see
# profile_cycles.cpp).
for case in guarded_map thread_level thread_level_shared process_level path_lock path_lock_cold raw_ofd \
  path_mutex boost_file_lock_kept path_lock_nested thread_level_nested guarded_map_threaded thread_level_threaded; do
  base=$(instructions "$case" 0)
  total=$(instructions "$case" "$count")
  printf '%-22s %8d instructions per cycle\n' "$case" $(((total - base) / count))
done
