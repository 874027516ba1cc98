#!/usr/bin/env bash
# Cap slots across fork and vfork (issue 10, defects 7 and 8, and the fork
# discipline).
#  7. A child forked while another thread was inside connect inherited
#     that connect's slot, which nothing in the child ever gave back.
#     Now the child's counts are rebuilt from the descriptors it has.
#  -  Every lock is taken before fork and released after it (a child used
#     to get a fresh lock over a table another thread was half-way through
#     changing): a thread churns capped connects during 150 forks, and each
#     child must find exactly its own slots (tests/helpers/fault_fork.c).
#  8. A vfork child shares the parent's memory: closing inherited
#     descriptors there (python's subprocess does, with close_range, after
#     vfork) released the parent's slots, and the cap was bypassed.
. "$BS_TOP/tests/integration/lib.sh"

# fork_helper MODE ARG CAP: fault_fork with its log on a pipe it reads.
fork_helper() {
	timeout 120 bash -c 'exec 3<>"$1"; exec 4<"$1"; shift
		exec env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG=fd:3 BACKSTOP_SEED=9 \
		BACKSTOP_CONNECT_MAX_CONNS="$3" BACKSTOP_CONNECT_CAP_SCOPE=host BACKSTOP_CONNECT_ON_CAP=fail \
		BACKSTOP_CONNECT_BASE=10s BACKSTOP_CONNECT_MAX_DELAY=10s BACKSTOP_CONNECT_JITTER=none \
		BACKSTOP_CONNECT_DEADLINE=30s "$BS_HELPERS/fault_fork" "$1" "$2"' \
		_ "$(ready_fifo "log-$1")" "$1" "$2" "$3"
}

out=$(fork_helper inflight "$(free_port)" 1) || fail "inflight: $out"
assert_eq "$out" "ok" "a fork while a thread backs off holding the only slot"
out=$(fork_helper churn 150 2) || fail "churn: $out"
assert_eq "$out" "ok" "150 forks while a thread churns capped connects"

# 8. python3: a connection holds the only slot; subprocess.run (vfork, then
# close_range in the child) must leave it held: the next connect is refused
# by the cap (EAGAIN) until the first is closed.
ready=$(ready_fifo server)
python3 -c 'import signal, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1], "w").write("%d\n" % s.getsockname()[1])
signal.pause()' "$ready" &
PORT=$(await_ready "$ready") log="$BS_TMP/vfork.jsonl"
out=$(timeout 60 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$log" \
	BACKSTOP_CONNECT_MAX_CONNS=1 BACKSTOP_CONNECT_ON_CAP=fail python3 -c 'import socket, subprocess, sys
port = int(sys.argv[1])
def second():
    try: socket.create_connection(("127.0.0.1", port)).close(); return "connected"
    except OSError as e: return "errno %d" % e.errno
first = socket.create_connection(("127.0.0.1", port))
subprocess.run(["true"], check=True)
print("while held:", second())
first.close()
print("after close:", second())' "$PORT") || fail "the python client failed"
printf '%s\n' "$out"
assert_eq "$out" "while held: errno 11
after close: connected" "the cap after a vfork child closed its descriptors"
assert_eq "$(count_lines '"event":"cap.reject"' "$log")" 1 "cap.reject lines"
