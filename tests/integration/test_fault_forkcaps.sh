#!/usr/bin/env bash
# fork in a thread while other threads hold cap slots, wait for one, and
# churn through a second capped destination (tests/helpers/fault_forkcaps.c):
# no child deadlocks, each child connects and closes under the caps on its
# own copy of the counts without waiting, and the parent's counts are
# untouched (its waiter is served only when the parent frees a slot).
. "$BS_TOP/tests/integration/lib.sh"

FORKS=30 log="$BS_TMP/log.jsonl"
out=$(timeout 120 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$log" \
	BACKSTOP_CONNECT_DEADLINE=100s \
	BACKSTOP_DEST_HELD_MATCH=127.0.0.2 BACKSTOP_DEST_HELD_MAX_CONNS=2 \
	BACKSTOP_DEST_HELD_ON_CAP=wait BACKSTOP_DEST_HELD_CAP_WAIT=90s \
	BACKSTOP_DEST_CHURN_MATCH=127.0.0.3 BACKSTOP_DEST_CHURN_MAX_CONNS=3 \
	BACKSTOP_DEST_CHURN_ON_CAP=wait BACKSTOP_DEST_CHURN_CAP_WAIT=90s \
	"$BS_HELPERS/fault_forkcaps" "$log" $FORKS) || fail "fault_forkcaps: ${out:-no output (hung or crashed)}"
note "$out"
assert_eq "$out" "ok forks=$FORKS" "helper result"
# The only wait of the run is the parent's third connection to .2, served
# once A closed: A's slot went to it (in_use back to 2). A child that had
# inherited the waiter, or kept A's slot after closing its copy, would
# have waited itself (and timed out).
held='"dest":"127\.0\.0\.2:[0-9]+","rule":"held"'
assert_eq "$(count_lines "\"event\":\"cap.wait\",$held" "$log")" 1 "cap.wait lines for held"
assert_eq "$(count_lines "\"event\":\"cap.acquired\",$held,\"in_use\":2" "$log")" 1 "cap.acquired (in_use 2) for held"
assert_no_grep '"event":"cap.timeout"' "$log" "a cap timeout"
assert_log_valid "$log"
