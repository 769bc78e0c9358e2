# tests/perf/syscall_windows.sh: sourced by the *_syscalls_test.sh scripts.
#
# calls_in_windows HELPER LOCK_FILE ITERATIONS
#   Runs HELPER under strace and prints, one a line, the system calls its
#   marking thread made inside each pair of markers (close(-4242) ...
#   close(-4243)), then a last line "windows N": how many windows it saw.
#   Only the marking thread's calls count: a sanitizer's background thread
#   may make its own. Under ASan (the asan config sets ASAN_OPTIONS) the
#   sanitizer's allocator maps memory for its own bookkeeping as blocks come
#   and go; those memory calls are the allocator's, not the library's, and
#   are left out there. Every other call is printed, and the plain build
#   prints everything.

calls_in_windows() {
  local helper=$1 lock=$2 iterations=$3
  local trace=${TEST_TMPDIR:-$(mktemp -d)}/strace.out
  if ! command -v strace >/dev/null; then
    echo "FAIL: strace is not installed (tools/bazel installs it)" >&2
    return 1
  fi
  local allocator_calls='^$'
  if [[ -n ${ASAN_OPTIONS:-} ]]; then
    allocator_calls='^(mmap|munmap|madvise|mprotect)\('
  fi
  # LeakSanitizer cannot run under ptrace (it stops the process with it):
  # off for the traced helper in ASan builds; ASan itself stays on.
  # Bounded: the helpers take well under a second; strace must not hang CI.
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    timeout 120 strace -f -qq -o "$trace" "$helper" "$lock" "$iterations"
  awk -v allocator="$allocator_calls" '
    {
      tid = $1
      call = $0
      sub(/^[0-9]+ +/, "", call)
      if ($0 ~ /close\(-4242\)/) { inside[tid] = 1; windows++; next }
      if ($0 ~ /close\(-4243\)/) { inside[tid] = 0; next }
      if (inside[tid] && call !~ allocator) print call
    }
    END { printf "windows %d\n", windows }
  ' "$trace"
}
