#!/usr/bin/env bash
# Runs the benchmark binaries and prints medians and ratios against their
# baselines (report.py). Run through Bazel, which passes the paths:
#   tools/bazel run -c opt //benchmarks:report [-- --repetitions=10]
set -euo pipefail
script=$1
shift
binaries=()
while (($# > 0)) && [[ $1 != --* ]]; do
  binaries+=("$1")
  shift
done
exec python3 "$script" "$@" -- "${binaries[@]}"
