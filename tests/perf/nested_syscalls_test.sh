#!/usr/bin/env bash
# A nested reentrant acquisition whose mode is already held makes no system
# call (issue 4): runs nested_syscalls_helper under strace and counts the
# system calls its main thread makes between each pair of markers
# (close(-4242) ... close(-4243)), inside which it takes thousands of
# nested locks. Only the main thread's calls count: a sanitizer's
# background thread may make its own.
set -euo pipefail

helper=$1
iterations=2000
scratch=${TEST_TMPDIR:-$(mktemp -d)}
trace=$scratch/strace.out

if ! command -v strace >/dev/null; then
  echo "FAIL: strace is not installed (tools/bazel installs it)" >&2
  exit 1
fi

# LeakSanitizer cannot run under ptrace (it stops the process with it):
# off for the traced helper in ASan builds; ASan itself stays on.
# Under ASan (the asan config sets ASAN_OPTIONS) the sanitizer's allocator
# maps memory for its own bookkeeping as blocks come and go; those memory
# calls are the allocator's, not the library's, and are not counted there.
# Every other call still is, and the plain build counts everything.
allocator_calls='^$'
if [[ -n ${ASAN_OPTIONS:-} ]]; then
  allocator_calls='^(mmap|munmap|madvise|mprotect)\('
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

# Bounded: the helper takes well under a second; strace must not hang CI.
timeout 120 strace -f -qq -o "$trace" "$helper" "$scratch/nested.lock" "$iterations"

# Prints "windows calls": how many marker windows were seen, and how many
# other system calls the marking thread made inside them.
read -r windows calls < <(awk -v allocator="$allocator_calls" '
  {
    tid = $1
    call = $0
    sub(/^[0-9]+ +/, "", call)
    if ($0 ~ /close\(-4242\)/) { inside[tid] = 1; windows++; next }
    if ($0 ~ /close\(-4243\)/) { inside[tid] = 0; next }
    if (inside[tid] && call !~ allocator) {
      calls++
      print "inside a window: " $0 > "/dev/stderr"
    }
  }
  END { printf "%d %d\n", windows, calls }
' "$trace")

if ((windows != 2)); then
  echo "FAIL: expected 2 marker windows in the trace, saw $windows" >&2
  exit 1
fi
if ((calls != 0)); then
  echo "FAIL: $calls system call(s) during $((iterations * 6)) nested acquisitions" >&2
  exit 1
fi
echo "PASS: 0 system calls during $((iterations * 6)) nested acquisitions"
