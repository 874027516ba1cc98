#!/usr/bin/env bash
# Log rotation by renaming (issue 10, defect 12): `mv log log.1; : > log`
# while a python3 client retries. Lines after the rotation used to go on
# into the renamed file for good; now the sink notices (it looks at its
# path at most once a second, on a line) and reopens the path. The client
# pauses 3 s between its two attempts (backoff, no jitter): the rotation
# happens inside that pause, so the next line is due for the check.
. "$BS_TOP/tests/integration/lib.sh"

PORT=$(free_port) log="$BS_TMP/log.jsonl"
env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$log" BACKSTOP_CONNECT_ATTEMPTS=2 \
	BACKSTOP_CONNECT_BASE=3s BACKSTOP_CONNECT_JITTER=none BACKSTOP_CONNECT_MAX_DELAY=3s \
	python3 -c 'import socket, sys
try: socket.create_connection(("127.0.0.1", int(sys.argv[1])))
except OSError as e: print("error", e.errno)' "$PORT" >out.txt &
client=$!
timeout 30 bash -c 'until grep -q "\"event\":\"connect.retry\"" "$1" 2>/dev/null; do :; done' _ "$log" ||
	fail "no connect.retry line"
mv "$log" "$log.1"
: >"$log"
timeout 60 tail --pid=$client -f /dev/null || fail "the client hangs"
wait $client
assert_eq "$(cat out.txt)" "error 111" "the client's connect"
assert_grep '"event":"connect.retry"' "$log.1" "the line before the rotation"
assert_no_grep '"event":"connect.giveup"' "$log.1" "a line after the rotation in the old file"
assert_grep '"event":"connect.giveup".*"reason":"attempts"' "$log" "the line after the rotation"
assert_log_valid "$log"
assert_log_valid "$log.1"

# copytruncate keeps working: the sink appends, so after truncation the
# next line starts at offset 0.
: >"$log"
env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$log" BACKSTOP_CONNECT_ATTEMPTS=1 \
	python3 -c 'import socket, sys
try: socket.create_connection(("127.0.0.1", int(sys.argv[1])))
except OSError: pass' "$PORT"
assert_eq "$(head -c1 "$log")" "{" "a line at the start of the truncated file"
