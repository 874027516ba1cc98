#!/usr/bin/env bash
# nonblocking = async, the outcomes other than a late success:
#  - a server that refuses until the deadline: the program learns the real
#    ECONNREFUSED through SO_ERROR, after hidden retries, and the log
#    gives up with reason deadline;
#  - a destination that never answers (nftables drops SYNs in our own
#    namespace): each attempt is cut at attempt_timeout, and the deadline
#    ends it with ETIMEDOUT through SO_ERROR;
#  - the program closes its socket while a retry is pending and reuses the
#    number: backstop stops at once and never connects the new socket.
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/integration/async_lib.sh"

# Refused until the deadline.
EXTRA=(BACKSTOP_CONNECT_DEADLINE=1s)
out=$(LISTEN=no late_case poll)
assert_eq "$out" "error=ECONNREFUSED" "refused until the deadline: SO_ERROR"
log="$BS_TMP/poll.jsonl"
assert_log_valid "$log"
[ "$(count_lines '"event":"connect.retry"' "$log")" -ge 3 ] || fail "refused: too few retries"
assert_grep '"event":"connect.giveup".*"mode":"async".*"errno":"ECONNREFUSED","reason":"deadline"' \
	"$log" "refused: give-up line"
assert_no_grep '"event":"connect.ok"' "$log" "refused"

# Closed and reused while a retry is pending. The retries logged before
# the close are all there may be.
EXTRA=()
out=$(RETRIES=1 late_case reuse)
assert_eq "$out" "untouched" "a closed number's new socket"
assert_no_grep '"event":"connect.(ok|giveup)"' "$BS_TMP/reuse.jsonl" "after the close"
out=$(RETRIES=0 late_case reuse 1 "")
assert_eq "$out" "untouched" "without backstop"
for how in reuse_dup2 reuse_close_range; do
	out=$(RETRIES=1 late_case "$how")
	assert_eq "$out" "untouched" "a number let go of by ${how#reuse_}"
	assert_no_grep '"event":"connect.(ok|giveup)"' "$BS_TMP/$how.jsonl" "after ${how#reuse_}"
done

# Never answered: in a namespace where SYNs to port 9 are dropped.
ns=$(netns_blackhole blackhole 9)
log="$BS_TMP/blackhole.jsonl"
ready=$(ready_fifo blackhole)
ip netns exec "$ns" env "${POLICY[@]}" BACKSTOP_CONNECT_ATTEMPT_TIMEOUT=150ms \
	BACKSTOP_CONNECT_DEADLINE=1s BACKSTOP_LOG="$log" LD_PRELOAD="$BS_PRELOAD" \
	"$BS_HELPERS/async_client" poll 9 "$ready" >"$BS_TMP/blackhole.out" 2>&1 &
client=$!
await_ready "$ready" >/dev/null
wait "$client" && fail "connected to a blackhole: $(cat "$BS_TMP/blackhole.out")"
assert_eq "$(cat "$BS_TMP/blackhole.out")" "error=ETIMEDOUT" "blackhole: SO_ERROR"
assert_log_valid "$log"
python3 - "$log" <<'PY' || fail "blackhole: the log does not show bounded attempts"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
retries = [l for l in lines if l["event"] == "connect.retry"]
giveups = [l for l in lines if l["event"] == "connect.giveup"]
assert len(retries) >= 2, retries
assert all(l["errno"] == "ETIMEDOUT" and l["mode"] == "async" for l in retries), retries
assert len(giveups) == 1 and giveups[0]["reason"] == "deadline" \
    and giveups[0]["errno"] == "ETIMEDOUT", giveups
print(f"# blackhole: {len(retries)} attempts cut at attempt_timeout, then the deadline")
PY
