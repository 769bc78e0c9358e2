#!/usr/bin/env bash
# append_log: 4 processes x 300 records into one log; every line is one whole
# record, and each writer's records are all there, in order.
set -uo pipefail
source "$(dirname "$0")/example_test_lib.sh"
program=$1
log=$scratch/app.log
writers=4
records=300

pids=()
for ((w = 0; w < writers; w++)); do
  timeout 60 "$program" "$log" "writer$w" "$records" &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid" || fail "a writer failed (exit $?)"
done

lines=$(wc -l <"$log")
((lines == writers * records)) || fail "$lines lines, expected $((writers * records))"
bad=$(grep -cvE '^writer[0-9]+ [0-9]+: some message end$' "$log")
((bad == 0)) || fail "$bad interleaved lines, e.g.: $(grep -vE '^writer[0-9]+ [0-9]+: some message end$' "$log" | head -3)"
for ((w = 0; w < writers; w++)); do
  expected=$(seq 0 $((records - 1)) | tr '\n' ' ')
  got=$(sed -nE "s/^writer$w ([0-9]+):.*/\1/p" "$log" | tr '\n' ' ')
  [[ $got == "$expected" ]] || fail "writer$w's records are missing or out of order"
done
echo "PASS: append_log ($lines whole records)"
