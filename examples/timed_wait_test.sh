#!/usr/bin/env bash
# timed_wait: while another process holds the lock, it gives up after about
# the timeout with a message naming the path and the way to find the holder;
# once the lock is free, it gets it.
set -uo pipefail
source "$(dirname "$0")/example_test_lib.sh"
program=$1
holder=$2
lock=$scratch/build.lock

start_holder "$holder" "$lock"

start_ns=$(date +%s%N)
timeout 10 "$program" "$lock" 300 >"$scratch/wait.out" 2>&1
status=$?
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
cat "$scratch/wait.out"
((status == 75)) || fail "exited $status, not 75"
((elapsed_ms >= 300)) || fail "gave up after $elapsed_ms ms, before the 300 ms timeout"
((elapsed_ms < 5000)) || fail "took $elapsed_ms ms for a 300 ms timeout"
grep -q "gave up after 300 ms" "$scratch/wait.out" || fail "no 'gave up' message"
grep -qF "$lock" "$scratch/wait.out" || fail "the message does not name $lock"
grep -qF "dreadlock --holders $lock" "$scratch/wait.out" || fail "no hint to find the holder"

stop_holder
timeout 10 "$program" "$lock" 300 >"$scratch/free.out" 2>&1 ||
  fail "could not get the free lock: $(cat "$scratch/free.out")"
echo "PASS: timed_wait"
