#!/usr/bin/env bash
# A destination that never answers: in a network namespace of our own,
# nftables drops TCP SYNs to one port. Each attempt ends at
# attempt_timeout, the whole call by the deadline, with ETIMEDOUT. Asserted
# on the log's fields, not on measured time.
. "$BS_TOP/tests/integration/lib.sh"

ns=$(netns_blackhole blackhole 9)

log="$BS_TMP/log.jsonl"
out=$(ip netns exec "$ns" env BACKSTOP_CONNECT_ATTEMPTS=100 BACKSTOP_CONNECT_ATTEMPT_TIMEOUT=150ms \
	BACKSTOP_CONNECT_BASE=10ms BACKSTOP_CONNECT_MAX_DELAY=20ms BACKSTOP_CONNECT_DEADLINE=1s \
	BACKSTOP_LOG="$log" BACKSTOP_SEED=5 LD_PRELOAD="$BS_PRELOAD" \
	"$BS_HELPERS/conn_client" 127.0.0.1:9) && fail "connected to a blackhole: $out"
assert_grep '^result=ETIMEDOUT .*sndtimeo_kept=yes' <(echo "$out") "errno and socket options"
assert_log_valid "$log"

python3 - "$log" <<'PY' || fail "log does not show bounded attempts"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
retries = [l for l in lines if l["event"] == "connect.retry"]
giveups = [l for l in lines if l["event"] == "connect.giveup"]
assert len(retries) >= 2, f"only {len(retries)} retries"
# Every attempt timed out rather than failing some other way...
assert all(l["errno"] == "ETIMEDOUT" for l in retries), retries
# ...and took at least attempt_timeout: consecutive deadline_left_ms differ
# by attempt (>= 150ms) + previous delay.
left = [float(l["deadline_left_ms"]) for l in retries]
delay = [float(l["delay_ms"]) for l in retries]
for i in range(1, len(left)):
    assert left[i - 1] - left[i] >= 150 + delay[i - 1] - 1, (left, delay)
assert all(0 < x <= 1000 for x in left), left
assert len(giveups) == 1 and giveups[0]["reason"] == "deadline" \
    and giveups[0]["errno"] == "ETIMEDOUT", giveups
# 1s of deadline fits at most 1000/150 attempts.
assert giveups[0]["attempt"] <= 7, giveups
print(f"# {len(retries)} retries, giveup at attempt {giveups[0]['attempt']}")
PY
