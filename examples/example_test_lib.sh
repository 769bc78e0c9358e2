# Sourced by the examples' tests: a scratch directory, failing with a
# message, and a single_instance process holding a lock in the background.

scratch=${TEST_TMPDIR:-$(mktemp -d)}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# start_holder SINGLE_INSTANCE LOCKFILE: starts `single_instance LOCKFILE 60`
# in the background and waits (at most 10 s) until it holds the lock; sets
# holder_pid. stop_holder ends it.
start_holder() {
  local out=$scratch/holder.out
  "$1" "$2" 60 >"$out" 2>&1 &
  holder_pid=$!
  trap stop_holder EXIT
  local tries
  for ((tries = 0; tries < 200; tries++)); do
    grep -q running "$out" && return 0
    kill -0 "$holder_pid" 2>/dev/null || fail "holder exited: $(cat "$out")"
    sleep 0.05
  done
  fail "holder did not take $2 within 10 s"
}

stop_holder() {
  if [[ -n ${holder_pid:-} ]]; then
    kill "$holder_pid" 2>/dev/null
    wait "$holder_pid" 2>/dev/null
    holder_pid=
  fi
  return 0
}
