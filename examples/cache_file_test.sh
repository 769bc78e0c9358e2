#!/usr/bin/env bash
# cache_file: two processes, each with a writer and three reader threads, on
# one cache; no read may see a half-written cache.
set -uo pipefail
source "$(dirname "$0")/example_test_lib.sh"
program=$1
cache=$scratch/cache.txt

timeout 60 "$program" "$cache" 200 >"$scratch/a.out" 2>&1 &
first=$!
timeout 60 "$program" "$cache" 200 >"$scratch/b.out" 2>&1
second_status=$?
wait "$first"
first_status=$?
cat "$scratch/a.out" "$scratch/b.out"
((first_status == 0 && second_status == 0)) ||
  fail "exit statuses $first_status and $second_status (torn reads, or an error)"
grep -q "^generation 199$" "$cache" || fail "the cache was not left whole: $(head -1 "$cache")"
echo "PASS: cache_file"
