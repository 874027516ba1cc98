# Sourced by the test_async_*.sh scripts (after lib.sh): a late server and
# the async_client helper, coordinated through ready fifos and the log.
RETRIES=3
POLICY=(BACKSTOP_CONNECT_ATTEMPTS=1000 BACKSTOP_CONNECT_BASE=20ms
	BACKSTOP_CONNECT_MAX_DELAY=200ms BACKSTOP_CONNECT_DEADLINE=60s BACKSTOP_SEED=7)
EXTRA=() # a case's own settings, after POLICY

# late_run NAME ACCEPTS PRELOAD CMD...: run CMD (under PRELOAD: backstop's,
# or "" for none) against a late server that listens once RETRIES
# connect.retry lines came out (at once without backstop; never with
# LISTEN=no) and serves ACCEPTS connections; prints CMD's output. In CMD,
# the word PORT becomes the server's port and READY a fifo that CMD writes
# one line to once it has connected and waits (awaited when present). The
# log is $BS_TMP/NAME.jsonl. With UNIX=PATH the server is a unix socket at
# PATH (created when it starts listening), and PORT becomes PATH.
late_run() {
	local mode=$1 accepts=$2 preload=$3
	shift 3
	local name=$mode${preload:+-bs}
	local ctl="$BS_TMP/$name.ctl" log="$BS_TMP/$mode.jsonl" pipe="$BS_TMP/$name.pipe"
	local sready ready port arg cmd=() told=no
	sready=$(ready_fifo "$name-server")
	ready=$(ready_fifo "$name-client")
	mkfifo "$ctl" "$pipe"
	[ -z "${UNIX:-}" ] || rm -f "$UNIX" # a previous case's server left it
	"$BS_HELPERS/conn_late_server" -r "$sready" -c "$ctl" -n "$accepts" ${UNIX:+-u "$UNIX"} \
		>"$BS_TMP/$mode.server" &
	local server=$!
	port=$(await_ready "$sready")
	[ -z "${UNIX:-}" ] || port=$UNIX
	exec 6>"$ctl"
	for arg in "$@"; do
		case $arg in
		PORT) cmd+=("$port") ;;
		READY) cmd+=("$ready"); told=yes ;;
		*) cmd+=("$arg") ;;
		esac
	done
	env "${POLICY[@]}" "${EXTRA[@]}" BACKSTOP_LOG=fd:3 LD_PRELOAD="$preload" \
		"${cmd[@]}" 3>"$pipe" >"$BS_TMP/$mode.out" 2>&1 &
	local client=$!
	exec 5<"$pipe"
	[ "$told" = no ] || await_ready "$ready" >/dev/null
	rm -f "$log"
	if [ -n "$preload" ] && [ "$RETRIES" -gt 0 ]; then
		"$BS_HELPERS/conn_logwait" "$log" '"event":"connect.retry"' "$RETRIES" <&5 ||
			fail "$mode: no $RETRIES connect.retry lines: $(cat "$log" "$BS_TMP/$mode.out")"
	fi
	[ "${LISTEN:-yes}" = no ] || { [ -z "${UNIX:-}" ] || echo bind; echo listen; } >&6
	cat <&5 >>"$log" # until the client exits and the pipe closes
	exec 5<&-
	wait "$client" || true
	exec 6>&-
	kill "$server" 2>/dev/null || true
	wait "$server" 2>/dev/null || true
	# A forked child's exit-time leak check under ASan warns of every thread
	# the parent had at the fork (its registry is not told they are gone;
	# the watchdog is a pthread in sanitizer builds) and goes on: a warning
	# of the runtime, dropped here. A leak would still be reported and fail.
	if [[ ${BS_SANITIZE:-} == *address* ]]; then
		grep -Ev '^==[0-9]+==Running thread [0-9]+ was not suspended\. False leaks are possible\.$' \
			"$BS_TMP/$mode.out" || true
	else
		cat "$BS_TMP/$mode.out"
	fi
}

# late_case MODE [ACCEPTS] [PRELOAD]: late_run with tests/helpers/async_client.
late_case() {
	late_run "$1" "${2:-1}" "${3-$BS_PRELOAD}" "$BS_HELPERS/async_client" "$1" PORT READY
}
check_log() { # MODE RETRIES [OKS]
	local log="$BS_TMP/$1.jsonl" retries oks
	# assert_log_valid checks every line and prints the event's count.
	retries=$(assert_log_valid "$log" connect.retry fd dest rule mode attempt errno delay_ms)
	[ "$retries" -ge "$2" ] || fail "$1: $retries connect.retry lines, expected at least $2"
	oks=$(assert_log_valid "$log" connect.ok fd dest rule mode attempt elapsed_ms)
	assert_eq "$oks" "${3:-1}" "$1: connect.ok lines"
	assert_no_grep '"event":"connect.giveup"' "$log" "$1"
	assert_no_grep '"mode":"(sync|blocking)"' "$log" "$1: mode"
	assert_grep '"mode":"async"' "$log" "$1: mode"
}
