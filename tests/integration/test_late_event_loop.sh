#!/usr/bin/env bash
# An event loop keeps serving while its outbound connect is retried: a
# python3 asyncio program (epoll) connects to an upstream that comes up
# late, and meanwhile answers requests on its own listener and keeps firing
# its 20 ms timer. Proven by order, not by time: each request is made after
# the program's log showed the connect being retried, is answered only
# after one more timer tick, and is answered while the upstream is still
# down (the test starts the upstream only after the answers). Under
# `nonblocking = sync` the loop stands still inside connect and no answer
# comes back before backstop gives up.
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/integration/late.sh"

cat >"$BS_TMP/loop.py" <<'PY'
import asyncio, sys

async def main(upstream_port, ready):
    loop = asyncio.get_running_loop()
    ticks, max_gap, state, waiters = 0, 0.0, "pending", []

    async def timer():
        nonlocal ticks, max_gap
        last = loop.time()
        while True:
            await asyncio.sleep(0.02)
            now = loop.time()
            max_gap, last = max(max_gap, now - last), now
            ticks += 1
            for w in waiters:
                w.set_result(None)
            waiters.clear()

    async def handle(reader, writer):
        await reader.readline()
        tick = loop.create_future()  # answer after the next tick only
        waiters.append(tick)
        await tick
        writer.write(f"ticks={ticks} upstream={state}\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    with open(ready, "w") as f:
        print(server.sockets[0].getsockname()[1], file=f)
    timer_task = asyncio.create_task(timer())
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream_port)
    state = "connected"
    writer.write(b"GET / HTTP/1.0\r\n\r\n")
    print("upstream", (await reader.read()).split(b"\r\n\r\n")[1].decode().strip())
    # Printed for the record; the test asserts on order, never on time.
    print(f"ticks {ticks}, longest gap between ticks {max_gap * 1000:.1f} ms", file=sys.stderr)
    timer_task.cancel()
    server.close()

asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
PY

# One request to the program's own listener, without backstop.
request() { # PORT
	python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60)
s.sendall(b"status\n")
print(b"".join(iter(lambda: s.recv(100), b"")).decode(), end="")' "$1"
}

late_listener upstream
ready=$(ready_fifo loop)
late_start loop python3 "$BS_TMP/loop.py" "$PORT" "$ready"
LOOP_PORT=$(await_ready "$ready")
late_await loop '"event":"connect.retry"' "$LATE_RETRIES"
late_release
for i in 1 2 3; do
	answer=$(request "$LOOP_PORT") || fail "request $i: no answer while the connect is retried"
	[[ $answer =~ ^ticks=[1-9][0-9]*\ upstream=pending$ ]] ||
		fail "request $i: answer '$answer' (expected ticks and a pending upstream)"
	note "request $i during the retries: $answer"
	# One more retry between the requests: the connect is still pending.
	late_await loop '"event":"connect.retry"'
done
late_listen upstream
late_finish loop
assert_eq "$(cat "$BS_TMP/loop.out")" "upstream ok" "the upstream connect succeeded in the end"
note "$(cat "$BS_TMP/loop.err")"
