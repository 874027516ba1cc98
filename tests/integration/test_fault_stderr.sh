#!/usr/bin/env bash
# The default log sink, stderr, never keeps the program's pipe or terminal
# and never writes into a descriptor the program reads (issue 10, defects
# 3 and 4).
#  3. redis-server --daemonize yes forks, and the daemon dup2()s /dev/null
#     over fds 0-2. A private copy of the launcher's stderr pipe kept that
#     pipe open for the daemon's whole life: `x=$(redis-server ... 2>&1)`,
#     ssh and CI runners waited for an EOF that never came.
#  4. fd 2 opened for reading (`prog 2< <(cat data)`): reopening it for
#     writing wrote log lines into the program's own input, and the extra
#     writer kept the program from ever reading EOF.
. "$BS_TOP/tests/integration/lib.sh"

# 3. The reader of the daemon's launch pipe must see EOF once the daemon
# has let go of it, while the daemon still runs.
command -v redis-server >/dev/null || fail "redis-server is not installed (scripts/deps.d)"
sock="$BS_TMP/redis.sock" pidfile="$BS_TMP/redis.pid" daemon_pid=
# The daemons are no jobs of this shell: end them whatever happens.
trap 'kill $(cat "$pidfile" 2>/dev/null) $daemon_pid 2>/dev/null || true; bs_cleanup' EXIT
mkfifo launch
timeout 30 cat launch >launch.out &
reader=$!
env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_CONNECT_ATTEMPTS=2 \
	redis-server --port 0 --unixsocket "$sock" --pidfile "$pidfile" --daemonize yes \
	--dir "$BS_TMP" --save '' >launch 2>&1 || fail "redis-server did not start"
wait "$reader" || fail "the launch pipe never reached EOF: the daemon (through backstop) kept it open"
# The daemon is still there: it let go of the pipe, it did not exit.
timeout 30 bash -c 'until redis-cli -s "$1" ping 2>/dev/null | grep -q PONG; do :; done' _ "$sock" ||
	fail "redis is not answering on $sock"
redis-cli -s "$sock" shutdown nosave >/dev/null 2>&1 || true

# The same with a launcher's pipe that the daemon's log lines still go to
# while it holds it: a python3 daemon logs one retry before letting go,
# one after; only the first reaches the pipe, and EOF follows.
PORT=$(free_port)
ready=$(ready_fifo daemon)
daemon='import os, socket, sys
def refused():
    try: socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    except OSError: pass
if os.fork(): os._exit(0)
os.setsid()
refused()
null = os.open("/dev/null", os.O_RDWR)
for fd in (0, 1, 2): os.dup2(null, fd)
refused()
open(sys.argv[2], "w").write("%d\n" % os.getpid())
signal = __import__("signal"); signal.pause()'
mkfifo launch2
timeout 30 cat launch2 >launch2.out &
reader=$!
env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_CONNECT_ATTEMPTS=2 BACKSTOP_CONNECT_BASE=1ms \
	python3 -c "$daemon" "$PORT" "$ready" >launch2 2>&1
daemon_pid=$(await_ready "$ready")
wait "$reader" || fail "the python daemon's launch pipe never reached EOF"
assert_eq "$(count_lines '"event":"connect.retry"' launch2.out)" 1 "retry lines that reached the launch pipe"
kill "$daemon_pid"
daemon_pid=

# 4. fd 2 open for reading: the log is off, the program reads its data and EOF.
log_reader='import socket, sys, os
try: socket.create_connection(("127.0.0.1", int(sys.argv[1])))
except OSError as e: print("connect", e.errno)
sys.stdout.write(os.read(2, 65536).decode()); print("eof" if os.read(2, 1) == b"" else "more")'
out=$(timeout 30 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_CONNECT_ATTEMPTS=3 BACKSTOP_CONNECT_BASE=1ms \
	python3 -c "$log_reader" "$PORT" 2< <(echo "the program's data")) ||
	fail "the program reading its fd 2 hung or failed"
printf '%s\n' "$out"
assert_eq "$out" "connect 111
the program's data
eof" "what the program read from its fd 2"
