# Sourced by the test_async_*.sh scripts (after lib.sh): a late server and
# the async_client helper, coordinated through ready fifos and the log.
RETRIES=3
POLICY=(BACKSTOP_CONNECT_ATTEMPTS=1000 BACKSTOP_CONNECT_BASE=20ms
	BACKSTOP_CONNECT_MAX_DELAY=200ms BACKSTOP_CONNECT_DEADLINE=60s BACKSTOP_SEED=7)
EXTRA=() # a case's own settings, after POLICY

# late_case MODE [ACCEPTS] [PRELOAD]: run tests/helpers/async_client MODE
# (under PRELOAD, default backstop; "" for none) against a late server
# that listens once RETRIES connect.retry lines came out (at once without
# backstop; never with LISTEN=no); prints the client's output. The log is
# $BS_TMP/MODE.jsonl.
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
	env "${POLICY[@]}" "${EXTRA[@]}" BACKSTOP_LOG=fd:3 LD_PRELOAD="$preload" \
		"$BS_HELPERS/async_client" "$mode" "$port" "$ready" 3>"$pipe" >"$BS_TMP/$mode.out" 2>&1 &
	local client=$!
	exec 5<"$pipe"
	await_ready "$ready" >/dev/null
	rm -f "$log"
	if [ -n "$preload" ] && [ "$RETRIES" -gt 0 ]; then
		"$BS_HELPERS/conn_logwait" "$log" '"event":"connect.retry"' "$RETRIES" <&5 ||
			fail "$mode: no $RETRIES connect.retry lines: $(cat "$log" "$BS_TMP/$mode.out")"
	fi
	[ "${LISTEN:-yes}" = no ] || echo listen >&6
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

