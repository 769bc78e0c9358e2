#!/usr/bin/env bash
# A path mutex kept across cycles makes the two lock system calls per
# lock/unlock and nothing else (issue 16, item 1: it keeps its lock file
# open): runs kept_syscalls_helper under strace and counts, per call name,
# what its main thread asks for between each pair of markers
# (syscall_windows.sh). The windows must hold exactly 4 * ITERATIONS fcntl
# calls each (exclusive and shared, lock and unlock) and no other call (an
# open, close or stat would be one).
set -euo pipefail
source "$(dirname "$0")/syscall_windows.sh"

helper=$1
iterations=500
scratch=${TEST_TMPDIR:-$(mktemp -d)}

mapfile -t lines < <(calls_in_windows "$helper" "$scratch/kept.lock" "$iterations")
windows=${lines[-1]#windows }
unset 'lines[-1]'
fcntls=0
others=0
for call in "${lines[@]}"; do
  if [[ $call == fcntl\(* ]]; then
    fcntls=$((fcntls + 1))
  else
    others=$((others + 1))
    echo "inside a window: $call" >&2
  fi
done

if ((windows != 2)); then
  echo "FAIL: expected 2 marker windows in the trace, saw $windows" >&2
  exit 1
fi
expected=$((2 * 4 * iterations))
if ((fcntls != expected || others != 0)); then
  echo "FAIL: $fcntls fcntl call(s) (expected $expected) and $others other(s) during $((2 * 2 * iterations)) mutex cycles" >&2
  exit 1
fi
echo "PASS: $fcntls fcntl calls and nothing else during $((2 * 2 * iterations)) mutex cycles"
