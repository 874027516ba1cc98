#!/usr/bin/env bash
# A port that refuses forever. Bounded by attempts: the call ends after
# `attempts` with ECONNREFUSED, one connect.retry per failed attempt but the
# last, one giveup with reason attempts. Bounded by the deadline: the
# sleeps never add up past it, and the giveup says deadline. A blocking
# socket's own SO_SNDTIMEO is a shorter deadline.
. "$BS_TOP/tests/integration/lib.sh"

PORT=$(free_port) # nobody listens there: every attempt is refused
client() { # LOG POLICY...
	local log=$1
	shift
	env BACKSTOP_SEED=3 "$@" BACKSTOP_LOG="$log" LD_PRELOAD="$BS_PRELOAD" \
		"$BS_HELPERS/conn_client" "127.0.0.1:$PORT" || true
}

# Sum of delay_ms, and whether every deadline_left_ms fits in the deadline
# and keeps shrinking.
delays() { # LOG DEADLINE_MS
	python3 - "$1" "$2" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
retries = [l for l in lines if l["event"] == "connect.retry"]
total = sum(float(l["delay_ms"]) for l in retries)
left = [float(l["deadline_left_ms"]) for l in retries]
assert all(a > b for a, b in zip(left, left[1:])), f"deadline_left_ms not shrinking: {left}"
assert all(l <= float(sys.argv[2]) for l in left), left
# No sleep may end past the deadline: each delay fits in the time left.
assert all(float(l["delay_ms"]) < float(l["deadline_left_ms"]) for l in retries)
assert total <= float(sys.argv[2]), f"sleeps sum to {total} ms"
print(round(total, 3))
PY
}

log="$BS_TMP/attempts.jsonl"
out=$(client "$log" BACKSTOP_CONNECT_ATTEMPTS=5 BACKSTOP_CONNECT_BASE=10ms \
	BACKSTOP_CONNECT_MAX_DELAY=50ms BACKSTOP_CONNECT_DEADLINE=60s)
assert_grep '^result=ECONNREFUSED ' <(echo "$out") "attempts: errno"
assert_log_valid "$log"
assert_eq "$(assert_log_valid "$log" connect.retry fd dest rule attempt attempts \
	errno delay_ms deadline_left_ms)" 4 "attempts: retries for 5 attempts"
assert_eq "$(count_lines '"event":"connect.giveup".*"attempt":5.*"errno":"ECONNREFUSED".*"reason":"attempts"' "$log")" \
	1 "attempts: giveup line"
assert_eq "$(assert_log_valid "$log" connect.giveup fd dest rule attempt errno reason)" \
	1 "attempts: giveup lines"
assert_grep "\"dest\":\"127.0.0.1:$PORT\"" "$log" "attempts: dest"
note "attempts: sleeps sum to $(delays "$log" 60000) ms"

# Many attempts allowed, but a 1s deadline: backoff sleeps stop before it.
log="$BS_TMP/deadline.jsonl"
out=$(client "$log" BACKSTOP_CONNECT_ATTEMPTS=1000 BACKSTOP_CONNECT_BASE=20ms \
	BACKSTOP_CONNECT_MAX_DELAY=200ms BACKSTOP_CONNECT_JITTER=none BACKSTOP_CONNECT_DEADLINE=1s)
assert_grep '^result=ECONNREFUSED ' <(echo "$out") "deadline: errno (the last real error)"
assert_log_valid "$log"
assert_eq "$(count_lines '"event":"connect.giveup".*"reason":"deadline"' "$log")" 1 "deadline: giveup"
note "deadline: sleeps sum to $(delays "$log" 1000) ms"

# The built-in default (no count limit, 10 s deadline) on a blocking socket
# whose program set SO_SNDTIMEO to 300 ms: that timeout bounds the whole
# call, retries included. The log shows the deadline the engine used.
log="$BS_TMP/sndtimeo.jsonl"
out=$(env BACKSTOP_SEED=3 BACKSTOP_LOG="$log" LD_PRELOAD="$BS_PRELOAD" \
	"$BS_HELPERS/conn_client" -s 300 "127.0.0.1:$PORT" || true)
assert_grep '^result=ECONNREFUSED .*sndtimeo_kept=yes' <(echo "$out") "SO_SNDTIMEO: errno, timeout kept"
assert_log_valid "$log"
assert_eq "$(count_lines '"event":"connect.giveup".*"reason":"deadline"' "$log")" 1 \
	"SO_SNDTIMEO: the program's timeout ends the retries as a deadline"
note "SO_SNDTIMEO: sleeps sum to $(delays "$log" 300) ms over $(count_lines '"event":"connect.retry"' "$log") retries"

# BACKSTOP_SEED makes the jitter of a run reproducible: the same seed gives
# the same delays, another seed other delays.
schedule() { # SEED
	local log="$BS_TMP/seed$1-$RANDOM.jsonl"
	client "$log" BACKSTOP_SEED="$1" BACKSTOP_CONNECT_ATTEMPTS=4 BACKSTOP_CONNECT_BASE=5ms \
		BACKSTOP_CONNECT_MAX_DELAY=20ms >/dev/null
	grep -o '"delay_ms":[0-9.]*' "$log" | tr '\n' ' '
}
first=$(schedule 11)
[ -n "$first" ] || fail "seeded run logged no delays"
assert_eq "$(schedule 11)" "$first" "delays of two runs with one seed"
[ "$(schedule 12)" != "$first" ] || fail "another seed gave the same delays: $first"
