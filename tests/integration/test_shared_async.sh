#!/usr/bin/env bash
# An asynchronous connect at a full machine-wide cap (share = machine,
# max_conns = 1) queues like a blocking one, without blocking the thread:
# python3 asyncio in one process connects while another process holds
# the slot; its connect stays pending (EINPROGRESS: the event loop runs
# on) until the holder lets go, then it is connected for real (it reads
# the server's byte). Past cap_wait it fails with ETIMEDOUT. The server
# never sees more than one connection.
. "$BS_TOP/tests/integration/lib.sh"

policy() { # CAP_WAIT
	cat >"$BS_TMP/policy.ini" <<P
[global]
log = $BS_TMP/log.jsonl
state = $BS_TMP/state
[dest "capped"]
match = 127.0.0.1/32
max_conns = 1
on_cap = wait
cap_wait = $1
deadline = 60s
share = machine
P
}

ready=$(ready_fifo server)
"$BS_HELPERS/cap_server" "$ready" 0 1 >server.out & # a byte to each connection
SERVER=$!
PORT=$(await_ready "$ready")

hold() { # in another process, until a line arrives on release.fifo
	rm -f release.fifo && mkfifo release.fifo
	local held
	held=$(ready_fifo held)
	BACKSTOP_POLICY="$BS_TMP/policy.ini" under_backstop python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
assert s.recv(1) == b"x"
open(sys.argv[2], "w").write("held\n")
open(sys.argv[3]).readline()
s.close()' "$PORT" "$held" release.fifo &
	HOLDER=$!
	await_ready "$held" >/dev/null
}
release() { echo go >release.fifo; wait "$HOLDER" || fail "the holder failed"; }

client() { # PENDING_FIFO: an asyncio connect; prints its outcome
	BACKSTOP_POLICY="$BS_TMP/policy.ini" under_backstop timeout 60 python3 -c '
import asyncio, errno, socket, sys
async def main():
    loop = asyncio.get_running_loop()
    s = socket.socket()
    s.setblocking(False)
    connecting = loop.create_task(loop.sock_connect(s, ("127.0.0.1", int(sys.argv[1]))))
    await asyncio.sleep(0) # the connect starts, and returns
    open(sys.argv[2], "w").write("pending\n") # the loop runs on meanwhile
    try:
        await connecting
    except OSError as e:
        print(errno.errorcode[e.errno])
        return
    print("connected", (await loop.sock_recv(s, 1)).decode())
asyncio.run(main())' "$PORT" "$1"
}

# 1. Queued behind another process's slot, served when it lets go.
policy 30s
hold
pending=$(ready_fifo pending)
client "$pending" >client.out &
CLIENT=$!
await_ready "$pending" >/dev/null
assert_grep '"event":"cap.wait".*"share":"machine"' log.jsonl "the connect queued"
release
wait "$CLIENT" || fail "the asyncio client failed"
assert_eq "$(cat client.out)" "connected x" "the queued connect, once the slot came"
assert_grep '"event":"cap.acquired".*"share":"machine"' log.jsonl "cap.acquired"
assert_grep '"event":"connect.ok".*"mode":"async"' log.jsonl "connected asynchronously"
assert_no_grep '"event":"cap.(reject|timeout)"' log.jsonl "no reject or timeout"

# 2. Past cap_wait: ETIMEDOUT, as for other asynchronous give-ups.
: >log.jsonl
policy 300ms
hold
pending=$(ready_fifo pending2)
client "$pending" >client2.out &
CLIENT=$!
await_ready "$pending" >/dev/null
wait "$CLIENT" || fail "the asyncio client failed"
assert_eq "$(cat client2.out)" "ETIMEDOUT" "past cap_wait"
assert_grep '"event":"cap.timeout".*"share":"machine"' log.jsonl "cap.timeout"
release
assert_log_valid log.jsonl

kill -TERM "$SERVER"
wait "$SERVER"
assert_grep '^max=1 total=3$' server.out "the server's count"
