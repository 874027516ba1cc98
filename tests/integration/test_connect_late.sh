#!/usr/bin/env bash
# A server that starts only after the client has failed twice: python3's
# socket.create_connection, curl, nc and redis-cli each fail without
# backstop and succeed under it. Coordination: the backstop log goes to a
# pipe, and the server is started once two connect.retry lines came out.
. "$BS_TOP/tests/integration/lib.sh"

# Generous: the assertions never depend on how fast anything runs.
POLICY=(BACKSTOP_CONNECT_ATTEMPTS=30 BACKSTOP_CONNECT_BASE=200ms
	BACKSTOP_CONNECT_MAX_DELAY=1s BACKSTOP_CONNECT_DEADLINE=60s
	BACKSTOP_CONNECT_NONBLOCKING=sync BACKSTOP_SEED=7 BACKSTOP_LOG=fd:3)
RETRY_FIELDS=(fd dest rule attempt attempts errno delay_ms deadline_left_ms)

# run_late NAME START_CMD CLIENT...: run CLIENT under backstop, run
# START_CMD after its second connect.retry line, expect success.
run_late() {
	local name=$1 start=$2
	shift 2
	local pipe="$BS_TMP/$name.pipe" log="$BS_TMP/$name.jsonl"
	"$@" >"$BS_TMP/$name.plain" 2>&1 && fail "$name: succeeded without backstop"
	mkfifo "$pipe"
	env "${POLICY[@]}" LD_PRELOAD="$BS_PRELOAD" "$@" 3>"$pipe" >"$BS_TMP/$name.out" 2>&1 &
	local client=$!
	exec 5<"$pipe"
	"$BS_HELPERS/conn_logwait" "$log" '"event":"connect.retry"' 2 <&5 ||
		fail "$name: no two connect.retry lines: $(cat "$log" "$BS_TMP/$name.out")"
	$start
	cat <&5 >>"$log" # until the client exits and the pipe closes
	exec 5<&-
	wait "$client" || fail "$name: failed under backstop: $(cat "$BS_TMP/$name.out")"

	assert_log_valid "$log"
	local retries
	retries=$(assert_log_valid "$log" connect.retry "${RETRY_FIELDS[@]}") ||
		fail "$name: connect.retry lines lack fields"
	[ "$retries" -ge 2 ] || fail "$name: $retries retries logged"
	assert_eq "$(assert_log_valid "$log" connect.ok fd dest rule attempt elapsed_ms)" \
		1 "$name: connect.ok lines"
	assert_grep '"errno":"ECONNREFUSED"' "$log" "$name: retried error"
	assert_no_grep '"event":"connect.giveup"' "$log" "$name"
	note "$name: $retries retries, then success"
}

# A late loopback server: bound at once (so connects are refused), listening
# when told; it counts the connections it accepted.
late_server() { # NAME
	local ready ctl="$BS_TMP/$1.ctl"
	ready=$(ready_fifo "$1")
	mkfifo "$ctl"
	"$BS_HELPERS/conn_late_server" -r "$ready" -c "$ctl" >"$BS_TMP/$1.server" &
	SERVER=$!
	PORT=$(await_ready "$ready")
	exec 6>"$ctl" # held open: the server reads commands until told to listen
}
start_listening() { echo listen >&6; }
server_done() { # NAME
	exec 6>&-
	wait "$SERVER" || fail "$1: server failed"
	assert_eq "$(cat "$BS_TMP/$1.server")" "accepted 1" "$1: connections the server saw"
}

late_server python
run_late python start_listening python3 -c \
	"import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1]))).close()" "$PORT"
server_done python

if runs_under_sanitizer curl; then
	late_server curl
	run_late curl start_listening curl -sS --max-time 120 "http://127.0.0.1:$PORT/"
	server_done curl
	assert_eq "$(cat "$BS_TMP/curl.out")" ok "curl: response body"
fi

late_server nc
run_late nc start_listening nc -z 127.0.0.1 "$PORT"
server_done nc

REDIS_PORT=$(free_port)
start_redis() {
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$BS_TMP" >"$BS_TMP/redis.server" 2>&1 &
	REDIS=$!
}
run_late redis start_redis redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
assert_eq "$(cat "$BS_TMP/redis.out")" PONG "redis-cli reply"
kill "$REDIS"
wait "$REDIS" || true
