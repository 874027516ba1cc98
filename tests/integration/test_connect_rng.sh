#!/usr/bin/env bash
# Jitter streams: every thread and every forked child draws its own delays
# (a child must not replay its parent's stream: that would be a herd), and
# with BACKSTOP_SEED the whole multi-thread, multi-process run is
# reproducible.
. "$BS_TOP/tests/integration/lib.sh"

PORT=$(free_port) # nobody listens: every connect is refused
run() { # LOG -> one line per connect: pid tid delays
	env BACKSTOP_SEED=99 BACKSTOP_CONNECT_ATTEMPTS=4 BACKSTOP_CONNECT_BASE=1ms \
		BACKSTOP_CONNECT_MAX_DELAY=5ms BACKSTOP_LOG="$1" LD_PRELOAD="$BS_PRELOAD" \
		"$BS_HELPERS/conn_fork" "127.0.0.1:$PORT" || fail "conn_fork failed"
	assert_log_valid "$1"
	python3 - "$1" <<'PY'
import json, sys
# Each call's delays, by role: the parent's main thread (before and after
# fork), the child, then the two threads in the order they ran.
lines = [json.loads(l) for l in open(sys.argv[1])]
retries = [l for l in lines if l["event"] == "connect.retry"]
parent = retries[0]["pid"]
calls = {"main": [], "child": [], "threads": []}
for l in retries:
    role = ("child" if l["pid"] != parent else
            "main" if l["tid"] == parent else "threads")
    if l["attempt"] == 1:
        calls[role].append([])
    calls[role][-1].append(str(l["delay_ms"]))
for role in ("main", "child", "threads"):
    for c in calls[role]:
        print(role, " ".join(c))
PY
}
first=$(run "$BS_TMP/a.jsonl")
assert_eq "$(echo "$first" | wc -l)" 5 "connects logged (before fork, parent, child, two threads)"
assert_eq "$(echo "$first" | cut -d' ' -f2- | sort -u | wc -l)" 5 "distinct delay streams"
assert_eq "$(run "$BS_TMP/b.jsonl")" "$first" "delays of a second run with the same seed"
note "streams:"$'\n'"$first"
