#!/usr/bin/env bash
# The backoff pause between attempts (issue 10, defects 1 and 2; and a
# double close in the program), with a python3 client against a refused
# port.
#  1. A delay of 0 (base = 0, or full jitter drawing 0 from base = 1ns) is
#     no pause: it used to arm the timerfd with a zero value, which disarms
#     it, and connect blocked forever, past its deadline.
#  2. A signal handler without SA_RESTART that ends a pause makes connect
#     return the last real error (ECONNREFUSED). It used to return EINTR, so
#     python (PEP 475) waited for a connection that was not in flight, read
#     SO_ERROR 0, and reported a refused connect as connected.
. "$BS_TOP/tests/integration/lib.sh"

PORT=$(free_port)
client='import socket, sys
s = socket.socket()
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
    print("connected")
except OSError as e:
    print("error", e.errno)'

# 1. Zero delays: five attempts, none of them separated by a pause.
for base in 0 1ns; do
	log="$BS_TMP/zero-$base.jsonl"
	out=$(timeout 30 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$log" BACKSTOP_SEED=7 \
		BACKSTOP_CONNECT_BASE=$base BACKSTOP_CONNECT_ATTEMPTS=5 BACKSTOP_CONNECT_DEADLINE=10s \
		python3 -c "$client" "$PORT") || fail "base = $base: connect hung (killed by timeout) or crashed"
	assert_eq "$out" "error 111" "base = $base: the refusal"
	assert_eq "$(count_lines '"event":"connect.retry"' "$log")" 4 "base = $base: connect.retry lines"
	assert_grep '"event":"connect.giveup".*"errno":"ECONNREFUSED".*"reason":"attempts"' "$log" "base = $base: give-up"
	assert_log_valid "$log"
done
# (With BACKSTOP_SEED=7, full jitter over 1ns draws 0 among the four
# delays: the 1ns run hung before the fix as well.)

# 2. SIGALRM (no SA_RESTART) 200 ms into the first 500 ms pause.
alarm='import signal, socket, sys
signal.signal(signal.SIGALRM, lambda *a: None)
signal.setitimer(signal.ITIMER_REAL, 0.2)
exec(sys.argv[2])'
log="$BS_TMP/alarm.jsonl"
out=$(timeout 30 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$log" \
	BACKSTOP_CONNECT_BASE=500ms BACKSTOP_CONNECT_JITTER=none BACKSTOP_CONNECT_DEADLINE=10s \
	python3 -c "$alarm" "$PORT" "$client") || fail "the interrupted client failed"
assert_eq "$out" "error 111" "an interrupted pause: what connect returned"
assert_eq "$(count_lines '"event":"connect.retry"' "$log")" 1 "connect.retry lines before the alarm"
assert_grep '"event":"connect.giveup".*"errno":"ECONNREFUSED".*"reason":"interrupted"' "$log" "give-up reason"
assert_log_valid "$log"

# 3. A double close in the program (tests/shims/libfault_pausefd.c): the
#    number of the pause's timerfd is closed once the timer is armed and
#    taken by a pipe nobody writes to. The pause read that number and
#    blocked for good, past the deadline (and closed the pipe after). Now
#    the pause holds no descriptor the program can close: the watchdog
#    ends it. The bound on the run only guards against that hang.
log="$BS_TMP/pausefd.jsonl"
out=$(timeout 30 env LD_PRELOAD="$BS_PRELOAD:$BS_HELPERS/libfault_pausefd.so" BACKSTOP_LOG="$log" \
	BACKSTOP_CONNECT_BASE=50ms BACKSTOP_CONNECT_ATTEMPTS=3 BACKSTOP_CONNECT_DEADLINE=10s \
	python3 -c "$client" "$PORT" 2>pausefd.err) || fail "a pause outlived its deadline: $(cat pausefd.err)"
assert_eq "$out" "error 111" "pauses next to a double close: what connect returned"
assert_eq "$(count_lines '"event":"connect.retry"' "$log")" 2 "pauses next to a double close: connect.retry lines"
assert_grep '"event":"connect.giveup".*"errno":"ECONNREFUSED".*"reason":"attempts"' "$log" \
	"pauses next to a double close: give-up"
assert_log_valid "$log"

# 4. The child of a raw clone system call (tests/helpers/fault_rawclone.c)
#    runs no fork handler: it inherited "the watchdog runs" without the
#    thread, and its first pause waited for a wake-up that never came.
#    Now a pause that only the watchdog could end checks that the watchdog
#    runs in this process. The bound on the run only guards the hang.
log="$BS_TMP/rawclone.jsonl"
out=$(timeout 30 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$log" \
	BACKSTOP_CONNECT_BASE=10ms BACKSTOP_CONNECT_ATTEMPTS=3 BACKSTOP_CONNECT_DEADLINE=10s \
	"$BS_HELPERS/fault_rawclone" "$PORT" 2>rawclone.err) ||
	fail "a pause in a raw clone child never ended: $(cat rawclone.err)"
assert_eq "$out" "parent=ECONNREFUSED child=ECONNREFUSED" "retries in a raw clone child"
assert_eq "$(count_lines '"event":"connect.giveup".*"reason":"attempts"' "$log")" 2 \
	"both processes retried to the attempt limit"
assert_log_valid "$log"
