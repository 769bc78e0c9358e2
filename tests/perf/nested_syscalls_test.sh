#!/usr/bin/env bash
# A nested reentrant acquisition whose mode is already held makes no system
# call (issue 4): runs nested_syscalls_helper under strace and counts the
# system calls its main thread makes between each pair of markers, inside
# which it takes thousands of nested locks (syscall_windows.sh).
set -euo pipefail
source "$(dirname "$0")/syscall_windows.sh"

helper=$1
iterations=2000
scratch=${TEST_TMPDIR:-$(mktemp -d)}

mapfile -t lines < <(calls_in_windows "$helper" "$scratch/nested.lock" "$iterations")
windows=${lines[-1]#windows }
unset 'lines[-1]'
for call in "${lines[@]}"; do echo "inside a window: $call" >&2; done
calls=${#lines[@]}

if ((windows != 2)); then
  echo "FAIL: expected 2 marker windows in the trace, saw $windows" >&2
  exit 1
fi
if ((calls != 0)); then
  echo "FAIL: $calls system call(s) during $((iterations * 6)) nested acquisitions" >&2
  exit 1
fi
echo "PASS: 0 system calls during $((iterations * 6)) nested acquisitions"
