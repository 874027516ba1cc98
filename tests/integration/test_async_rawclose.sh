#!/usr/bin/env bash
# A number closed behind backstop's back: the program starts a nonblocking
# connect that stays in flight (the server's accept queue is full), closes
# the socket with a raw close system call (which backstop does not see),
# and opens a listening socket that gets the same number. When the
# attempt's time runs out during the program's poll on that listener,
# backstop must leave the listener alone: an entry whose number no longer
# names its socket (device and inode) is dropped, and an attempt is
# dissolved with connect(AF_UNSPEC) only while the number still names its
# socket. A connection to the new listener is accepted; the dropped entry
# logs no outcome (it is not the program's socket any more).
. "$BS_TOP/tests/integration/lib.sh"

log="$BS_TMP/rawclose.jsonl"
out=$(env BACKSTOP_CONNECT_ATTEMPT_TIMEOUT=100ms BACKSTOP_CONNECT_DEADLINE=2s \
	BACKSTOP_CONNECT_BASE=20ms BACKSTOP_SEED=5 BACKSTOP_LOG="$log" \
	LD_PRELOAD="$BS_PRELOAD" "$BS_HELPERS/async_rawclose" 2>&1) || true
assert_eq "$out" "accepted" "a listener on a number closed with SYS_close"
assert_log_valid "$log"
assert_no_grep '"event":"connect\.(ok|giveup)"' "$log" "an outcome for a socket the program closed"
