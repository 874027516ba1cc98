#!/usr/bin/env bash
# Machine-wide caps (share = machine, max_conns = 16) at the issue's size:
#  1. 64 processes x 8 threads of cap_clients against cap_server, which
#     counts concurrent connections: never more than 16 across all of
#     them, all 512 served, none waited past its deadline (cap_wait); the
#     same with share = process lets the processes exceed it together
#     (the control);
#  2. 64 processes x 8 threads connect in a loop while cap_killer SIGKILLs
#     1000 of them at moments picked by a seeded generator among their
#     reports ("waiting" before a connect, "holding" after it) and
#     replaces them: the server never sees more than 16, no connect
#     outlives its deadline, and a final process gets all 16 slots at
#     once with on_cap = fail;
#  3. the same with python3 as the program (12 processes x 4 threads, 200
#     kills; 20 under a sanitizer runtime, where each python3 takes about
#     half a second to start: part 2 covers the library there), then the
#     final check again.
. "$BS_TOP/tests/integration/lib.sh"

CAP=16 PROCS=64 THREADS=8 KILLS=1000 PY_KILLS=200
[ -z "${BS_SANITIZE:-}" ] || PY_KILLS=20
SEED=${CAP_KILL_SEED:-13}
CAP_WAIT_S=10 LATE_MS=15000 # a connect returning later than this outlived its deadline

policy() { # SHARE ON_CAP LOG
	cat >"$BS_TMP/policy.ini" <<P
[global]
log = $3
state = $BS_TMP/state
[dest "capped"]
match = 127.0.0.1/32
max_conns = $CAP
cap_scope = host
on_cap = $2
cap_wait = ${CAP_WAIT_S}s
deadline = 120s
share = $1
P
}

server() { # EXPECTED RELEASE_AT OUT: starts cap_server, sets PORT and SERVER
	local ready
	ready=$(ready_fifo "server-$3")
	"$BS_HELPERS/cap_server" "$ready" "$1" "$2" >"$3" &
	SERVER=$!
	PORT=$(await_ready "$ready")
}

server_max() { # OUT
	sed -n 's/^max=\([0-9]*\) .*/\1/p' "$1"
}

herd() { # SHARE
	policy "$1" wait "$BS_TMP/$1.jsonl"
	server $((PROCS * THREADS)) $CAP "$1.server"
	local pids=() i
	for ((i = 0; i < PROCS; i++)); do
		BACKSTOP_POLICY="$BS_TMP/policy.ini" under_backstop timeout 120 \
			"$BS_HELPERS/cap_clients" "$PORT" $THREADS byte >"$1.clients.$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || fail "$1: a client process failed"; done
	wait "$SERVER"
	assert_eq "$(sort -u "$1".clients.*)" "ok=$THREADS" "$1: every thread connected"
}

# Nothing leaked: one process takes all the slots at once, without waiting
# (cap_scope = host: the same count whatever port each server got).
final_check() { # AFTER
	policy machine fail "$BS_TMP/final.jsonl"
	server 0 0 final.server
	out=$(BACKSTOP_POLICY="$BS_TMP/policy.ini" under_backstop timeout 60 \
		"$BS_HELPERS/cap_clients" "$PORT" $CAP hold)
	kill -TERM "$SERVER"
	wait "$SERVER"
	assert_eq "$out" "ok=$CAP" "all $CAP slots at once after $1"
	# all connected (at once, client-side: each held its slot until every
	# one had tried); the server may accept some after others closed
	assert_grep "^max=[0-9]+ total=$CAP\$" final.server "the final check's connections"
}

# 1. The cap across processes.
herd process
note "share = process: $(cat process.server); at ${SECONDS}s"
[ "$(server_max process.server)" -gt $CAP ] ||
	fail "control: the processes did not exceed $CAP together without share = machine"
herd machine
assert_eq "$(cat machine.server)" "max=$CAP total=$((PROCS * THREADS))" "share = machine: the server's count"
assert_log_valid machine.jsonl
waits=$(count_lines '"event":"cap.wait".*"share":"machine"' machine.jsonl)
assert_eq "$(count_lines '"event":"cap.acquired".*"share":"machine"' machine.jsonl)" "$waits" \
	"every wait ends in cap.acquired"
assert_no_grep '"event":"cap.timeout"' machine.jsonl "a wait timed out"
longest=$(sed -n 's/.*"event":"cap.acquired".*"waited_ms":\([0-9.]*\).*/\1/p' machine.jsonl |
	sort -g | tail -1)
note "share = machine: $waits waits, the longest ${longest:-0} ms; at ${SECONDS}s"
awk -v l="${longest:-0}" -v w=$((CAP_WAIT_S * 1000)) 'BEGIN { exit !(l < w) }' ||
	fail "a wait of $longest ms outlived cap_wait"
"$BS_CLI" state -p "$BS_TMP/policy.ini" >state.txt
assert_grep "^  capped +127\.0\.0\.1:[0-9]+ +0 +$CAP +0\$" state.txt "backstop state: caps all free"
"$BS_CLI" state -p "$BS_TMP/policy.ini" --prometheus >metrics.prom
assert_grep "^backstop_cap_max_conns\{rule=\"capped\",dest=\"127\.0\.0\.1:[0-9]+\"\} $CAP\$" metrics.prom "cap metric"
promtool check metrics <metrics.prom || fail "promtool rejects backstop state --prometheus"

# 2. SIGKILL at chosen moments, holding and waiting.
kill_loop() { # NAME KILLS PROCS CMD... (after `server 0 $CAP NAME.server`)
	local name=$1 kills=$2 procs=$3
	shift 3
	BACKSTOP_POLICY="$BS_TMP/policy.ini" timeout 600 "$BS_HELPERS/cap_killer" \
		"$SEED" "$kills" "$procs" -- env LD_PRELOAD="$BS_PRELOAD" "$@" >"$name.kills" ||
		fail "$name: cap_killer failed (seed $SEED)"
	kill -TERM "$SERVER"
	wait "$SERVER"
	note "$name (seed $SEED): $(cat "$name.kills"); server: $(cat "$name.server"); at ${SECONDS}s"
	[ "$(server_max "$name.server")" -le $CAP ] ||
		fail "$name: the server saw $(server_max "$name.server") connections at once"
	grep -q "^kills=$kills holding=[1-9][0-9]* waiting=[1-9][0-9]* late=0\$" "$name.kills" ||
		fail "$name: $(cat "$name.kills")"
}
policy machine wait off
server 0 $CAP c.server
kill_loop c $KILLS $PROCS "$BS_HELPERS/cap_clients" "$PORT" $THREADS loop $LATE_MS
final_check "$KILLS kills"

# 3. A real program: python3 threads reporting the same steps on fd 3.
policy machine wait off
server 0 $CAP python.server
kill_loop python $PY_KILLS 12 python3 -c '
import os, socket, sys, threading, time
port, late = int(sys.argv[1]), int(sys.argv[2]) / 1000
def report(what):
    os.write(3, b"%c %d\n" % (what, os.getpid()))
def loop():
    while True:
        report(ord("w"))
        t0 = time.monotonic()
        try:
            s = socket.create_connection(("127.0.0.1", port))
        except OSError:
            s = None
        if time.monotonic() - t0 > late:
            report(ord("L"))
        if s is None:
            continue
        report(ord("h"))
        s.recv(1)
        s.close()
for _ in range(4):
    threading.Thread(target=loop, daemon=True).start()
threading.Event().wait()
' "$PORT" $LATE_MS
final_check "$PY_KILLS kills of python3"
