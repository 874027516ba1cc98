#!/usr/bin/env bash
# An event loop keeps serving while its outbound connect is retried: a
# python3 asyncio program and a node program (both on epoll) connect to an
# upstream that comes up late, and meanwhile answers requests on its own listener and keeps firing
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

cat >"$BS_TMP/loop.js" <<'JS'
const fs = require("fs"), net = require("net");
const [upstreamPort, ready] = process.argv.slice(2);
let ticks = 0, maxGap = 0, last = Date.now(), state = "pending", waiters = [];
const timer = setInterval(() => {
	const now = Date.now();
	maxGap = Math.max(maxGap, now - last);
	last = now;
	ticks++;
	waiters.splice(0).forEach((w) => w());
}, 20);
const server = net.createServer((c) => {
	c.once("data", () => waiters.push(() => c.end(`ticks=${ticks} upstream=${state}\n`)));
});
server.listen(0, "127.0.0.1", () => {
	fs.writeFileSync(ready, `${server.address().port}\n`);
	const up = net.connect(Number(upstreamPort), "127.0.0.1", () => {
		state = "connected";
		up.end("GET / HTTP/1.0\r\n\r\n");
	});
	let body = "";
	up.on("data", (d) => (body += d));
	up.on("end", () => {
		console.log("upstream " + body.split("\r\n\r\n")[1].trim());
		console.error(`ticks ${ticks}, longest gap between ticks ${maxGap} ms`);
		clearInterval(timer);
		server.close();
	});
	up.on("error", (e) => { console.error(e.message); process.exit(1); });
});
JS

# serve_while_retrying NAME CMD...: CMD takes the upstream port and a ready
# fifo, and prints "upstream ok" once it got the upstream's reply.
serve_while_retrying() {
	local name=$1
	shift
	late_listener "${name}_upstream"
	local ready
	ready=$(ready_fifo "$name")
	late_start "$name" "$@" "$PORT" "$ready"
	local port
	port=$(await_ready "$ready")
	late_await "$name" '"event":"connect.retry"' "$LATE_RETRIES"
	late_release
	for i in 1 2 3; do
		answer=$(request "$port") || fail "$name: request $i: no answer while the connect is retried"
		[[ $answer =~ ^ticks=[1-9][0-9]*\ upstream=pending$ ]] ||
			fail "$name: request $i: answer '$answer' (expected ticks and a pending upstream)"
		note "$name: request $i during the retries: $answer"
		# One more retry between the requests: the connect is still pending.
		late_await "$name" '"event":"connect.retry"'
	done
	late_listen "${name}_upstream"
	late_finish "$name"
	assert_eq "$(cat "$BS_TMP/$name.out")" "upstream ok" "$name: the upstream connect succeeded in the end"
	note "$name: $(cat "$BS_TMP/$name.err")"
}

serve_while_retrying asyncio python3 "$BS_TMP/loop.py"
serve_while_retrying node node "$BS_TMP/loop.js"
