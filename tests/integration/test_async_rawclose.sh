#!/usr/bin/env bash
# A number closed behind backstop's back: the program starts a nonblocking
# connect that stays in flight (the server's accept queue is full), closes
# the socket with a raw close system call (which backstop does not see),
# and opens a listening socket that gets the same number. When the
# attempt's time runs out during the program's poll on that listener,
# backstop must leave the listener alone (the old attempt is dissolved
# with connect(AF_UNSPEC) only while the number still names its socket):
# a connection to the new listener is accepted.
. "$BS_TOP/tests/integration/lib.sh"

log="$BS_TMP/rawclose.jsonl"
out=$(env BACKSTOP_CONNECT_ATTEMPT_TIMEOUT=100ms BACKSTOP_CONNECT_DEADLINE=2s \
	BACKSTOP_CONNECT_BASE=20ms BACKSTOP_SEED=5 BACKSTOP_LOG="$log" \
	LD_PRELOAD="$BS_PRELOAD" "$BS_HELPERS/async_rawclose" 2>&1) || true
assert_eq "$out" "accepted" "a listener on a number closed with SYS_close"
assert_log_valid "$log"
# The attempt was cut while the number named the listener: the case the
# test is about did happen.
assert_grep '"event":"connect.(retry|giveup)".*"mode":"async".*"errno":"ETIMEDOUT"' "$log" \
	"the pending attempt's timeout"
