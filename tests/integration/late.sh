# Sourced by the test_late_*.sh scripts, after lib.sh: real, unmodified
# programs started before their server, under the built-in default policy
# (no policy file, no BACKSTOP_* variable but the log).
#
# The order is proven, never slept for: a client runs under the preload
# with its log going to a FIFO, and its server is started only once that
# log shows LATE_RETRIES connect.retry lines: the client has been refused
# that many times and is still retrying. 5 is one more than the old
# default (5 attempts, 4 retries, about 1.25 s of backoff on average) ever
# made, so each test shows a server later than that default could wait.
# Every process of the client (git's remote helper, the JVM's re-exec)
# opens the FIFO by its path, so the log is whole.

# The built-in default: nothing from the runner's environment.
unset $(compgen -e | grep '^BACKSTOP_') || true
LATE_RETRIES=5
# How the retries are made (the log's mode field): the default for a
# nonblocking connect is async; blocking clients set LATE_MODE=blocking.
LATE_MODE=async

# late_fails_without NAME CMD...: without backstop CMD fails (its server is
# not up yet). This is what makes each late test able to fail.
late_fails_without() {
	local name=$1
	shift
	if "$@" >"$BS_TMP/$name.plain" 2>&1; then
		fail "$name: succeeded without backstop and without its server"
	fi
}

# late_start NAME CMD...: start CMD in the background under the preload,
# its log going through a FIFO to $BS_TMP/NAME.jsonl (read on with
# late_await), its output to $BS_TMP/NAME.out and NAME.err. Sets LATE_PID.
# Until late_release, the test holds a write end of the FIFO: a reader must
# exist when backstop opens it, and the reader must not see end-of-file
# before the client opened it.
late_start() {
	local name=$1
	shift
	local fifo="$BS_TMP/$name.fifo"
	mkfifo "$fifo"
	exec {LATE_HOLD}<>"$fifo"
	exec {LATE_FD}<"$fifo"
	BACKSTOP_LOG="$fifo" LD_PRELOAD="$BS_PRELOAD" "$@" \
		>"$BS_TMP/$name.out" 2>"$BS_TMP/$name.err" &
	LATE_PID=$!
}
late_release() { exec {LATE_HOLD}>&-; }

# late_client NAME CMD...: late_start, and return once the client's log
# shows LATE_RETRIES connect.retry lines.
late_client() {
	late_start "$@"
	late_await "$1" '"event":"connect.retry"' "$LATE_RETRIES"
	late_release
}

# late_await NAME TEXT [COUNT]: read the client's log on until COUNT
# (default 1) more lines containing TEXT came through (a guard of 60 s only
# against a hang).
late_await() {
	timeout 60 "$BS_HELPERS/conn_logwait" "$BS_TMP/$1.jsonl" "$2" "${3:-1}" <&$LATE_FD ||
		fail "$1: no log line with $2: $(cat "$BS_TMP/$1.err" "$BS_TMP/$1.jsonl")"
}

# late_finish NAME: wait for the client (every writer of its log) to end,
# and check it succeeded the way a restart-surviving default should: it
# retried in LATE_MODE, connected, and gave up nowhere.
late_finish() {
	local name=$1 log="$BS_TMP/$1.jsonl" rc=0
	timeout 120 cat <&$LATE_FD >>"$log" || fail "$name: still running after 120 s"
	exec {LATE_FD}<&-
	wait "$LATE_PID" || rc=$?
	[ "$rc" -eq 0 ] || fail "$name: exit status $rc under backstop: $(cat "$BS_TMP/$name.err" "$log")"
	assert_log_valid "$log"
	assert_grep '"event":"connect.ok"' "$log" "$name: connect.ok after the retries"
	assert_no_grep '"event":"connect.giveup"' "$log" "$name: no connect gave up"
	local retries
	retries=$(count_lines '"event":"connect.retry"' "$log")
	assert_eq "$(count_lines "\"event\":\"connect\\.retry\".*\"mode\":\"$LATE_MODE\"" "$log")" \
		"$retries" "$name: connect.retry lines with mode $LATE_MODE"
	note "$name: $retries retries ($LATE_MODE), then success"
}

# late_listener NAME [ACCEPTS]: a loopback port that refuses until told
# (tests/helpers/conn_late_server: bound at once, so no other process can
# take the port; each accepted connection gets a tiny HTTP/1.0 reply).
# Sets PORT; `late_listen NAME` makes it listen.
late_listener() {
	local ready ctl="$BS_TMP/$1.ctl" fd
	ready=$(ready_fifo "$1.server")
	mkfifo "$ctl"
	"$BS_HELPERS/conn_late_server" -r "$ready" -c "$ctl" -n "${2:-1}" >"$BS_TMP/$1.server" &
	PORT=$(await_ready "$ready")
	exec {fd}>"$ctl" # held open: the server waits for its command
	eval "LATE_CTL_$1=$fd"
}
late_listen() {
	local var="LATE_CTL_$1"
	local fd=${!var}
	echo listen >&"$fd"
	exec {fd}>&-
}
