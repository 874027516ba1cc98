#!/usr/bin/env bash
# The examples do what docs/tutorial.md says: every example policy passes
# `backstop check`; the systemd drop-in points at the installed layout; the
# legacy client gives up on a late server alone and gets through under
# backstop; the legacy server under inbound-server.conf sheds the client
# over max_per_client and backs off instead of spinning on EMFILE.
. "$BS_TOP/tests/integration/lib.sh"

for conf in "$BS_TOP"/examples/*.conf; do
	env -i PATH="$PATH" "$BS_CLI" check "$conf" >check.out 2>&1 ||
		{ cat check.out; fail "backstop check ${conf##*/}"; }
done
dropin=$BS_TOP/examples/systemd/backstop.conf
assert_grep '^\[Service\]$' "$dropin" "drop-in section"
assert_grep '^Environment=LD_PRELOAD=/usr/local/lib/backstop/libbackstop-preload\.so$' "$dropin" "drop-in preload path"
assert_grep '^Environment=BACKSTOP_POLICY=/etc/backstop/SERVICE\.conf$' "$dropin" "drop-in policy"

# A server that is down (bound, not listening) until it is cued.
start_late_server() { # NAME [legacy_server options...] -> sets port
	local name=$1; shift
	mkfifo "$name.back"
	"$BS_HELPERS/legacy_server" --listen-when-ready "$name.back" "$@" 127.0.0.1 0 \
		>"$name.out" 2>"$name.err" &
	port=$(await_ready <(tail -n +1 -F "$name.out" 2>/dev/null | grep -m1 '^bound'))
	port=${port#bound }
}

# Alone, one try against a server that is down fails.
start_late_server plain
"$BS_HELPERS/legacy_client" --tries 1 127.0.0.1 "$port" >plain.client 2>&1 &&
	fail "the legacy client connected to a server that is down"
assert_grep 'gave up after 1 tries' plain.client "legacy client gives up"
echo back >plain.back

# Under backstop the same single try survives: the server comes back after
# the first refused attempt is logged, and a retry gets through.
start_late_server late
under_backstop env BACKSTOP_LOG="$BS_TMP/client.jsonl" BACKSTOP_CONNECT_DEADLINE=60s \
	BACKSTOP_CONNECT_ATTEMPTS=1000 BACKSTOP_CONNECT_BASE=10ms BACKSTOP_CONNECT_MAX_DELAY=50ms \
	"$BS_HELPERS/legacy_client" --tries 1 127.0.0.1 "$port" >late.client 2>&1 &
client=$!
await_ready <(tail -n +1 -F client.jsonl 2>/dev/null | grep -m1 '"connect.retry"') >/dev/null
echo back >late.back
wait "$client" || { cat late.client; fail "the client under backstop did not get through"; }
assert_grep '^reply: hello' late.client "echoed reply"
assert_log_valid client.jsonl
assert_grep '"event": ?"connect.ok"' client.jsonl "connect.ok logged"

# inbound-server.conf: max_per_client = 20, so of 21 connections from one
# address the server keeps 20 and sheds one.
mkfifo inbound.back
BACKSTOP_POLICY=$BS_TOP/examples/inbound-server.conf BACKSTOP_LOG=$BS_TMP/server.jsonl \
	under_backstop "$BS_HELPERS/legacy_server" 127.0.0.1 0 >inbound.out 2>&1 &
port=$(await_ready <(tail -n +1 -F inbound.out 2>/dev/null | grep -m1 '^listening'))
port=${port#listening }
python3 - "$port" <<'PY' || fail "max_per_client from inbound-server.conf"
import socket, sys
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(21)]
echoed = shed = 0
for s in socks:
    try:
        s.sendall(b"ping\n")
        echoed += s.recv(16) == b"ping\n"
    except (ConnectionResetError, BrokenPipeError):
        shed += 1
print("echoed", echoed, "shed", shed)
assert (echoed, shed) == (20, 1), (echoed, shed)
PY
assert_eq "$(count_lines '"event": ?"accept.shed"' server.jsonl)" 1 "accept.shed lines"

# The EMFILE spin: with 12 descriptors the server runs out after a few
# clients; under backstop each failed accept waits a backoff (logged)
# instead of coming straight back.
BACKSTOP_POLICY=$BS_TOP/examples/inbound-server.conf BACKSTOP_LOG=$BS_TMP/emfile.jsonl \
	under_backstop "$BS_HELPERS/legacy_server" --max-fds 12 127.0.0.1 0 >emfile.out 2>&1 &
port=$(await_ready <(tail -n +1 -F emfile.out 2>/dev/null | grep -m1 '^listening'))
port=${port#listening }
# The clients hold their connections (until the test ends): a client that
# left at once would let a slow server (a sanitizer build) read EOF and
# close each one before the next accept, never running out.
python3 - "$port" <<'PY' &
import signal, socket, sys
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30) for _ in range(12)]
signal.pause()
PY
await_ready <(tail -n +1 -F emfile.jsonl 2>/dev/null | grep -m1 '"accept.backoff"') >/dev/null
assert_grep '"errno": ?"EMFILE"' emfile.jsonl "EMFILE backoff logged"
note "examples ok"
