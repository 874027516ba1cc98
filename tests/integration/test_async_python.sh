#!/usr/bin/env bash
# nonblocking = async with python3's own ways of connecting, against a
# server that starts only after three hidden retries: the standard
# library's socket.create_connection with a timeout (poll inside),
# select.select, selectors (epoll) and asyncio.open_connection. Each
# succeeds under backstop with the program unchanged; without it, the
# refusal. The program's own timeout (5 s) is never exceeded: backstop
# retries inside it.
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/integration/async_lib.sh"

cat >client.py <<'PY'
import asyncio, errno, select, selectors, socket, sys

how, port = sys.argv[1], int(sys.argv[2])
addr = ("127.0.0.1", port)
REQUEST = b"GET / HTTP/1.0\r\n\r\n"

def nonblocking_socket():
    s = socket.socket()
    s.setblocking(False)
    err = s.connect_ex(addr)
    if err not in (0, errno.EINPROGRESS):
        sys.exit("error=" + errno.errorcode[err])
    return s

def finish(s):
    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        sys.exit("error=" + errno.errorcode[err])
    s.setblocking(True)
    s.sendall(REQUEST)
    return s.recv(256)

def by_select():
    s = nonblocking_socket()
    while not select.select([], [s], [], 1.0)[1]:
        pass
    return finish(s)

def by_selectors():
    s = nonblocking_socket()
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_WRITE)
    while not sel.select(1.0):
        pass
    sel.unregister(s)
    return finish(s)

def by_create_connection():
    try:
        s = socket.create_connection(addr, timeout=5)
    except OSError as e:
        sys.exit("error=" + errno.errorcode.get(e.errno, str(e)))
    s.sendall(REQUEST)
    return s.recv(256)

async def by_asyncio():
    try:
        r, w = await asyncio.open_connection(*addr)
    except OSError as e:
        sys.exit("error=" + errno.errorcode.get(e.errno, str(e)))
    w.write(REQUEST)
    return await r.read(256)

reply = {"select": by_select, "selectors": by_selectors,
         "create_connection": by_create_connection,
         "asyncio": lambda: asyncio.run(by_asyncio())}[how]()
print("connected", reply.decode().splitlines()[0])
PY

for how in create_connection select selectors asyncio; do
	out=$(LISTEN=no late_run "$how" 1 "" python3 client.py "$how" PORT)
	assert_eq "$out" "error=ECONNREFUSED" "$how without backstop"
	out=$(late_run "$how" 1 "$BS_PRELOAD" python3 client.py "$how" PORT)
	assert_eq "$out" "connected HTTP/1.0 200 OK" "$how under backstop"
	log="$BS_TMP/$how.jsonl"
	assert_log_valid "$log"
	[ "$(count_lines '"event":"connect.retry".*"mode":"async"' "$log")" -ge "$RETRIES" ] ||
		fail "$how: too few async retries"
	assert_eq "$(count_lines '"event":"connect.ok".*"mode":"async"' "$log")" 1 "$how: connect.ok"
	note "$how: $(count_lines connect.retry "$log") hidden retries, then connected"
done
