#!/usr/bin/env bash
# Errors that are not in retry_on return at once, unchanged, after one
# attempt: EISCONN (connecting twice), EAFNOSUPPORT (an IPv4 address on an
# IPv6 socket), and ECONNREFUSED from a real refusing port when the policy
# does not list it.
. "$BS_TOP/tests/integration/lib.sh"

# Listening before any client (connected_twice's first connect must
# succeed at once, unretried).
ready=$(ready_fifo server) listening=$(ready_fifo listening)
mkfifo "$BS_TMP/ctl"
"$BS_HELPERS/conn_late_server" -r "$ready" -c "$BS_TMP/ctl" -n 1 -l "$listening" >/dev/null &
PORT=$(await_ready "$ready")
exec 6>"$BS_TMP/ctl"
echo listen >&6
await_ready "$listening" >/dev/null

run() { # NAME EXPECTED_ERRNO [ENV...] -- CLIENT_ARGS...
	local name=$1 want=$2 log="$BS_TMP/$1.jsonl"
	shift 2
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	local out
	out=$(env "${envs[@]}" BACKSTOP_LOG="$log" LD_PRELOAD="$BS_PRELOAD" \
		"$BS_HELPERS/conn_client" "$@") && fail "$name: connect succeeded"
	assert_grep "^result=$want " <(echo "$out") "$name: errno"
	assert_no_grep '"event":"connect.retry"' "$log" "$name: retried"
	note "$name: $out"
}

PORT_NOBODY=$(free_port)
run refused_not_listed ECONNREFUSED BACKSTOP_CONNECT_RETRY_ON=ETIMEDOUT -- "127.0.0.1:$PORT_NOBODY"
assert_eq "$(count_lines '"event":"connect.giveup".*"attempt":1.*"errno":"ECONNREFUSED".*"reason":"not_retryable"' \
	"$BS_TMP/refused_not_listed.jsonl")" 1 "refused_not_listed: giveup"

run wrong_family EAFNOSUPPORT -- -w "127.0.0.1:$PORT"
run connected_twice EISCONN -- -2 "127.0.0.1:$PORT"
# The first connect of connected_twice reached the server.
exec 6>&-
wait
