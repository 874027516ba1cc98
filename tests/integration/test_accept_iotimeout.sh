#!/usr/bin/env bash
# io_timeout on accepted blocking sockets: a client that connects and never
# sends makes the server's blocking recv fail with EAGAIN instead of hanging;
# a receive timeout the program set itself (here on the listener, which
# Linux copies to accepted sockets) is kept; with io_timeout off nothing is
# set. Bounded by `timeout` only against a hang.
. "$BS_TOP/tests/integration/lib.sh"

# serve LABEL CLOSE_AT_ONCE [ENV...] -- [HELPER ARGS...]: prints the helper's output
serve() {
	local label=$1 close=$2; shift 2
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	local ready
	ready=$(ready_fifo "$label")
	timeout 60 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$BS_TMP/$label.log" "${envs[@]}" \
		"$BS_HELPERS/acc_recv" "$@" "$ready" >"$BS_TMP/$label.out" 2>&1 &
	local pid=$! port
	port=$(await_ready "$ready")
	exec 3<>"/dev/tcp/127.0.0.1/$port"
	[ "$close" = yes ] && exec 3>&-
	wait "$pid" || { cat "$BS_TMP/$label.out" >&2; fail "$label: server failed or hung"; }
	exec 3>&- || true
	cat "$BS_TMP/$label.out"
}

out=$(serve policy no BACKSTOP_ACCEPT_IO_TIMEOUT=200ms --)
assert_eq "$(echo "$out" | head -1)" "rcvtimeo_ms 200 sndtimeo_ms 200 user_timeout_ms 200" "timeouts from the policy"
assert_eq "$(echo "$out" | sed -n 2p)" "recv -1 EAGAIN" "a silent client no longer blocks recv forever"

out=$(serve own no BACKSTOP_ACCEPT_IO_TIMEOUT=1h -- -t 300)
assert_eq "$(echo "$out" | head -1)" "rcvtimeo_ms 300 sndtimeo_ms 3600000 user_timeout_ms 3600000" "the program's own receive timeout is kept"
assert_eq "$(echo "$out" | sed -n 2p)" "recv -1 EAGAIN" "recv under the program's own timeout"

out=$(serve off yes --)
assert_eq "$(echo "$out" | head -1)" "rcvtimeo_ms 0 sndtimeo_ms 0 user_timeout_ms 0" "io_timeout off sets nothing"
assert_eq "$(echo "$out" | sed -n 2p)" "recv 0" "EOF from the closed client"
