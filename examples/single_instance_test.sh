#!/usr/bin/env bash
# single_instance: a second instance exits 75 at once while the first runs;
# once the first is gone, a new one runs.
set -uo pipefail
source "$(dirname "$0")/example_test_lib.sh"
program=$1
lock=$scratch/daemon.lock

start_holder "$program" "$lock"

start=$SECONDS
timeout 10 "$program" "$lock" 0 >"$scratch/second.out" 2>&1
status=$?
((status == 75)) || fail "second instance exited $status, not 75: $(cat "$scratch/second.out")"
grep -q "already running" "$scratch/second.out" || fail "no message: $(cat "$scratch/second.out")"
((SECONDS - start <= 5)) || fail "second instance waited instead of exiting at once"

stop_holder
timeout 10 "$program" "$lock" 0 >"$scratch/third.out" 2>&1 ||
  fail "after the first instance ended, a new one could not run: $(cat "$scratch/third.out")"
grep -q running "$scratch/third.out" || fail "third instance did not run"
echo "PASS: single_instance"
