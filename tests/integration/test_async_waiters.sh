#!/usr/bin/env bash
# nonblocking = async, waits that began before the connect they must
# serve: the main thread waits with no timeout on an epoll set, and only
# then does another thread connect (refused: the server is down) and
# register the socket in that set. The wait must hide the parked socket's
# hang-up (which the registration fires once) and then be cut at the
# retry's due time, so that the retries go on and the late server is
# reached; before, the program was woken for a socket that had neither
# connected nor failed.
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/integration/async_lib.sh"

for mode in epoll epoll_elsewhere; do
	client=("$BS_HELPERS/async_waiter" "$mode" PORT READY)
	out=$(late_run "$mode" 1 "" "${client[@]}")
	assert_eq "$out" "error=ECONNREFUSED" "$mode without backstop"
	out=$(late_run "$mode" 1 "$BS_PRELOAD" "${client[@]}")
	assert_eq "$out" "connected HTTP/1.0 200 OK" "$mode under backstop"
	check_log "$mode" "$RETRIES"
done

# Waits with no timeout at all (python's selectors, select(None): poll -1,
# epoll_wait -1, select NULL) on a socket whose connect is pending: only
# backstop's cut at the retry's due time lets the retries go on.
cat >"$BS_TMP/forever.py" <<'PY'
import errno, selectors, socket, sys
kind, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sel = getattr(selectors, kind)()
s = socket.socket()
s.setblocking(False)
try:
    s.connect(("127.0.0.1", port))
except BlockingIOError:
    pass
except OSError as e:
    print("connect=" + errno.errorcode[e.errno]); open(ready, "w").write("waiting\n"); sys.exit(1)
sel.register(s, selectors.EVENT_WRITE)
open(ready, "w").write("waiting\n")
while not sel.select(None):  # no timeout: only backstop's cut at the due time advances the retries
    pass
err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
if err:
    print("error=" + errno.errorcode[err]); sys.exit(1)
s.setblocking(True)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
print("connected " + s.makefile("rb").readline().decode().strip())
PY
for kind in PollSelector EpollSelector SelectSelector; do
	out=$(late_run "$kind" 1 "" python3 "$BS_TMP/forever.py" "$kind" PORT READY)
	assert_grep '^(error|connect)=ECONNREFUSED$' <(echo "$out") "$kind without backstop"
	out=$(late_run "$kind" 1 "$BS_PRELOAD" python3 "$BS_TMP/forever.py" "$kind" PORT READY)
	assert_eq "$out" "connected HTTP/1.0 200 OK" "$kind, no timeout, under backstop"
	check_log "$kind" "$RETRIES"
done
