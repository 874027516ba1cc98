#!/usr/bin/env bash
# A SIGALRM every millisecond (POSIX timer, SA_RESTART handler) during a
# connect that backstop retries and a retry sleep after it
# (tests/helpers/fault_sigalrm.c). A plain connect would be restarted by the
# kernel after each handler; under backstop the retries go on too: the
# program sees the refusal's errno after all attempts, never EINTR, the log
# says why, and no signal is lost (handler runs + kernel-reported overruns
# = timer expirations, within the one in flight at each end).
. "$BS_TOP/tests/integration/lib.sh"

PORT=$(free_port) log="$BS_TMP/log.jsonl"
timeout 120 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$log" \
	BACKSTOP_CONNECT_ATTEMPTS=6 BACKSTOP_CONNECT_BASE=20ms BACKSTOP_CONNECT_FACTOR=1 \
	BACKSTOP_CONNECT_JITTER=none BACKSTOP_CONNECT_DEADLINE=30s \
	BACKSTOP_SLEEP_MODE=retry BACKSTOP_SLEEP_JITTER=none \
	"$BS_HELPERS/fault_sigalrm" "127.0.0.1:$PORT" >out.txt || fail "fault_sigalrm failed"
cat out.txt

assert_grep '^connect rc=-1 errno=ECONNREFUSED$' out.txt "connect's errno after the retries"
assert_grep '^sleep rc=0$' out.txt "the resumed sleep"
assert_eq "$(count_lines '"event":"connect.retry"' "$log")" 5 "connect.retry lines"
assert_grep '"event":"connect.giveup".*"errno":"ECONNREFUSED".*"reason":"attempts"' "$log" "give-up reason"
assert_no_grep 'EINTR' "$log" "an EINTR in the log"
read -r expirations handled < <(sed -n 's/^expirations=\([0-9]*\) handled=\([0-9]*\)$/\1 \2/p' out.txt)
[ "$expirations" -ge 100 ] || fail "the storm was too short to mean anything ($expirations ticks)"
[ $((handled - expirations)) -ge -2 ] && [ $((handled - expirations)) -le 2 ] ||
	fail "signals lost or invented: $expirations timer expirations, $handled handled"
assert_log_valid "$log"

# The same storm while every attempt blocks until its attempt_timeout (a
# listener whose accept queue is full drops the SYNs), in a program with a
# crash handler installed without SA_RESTART: a fault signal never
# interrupts connect, so it must not turn the SA_RESTART storm into EINTR
# (it did, under ASan's own SIGSEGV handler). Each attempt ends ETIMEDOUT.
ready=$(ready_fifo full)
python3 -c 'import signal, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
fill = socket.create_connection(s.getsockname())  # backlog 0: one fills the queue
open(sys.argv[1], "w").write("%d\n" % s.getsockname()[1])
signal.pause()' "$ready" &
FULL=$(await_ready "$ready") log2="$BS_TMP/crash.jsonl"
timeout 120 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$log2" \
	BACKSTOP_CONNECT_ATTEMPTS=3 BACKSTOP_CONNECT_ATTEMPT_TIMEOUT=50ms BACKSTOP_CONNECT_BASE=5ms \
	BACKSTOP_CONNECT_JITTER=none BACKSTOP_CONNECT_DEADLINE=30s \
	"$BS_HELPERS/fault_sigalrm" "127.0.0.1:$FULL" crash-handler >out2.txt || fail "fault_sigalrm crash-handler failed"
cat out2.txt
assert_grep '^connect rc=-1 errno=ETIMEDOUT$' out2.txt "connect's errno with a crash handler installed"
assert_eq "$(count_lines '"event":"connect.retry".*"errno":"ETIMEDOUT"' "$log2")" 2 "connect.retry lines (ETIMEDOUT)"
assert_grep '"event":"connect.giveup".*"errno":"ETIMEDOUT".*"reason":"attempts"' "$log2" "give-up reason"
assert_log_valid "$log2"
