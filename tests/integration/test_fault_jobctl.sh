#!/usr/bin/env bash
# Signals during a blocking attempt (issue 10, defects 11 and 14). A
# python3 client with a SIGTERM handler (installed without SA_RESTART, as
# python does) waits in connect on a listener whose queue is full.
# 11. It is stopped and continued (SIGSTOP, SIGCONT: ^Z then fg). No
#     handler ran, so a plain connect simply goes on; under backstop the
#     attempt's SO_SNDTIMEO made it end with EINTR (logged not_retryable).
#     Now it goes on too, and connects once the queue drains.
# 14. SIGTERM: its handler runs, connect returns EINTR as a plain one
#     would (python then waits for the connection), and the give-up says
#     interrupted, not not_retryable.
. "$BS_TOP/tests/integration/lib.sh"

# phase NAME SIGNAL...: the client, blocked in connect, gets the signals
# in turn (each delivered once it is stopped, when it was SIGSTOP), then
# the listener's queue drains; the client must connect.
phase() {
	local name=$1; shift
	local ready drain port client
	ready=$(ready_fifo "server-$name") drain=$(ready_fifo "drain-$name")
	python3 -c 'import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
fill = socket.create_connection(s.getsockname())  # backlog 0: the queue is full
open(sys.argv[1], "w").write("%d\n" % s.getsockname()[1])
open(sys.argv[2]).read()                           # until told to drain
s.accept()[0].close(); fill.close()
s.accept()[0].close()' "$ready" "$drain" &
	port=$(await_ready "$ready")
	env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$BS_TMP/$name.jsonl" \
		BACKSTOP_CONNECT_ATTEMPT_TIMEOUT=60s BACKSTOP_CONNECT_DEADLINE=90s python3 -c 'import signal, socket, sys
signal.signal(signal.SIGTERM, lambda *a: None)
s = socket.socket()
s.connect(("127.0.0.1", int(sys.argv[1])))
print("connected")' "$port" >"$name.out" &
	client=$!
	# In connect (system call 42) before any signal.
	timeout 30 bash -c 'until [ "$(cut -d" " -f1 /proc/$1/syscall 2>/dev/null)" = 42 ]; do :; done' _ $client ||
		fail "$name: the client never reached connect"
	for sig in "$@"; do
		kill -"$sig" $client
		[ "$sig" = STOP ] || continue
		timeout 30 bash -c 'until [ "$(cut -d" " -f3 /proc/$1/stat)" = T ]; do :; done' _ $client ||
			fail "$name: the client did not stop"
	done
	echo drain >"$drain"
	wait $client || fail "$name: the client failed"
	assert_eq "$(cat "$name.out")" "connected" "$name: the client's connect"
	assert_log_valid "$BS_TMP/$name.jsonl"
}

phase jobctl STOP CONT
assert_no_grep '"event":"connect.giveup"' "$BS_TMP/jobctl.jsonl" "jobctl: a give-up after the stop"
assert_no_grep 'EINTR' "$BS_TMP/jobctl.jsonl" "jobctl: an EINTR"

phase handler TERM
assert_grep '"event":"connect.giveup".*"errno":"EINTR","reason":"interrupted"' "$BS_TMP/handler.jsonl" \
	"handler: the give-up's reason"
