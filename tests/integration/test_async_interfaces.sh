#!/usr/bin/env bash
# nonblocking = async, through every interface a program may use to learn
# the outcome of its nonblocking connect: the client connects while the
# server is down (refused) and says so on a ready fifo; under backstop the
# server is started only once the log (a pipe) shows RETRIES hidden
# retries. The client then sees one slow connect that succeeds; without
# backstop, the refusal. Each case also checks the log: the retries, one
# connect.ok, all with mode async.
. "$BS_TOP/tests/integration/lib.sh"

RETRIES=3
POLICY=(BACKSTOP_CONNECT_ATTEMPTS=1000 BACKSTOP_CONNECT_BASE=20ms
	BACKSTOP_CONNECT_MAX_DELAY=200ms BACKSTOP_CONNECT_DEADLINE=60s BACKSTOP_SEED=7)

# late_case MODE [ACCEPTS] [PRELOAD]: prints the client's output.
late_case() {
	local mode=$1 accepts=${2:-1} preload=${3-$BS_PRELOAD}
	local name=$mode${preload:+-bs}
	local ready ctl="$BS_TMP/$name.ctl" sready log="$BS_TMP/$mode.jsonl" pipe="$BS_TMP/$name.pipe"
	sready=$(ready_fifo "$name-server")
	mkfifo "$ctl" "$pipe"
	"$BS_HELPERS/conn_late_server" -r "$sready" -c "$ctl" -n "$accepts" >"$BS_TMP/$mode.server" &
	local server=$!
	local port
	port=$(await_ready "$sready")
	exec 6>"$ctl"
	ready=$(ready_fifo "$name-client")
	env "${POLICY[@]}" BACKSTOP_LOG=fd:3 LD_PRELOAD="$preload" \
		"$BS_HELPERS/async_client" "$mode" "$port" "$ready" 3>"$pipe" >"$BS_TMP/$mode.out" 2>&1 &
	local client=$!
	exec 5<"$pipe"
	await_ready "$ready" >/dev/null
	rm -f "$log"
	if [ -n "$preload" ]; then
		"$BS_HELPERS/conn_logwait" "$log" '"event":"connect.retry"' "$RETRIES" <&5 ||
			fail "$mode: no $RETRIES connect.retry lines: $(cat "$log" "$BS_TMP/$mode.out")"
	fi
	echo listen >&6
	cat <&5 >>"$log" # until the client exits and the pipe closes
	exec 5<&-
	wait "$client" || true
	exec 6>&-
	kill "$server" 2>/dev/null || true
	wait "$server" 2>/dev/null || true
	cat "$BS_TMP/$mode.out"
}

check_log() { # MODE RETRIES [OKS]
	local log="$BS_TMP/$1.jsonl"
	assert_log_valid "$log"
	local retries
	retries=$("$BS_HELPERS/conn_logcheck" "$log" connect.retry fd dest rule mode attempt errno delay_ms)
	[ "$retries" -ge "$2" ] || fail "$1: $retries connect.retry lines, expected at least $2"
	assert_eq "$("$BS_HELPERS/conn_logcheck" "$log" connect.ok fd dest rule mode attempt elapsed_ms)" \
		"${3:-1}" "$1: connect.ok lines"
	assert_no_grep '"event":"connect.giveup"' "$log" "$1"
	assert_no_grep '"mode":"(sync|blocking)"' "$log" "$1: mode"
	assert_grep '"mode":"async"' "$log" "$1: mode"
}

for mode in poll ppoll select pselect epoll_wait epoll_pwait epoll_pwait2 oneshot et \
	nested two_sets soerror reconnect fork forkexit; do
	out=$(late_case "$mode" 1 "")
	assert_grep '^(error|connect)=ECONNREFUSED$' <(echo "$out") "$mode without backstop"
	out=$(late_case "$mode")
	assert_eq "$out" "connected HTTP/1.0 200 OK" "$mode under backstop"
	check_log "$mode" "$RETRIES"
	note "$mode: $(count_lines connect.retry "$BS_TMP/$mode.jsonl") hidden retries, then connected"
done

out=$(late_case threads 4)
assert_eq "$out" "$(printf 'connected HTTP/1.0 200 OK\n%.0s' 1 2 3 4)" "threads under backstop"
check_log threads "$RETRIES" 4
