#!/usr/bin/env bash
# 50 threads connecting to one destination with max_conns = 5: the server
# never sees more than 5 at once, and all 50 are served. The same run
# without backstop is reported (not asserted: how many overlap then is up
# to the scheduler), to show what the cap prevents.
. "$BS_TOP/tests/integration/lib.sh"

capped_policy max_conns=5 on_cap=wait cap_wait=60s deadline=120s

run_clients() { # PRELOAD? -> prints the server's "max=M total=T"
	local ready port srv out
	ready=$(ready_fifo "server$1")
	"$BS_HELPERS/cap_server" "$ready" 50 5 >"server$1.out" &
	srv=$!
	port=$(await_ready "$ready")
	if [ "$1" = with ]; then
		out=$(BACKSTOP_POLICY=policy.ini under_backstop "$BS_HELPERS/cap_clients" "$port" 50 byte)
	else
		out=$("$BS_HELPERS/cap_clients" "$port" 50 byte)
	fi
	wait "$srv"
	assert_eq "$out" "ok=50" "client results ($1 backstop)"
	cat "server$1.out"
}

assert_eq "$(run_clients with)" "max=5 total=50" "server under the cap"
assert_log_valid log.jsonl
waits=$(count_lines '"event":"cap.wait"' log.jsonl)
[ "$waits" -gt 0 ] || fail "no cap.wait line though 45 clients had to wait"
assert_eq "$(count_lines '"event":"cap.acquired"' log.jsonl)" "$waits" "every wait ends in cap.acquired"
assert_no_grep '"event":"cap.(timeout|reject)"' log.jsonl "no timeouts or rejects"

note "without backstop: $(run_clients without)"
