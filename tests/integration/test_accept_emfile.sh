#!/usr/bin/env bash
# Descriptor exhaustion: an event loop (tests/helpers/acc_spin.c) under
# `ulimit -n 64` keeps every connection of an 80-connection client open and
# runs out of descriptors. Without backstop its accept loop spins; with
# on_fd_exhaustion = backoff the failed accept calls drop by orders of
# magnitude, each one logged as accept.backoff, and it recovers once it
# frees its descriptors. The rate is measured against a reference thread in
# the same process that counts 300 one-millisecond sleeps from the first
# EMFILE on: counts only, no wall-clock assertion.
. "$BS_TOP/tests/integration/lib.sh"

TOTAL=80 TICKS=300

# spin LABEL [PRELOAD-ENV...]: prints the helper's "failed F ticks T accepted A recovered R"
spin() {
	local label=$1; shift
	local ready
	ready=$(ready_fifo "$label")
	(ulimit -n 64; exec timeout 120 env "$@" "$BS_HELPERS/acc_spin" "$ready" $TOTAL $TICKS) \
		>"$BS_TMP/$label.out" 2>"$BS_TMP/$label.err" &
	local pid=$! port
	port=$(await_ready "$ready")
	python3 -c 'import signal, socket, sys
held = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(int(sys.argv[2]))]
signal.pause()' "$port" $TOTAL >/dev/null 2>&1 &
	local holder=$! rc=0
	wait "$pid" || rc=$?
	kill "$holder"
	[ $rc -eq 0 ] || { cat "$BS_TMP/$label.err" >&2; fail "$label: server exited $rc"; }
	cat "$BS_TMP/$label.out"
}

field() { # NAME LINE
	set -- "$1" $2
	local name=$1; shift
	while [ $# -ge 2 ]; do [ "$1" = "$name" ] && { echo "$2"; return; }; shift 2; done
	fail "no field $name"
}

plain=$(spin plain X=1)
note "without backstop: $plain"
log="$BS_TMP/backstop.log"
managed=$(spin backstop LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$log" BACKSTOP_SEED=11 \
	BACKSTOP_ACCEPT_ON_FD_EXHAUSTION=backoff BACKSTOP_ACCEPT_BASE=10ms BACKSTOP_ACCEPT_MAX_DELAY=1s)
note "with backstop:    $managed"

for run in "$plain" "$managed"; do
	assert_eq "$(field ticks "$run")" $TICKS "reference ticks"
	assert_eq "$(field accepted "$run")" $TOTAL "connections accepted in the end"
	[ "$(field recovered "$run")" -gt 0 ] || fail "no recovery after freeing descriptors: $run"
done
p=$(field failed "$plain") m=$(field failed "$managed")
# A spinning loop makes hundreds of calls per tick; backoff makes a few
# calls in all (delays 10 ms, 20 ms, ... up to 1 s).
[ "$p" -ge $((10 * TICKS)) ] || fail "without backstop the loop should spin: $p failed calls in $TICKS ticks"
[ "$m" -le $((TICKS / 10)) ] || fail "with backstop: $m failed calls in $TICKS ticks"
[ "$p" -ge $((100 * m)) ] || fail "expected a drop by two orders of magnitude: $p vs $m"
# Every failed call slept once, and said so; nothing after the recovery.
assert_eq "$(count_lines '"event":"accept.backoff"' "$log")" "$m" "accept.backoff lines"
assert_eq "$(count_lines '"event":"accept.backoff".*"errno":"EMFILE".*"delay_ms"' "$log")" "$m" "accept.backoff fields"
assert_log_valid "$log"
