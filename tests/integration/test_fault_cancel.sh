#!/usr/bin/env bash
# Threads cancelled inside connect give back what they held (issue 10,
# defect 6; tests/helpers/fault_cancel.c): their cap slot, the timerfd of
# the backoff pause and the program's SO_SNDTIMEO. The slot used to stay
# taken for good (a later connect got cap.reject with in_use 1 and no
# connection open), and the timerfd leaked.
. "$BS_TOP/tests/integration/lib.sh"

ready=$(ready_fifo servers)
python3 -c 'import signal, socket, sys
up = socket.socket(); up.bind(("127.0.0.1", 0)); up.listen(8)
full = socket.socket(); full.bind(("127.0.0.1", 0)); full.listen(0)
fill = socket.create_connection(full.getsockname())  # backlog 0: the queue is full
open(sys.argv[1], "w").write("%d %d\n" % (up.getsockname()[1], full.getsockname()[1]))
signal.pause()' "$ready" &
read -r UP FULL < <(await_ready "$ready")
REFUSED=$(free_port)

# run NAME TARGET_PORT BASE: the helper with its log on a pipe it reads.
run() {
	local name=$1 target=$2 base=$3
	timeout 60 bash -c 'exec 3<>"$1"; exec 4<"$1"; shift
		exec env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG=fd:3 BACKSTOP_SEED=5 \
		BACKSTOP_CONNECT_MAX_CONNS=1 BACKSTOP_CONNECT_CAP_SCOPE=host BACKSTOP_CONNECT_ON_CAP=fail \
		BACKSTOP_CONNECT_BASE="$1" BACKSTOP_CONNECT_MAX_DELAY=10s BACKSTOP_CONNECT_JITTER=none BACKSTOP_CONNECT_ATTEMPT_TIMEOUT=300ms \
		BACKSTOP_CONNECT_DEADLINE=30s "$BS_HELPERS/fault_cancel" "$2" "$3"' \
		_ "$(ready_fifo "log-$name")" "$base" "$target" "$UP" >"$name.out" ||
		fail "$name: fault_cancel failed"
	cat "$name.out"
	read -r before after < <(sed -n 's/^fds_before=\([0-9]*\) fds_after=\([0-9]*\)$/\1 \2/p' "$name.out")
	assert_eq "$after" "$before" "$name: descriptors open after the cancellations"
	assert_eq "$(count_lines '^sndtimeo=0.000000$' "$name.out")" 3 "$name: SO_SNDTIMEO put back"
	assert_grep '^last connect rc=0 errno=0$' "$name.out" "$name: the slot after the cancellations"
}
# Cancelled in the 10 s pause after a refusal; cancelled in the attempt
# that follows at once (base = 0: no pause, so the cancellation lands in
# the attempt) on a listener whose queue is full (it never answers).
run pause "$REFUSED" 10s
run attempt "$FULL" 0

# Cancelled in a watched attempt (tests/helpers/fault_cancel_watch.c): the
# attempt's watchdog slot is disarmed on the way out, not at the thread's
# exit. Its socket's number, closed by the program's cleanup handler and
# reused by a connecting socket, used to be shut down by the watchdog at
# the cancelled attempt's end. In a namespace that drops SYNs: every
# connect there hangs until the watchdog ends it.
ns=$(netns_blackhole cancel 9)
timeout 60 ip netns exec "$ns" env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$BS_TMP/watch.jsonl" \
	BACKSTOP_CONNECT_ATTEMPTS=1 BACKSTOP_CONNECT_ATTEMPT_TIMEOUT=3s BACKSTOP_CONNECT_DEADLINE=30s \
	"$BS_HELPERS/fault_cancel_watch" 9 >watch.out || fail "fault_cancel_watch failed: $(cat watch.out)"
cat watch.out
assert_grep '^reused=[0-9]+ state=syn_sent sndtimeo=0\.000000$' watch.out \
	"the reused number's socket after the cancelled attempt's end"
assert_grep '^own connect errno=ETIMEDOUT$' watch.out "the later watched connect (bounded by the watchdog)"
