#!/usr/bin/env bash
# The watchdog that bounds a blocking TCP attempt (docs/connect.md,
# "Bounding a blocking attempt"), with python3 as the program:
#  1. an attempt it aborts leaves the descriptor reusable: the next attempt
#     on the same socket connects and carries data both ways, and the
#     program's own SO_SNDTIMEO is what it set;
#  2. a forked child starts its own watchdog: its blocking connect to a
#     destination that never answers ends by attempt_timeout (without one
#     it would wait for TCP's own give-up, minutes);
#  3. the thread is out of the program's way: named backstop-watch, every
#     signal blocked, so a process-directed signal reaches the program.
# A listener whose accept queue is full (backlog 0, one connection queued)
# drops SYNs: an attempt to it stays in SYN_SENT until aborted.
. "$BS_TOP/tests/integration/lib.sh"

policy=(BACKSTOP_CONNECT_ATTEMPT_TIMEOUT=200ms BACKSTOP_CONNECT_BASE=20ms
	BACKSTOP_CONNECT_MAX_DELAY=50ms BACKSTOP_CONNECT_ATTEMPTS=100 BACKSTOP_CONNECT_DEADLINE=60s)

# --- 1. reuse after an abort --------------------------------------------
ready=$(ready_fifo full) go="$BS_TMP/go"
mkfifo "$go"
python3 - "$ready" "$go" <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
fill = socket.create_connection(s.getsockname())   # the queue is now full
open(sys.argv[1], "w").write("%d\n" % s.getsockname()[1])
open(sys.argv[2]).readline()                       # the client timed out once
s.accept()                                         # room again: the filler
conn, _ = s.accept()                               # the client's retry
conn.sendall(conn.recv(64).upper())
PY
PORT=$(await_ready "$ready")
pipe="$BS_TMP/log.pipe" log="$BS_TMP/log.jsonl"
mkfifo "$pipe"
timeout 60 env "${policy[@]}" BACKSTOP_LOG=fd:3 LD_PRELOAD="$BS_PRELOAD" python3 - "$PORT" \
	3>"$pipe" >client.out <<'PY' &
import socket, struct, sys
c = socket.socket()
c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 30, 250000))
before = c.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, 16)  # as the kernel rounded it
fd = c.fileno()
c.connect(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"ping")
reply = c.recv(64).decode()
after = c.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, 16)
print("reply=%s same_fd=%s sndtimeo_kept=%s" % (reply, fd == c.fileno(), before == after))
PY
client=$!
exec 5<"$pipe"
"$BS_HELPERS/conn_logwait" "$log" '"event":"connect.retry"' 1 <&5 || fail "no retry logged"
echo go >"$go"
cat <&5 >>"$log"
wait "$client" || fail "the client failed: $(cat client.out) $(cat "$log")"
assert_grep '^reply=PING same_fd=True sndtimeo_kept=True$' client.out "data and SO_SNDTIMEO after the abort"
assert_log_valid "$log"
python3 - "$log" <<'PY' || fail "the log does not show aborted attempts then a success"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
retries = [l for l in lines if l["event"] == "connect.retry"]
ok = [l for l in lines if l["event"] == "connect.ok"]
assert retries and all(l["errno"] == "ETIMEDOUT" for l in retries), retries
assert len(ok) == 1 and ok[0]["attempt"] == len(retries) + 1, ok
PY

# --- 2 and 3. a forked child; the thread ----------------------------------
ready=$(ready_fifo full2)
python3 - "$ready" <<'PY' &
import signal, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
fill = socket.create_connection(s.getsockname())
open(sys.argv[1], "w").write("%d\n" % s.getsockname()[1])
signal.pause()
PY
FULL=$(await_ready "$ready") log2="$BS_TMP/fork.jsonl"
# TSan refuses a thread started after a multi-threaded fork unless told.
timeout 60 env "${policy[@]}" BACKSTOP_CONNECT_ATTEMPTS=2 BACKSTOP_LOG="$log2" \
	TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}die_after_fork=0" \
	LD_PRELOAD="$BS_PRELOAD" python3 - "$FULL" >fork.out <<'PY' || fail "the program failed: $(cat fork.out)"
import errno, glob, os, signal, socket, sys
dest = ("127.0.0.1", int(sys.argv[1]))

def attempt(who):
    c = socket.socket()
    try:
        c.connect(dest)
        print(who, "connected")
    except OSError as e:
        print(who, errno.errorcode[e.errno])

attempt("parent")  # starts the watchdog
status = {}
for path in glob.glob("/proc/self/task/*/status"):
    fields = dict(line.split(":", 1) for line in open(path))
    status[fields["Name"].strip()] = fields["SigBlk"].strip()
print("watch_sigblk=%s" % status.get("backstop-watch"))
got = []
signal.signal(signal.SIGUSR1, lambda *a: got.append(1))
os.kill(os.getpid(), signal.SIGUSR1)
print("signal_handled=%d" % len(got))
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    attempt("child")
    sys.stdout.flush()
    os._exit(0)
os.waitpid(pid, 0)
PY
cat fork.out
assert_grep '^parent ETIMEDOUT$' fork.out "the parent's bounded connect"
assert_grep '^child ETIMEDOUT$' fork.out "the forked child's bounded connect"
assert_grep '^watch_sigblk=fffffffffffbfeff$' fork.out "the watchdog thread blocks every signal (SIGKILL and SIGSTOP cannot be)"
assert_grep '^signal_handled=1$' fork.out "a process-directed signal"
assert_eq "$(count_lines '"event":"connect.giveup".*"errno":"ETIMEDOUT".*"reason":"attempts"' "$log2")" 2 \
	"give-ups after two timed-out attempts, parent and child"
assert_log_valid "$log2"
