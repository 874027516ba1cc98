#!/usr/bin/env bash
# max_per_client = 3: a client opening 10 connections gets 3 served and 7
# closed with an RST; the server (our C helper in both listener modes, and
# python3's socketserver) sees exactly the 3; seven accept.shed lines; once
# the client closes one, its next connection is admitted.
. "$BS_TOP/tests/integration/lib.sh"

# The same protocol as tests/helpers/acc_server.c: "hello" on accept;
# on the client's close, close ours and then say "freed" to the others.
cat >"$BS_TMP/server.py" <<'PY'
import os, socketserver, sys, threading
lock, clients = threading.Lock(), set()
class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        with lock:
            clients.add(self.request)
        os.write(1, b"accepted\n")  # one write: print() from threads can interleave
        self.request.sendall(b"hello\n")
        while self.request.recv(256):
            pass
        with lock:
            clients.discard(self.request)
            self.request.close()
            for c in clients:
                c.sendall(b"freed\n")
class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    request_queue_size = 64  # the default backlog of 5 drops a 10-connection burst
srv = Server(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as ready:
    print(srv.server_address[1], file=ready)
srv.serve_forever()
PY

# run_case LABEL CLIENT_FLAGS EXPECT_RESETS SERVER_CMD...
run_case() {
	local label=$1 cflags=$2 resets=$3; shift 3
	local ready log="$BS_TMP/$label.log" out="$BS_TMP/$label.out"
	ready=$(ready_fifo "$label")
	BACKSTOP_ACCEPT_MAX_PER_CLIENT=3 BACKSTOP_LOG="$log" \
		under_backstop "$@" "$ready" >"$out" 2>"$BS_TMP/$label.err" &
	local pid=$!
	local port
	port=$(await_ready "$ready")
	# shellcheck disable=SC2086
	timeout 60 "$BS_HELPERS/acc_client" $cflags "$port" 10 >"$BS_TMP/$label.client" ||
		{ cat "$BS_TMP/$label.err" >&2; fail "$label: client failed"; }
	kill "$pid"; wait "$pid" 2>/dev/null || true
	note "$label: $(tr '\n' ' ' <"$BS_TMP/$label.client")"
	assert_eq "$(head -1 "$BS_TMP/$label.client")" "served 3 shed 7 reset $resets" "$label: client view"
	assert_eq "$(sed -n 2p "$BS_TMP/$label.client")" "again served" "$label: a freed slot admits the next"
	assert_eq "$(count_lines '^accepted$' "$out")" 4 "$label: connections the server saw (3, then 1 more)"
	assert_eq "$(count_lines '"event":"accept.shed"' "$log")" 7 "$label: accept.shed lines"
	assert_grep '"event":"accept.shed".*"in_use":3.*"max_per_client":3' "$log" "$label: shed fields"
	assert_log_valid "$log"
}

run_case blocking "" 7 "$BS_HELPERS/acc_server"
assert_grep '"client":"127\.0\.0\.1:[0-9]+"' "$BS_TMP/blocking.log" "client field"
run_case nonblocking "" 7 "$BS_HELPERS/acc_server" -n
run_case ipv6 "-6" 7 "$BS_HELPERS/acc_server" -6
# Unix clients are unnamed, so they all count as one client; the shed is
# a plain close (no RST on unix sockets): the client reads EOF.
run_case unix "-u $BS_TMP/srv.sock" 0 "$BS_HELPERS/acc_server" -n -u "$BS_TMP/srv.sock"
run_case python "" 7 python3 "$BS_TMP/server.py"

# Exempt clients are not counted.
ready=$(ready_fifo exempt)
BACKSTOP_ACCEPT_MAX_PER_CLIENT=3 BACKSTOP_ACCEPT_EXEMPT=127.0.0.0/8 BACKSTOP_LOG="$BS_TMP/exempt.log" \
	under_backstop "$BS_HELPERS/acc_server" "$ready" >"$BS_TMP/exempt.out" 2>&1 &
port=$(await_ready "$ready")
timeout 60 "$BS_HELPERS/acc_client" "$port" 10 >"$BS_TMP/exempt.client" || fail "exempt: client failed"
assert_eq "$(head -1 "$BS_TMP/exempt.client")" "served 10 shed 0 reset 0" "exempt client"
assert_no_grep accept.shed "$BS_TMP/exempt.log" "exempt client shed"
