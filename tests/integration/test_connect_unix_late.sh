#!/usr/bin/env bash
# A unix socket path that appears late (the pipe-dial case): ENOENT while
# the path is missing, ECONNREFUSED while it exists without a listener,
# then success. Each stage is entered when the log shows the previous one.
. "$BS_TOP/tests/integration/lib.sh"

sock="$BS_TMP/app.sock" pipe="$BS_TMP/log.pipe" log="$BS_TMP/log.jsonl"
ready=$(ready_fifo server)
mkfifo "$BS_TMP/ctl" "$pipe"
"$BS_HELPERS/conn_late_server" -r "$ready" -c "$BS_TMP/ctl" -u "$sock" >"$BS_TMP/server.out" &
server=$!
await_ready "$ready" >/dev/null
exec 6>"$BS_TMP/ctl"

"$BS_HELPERS/conn_client" "unix:$sock" >"$BS_TMP/plain.out" && fail "connected without backstop"
assert_grep '^result=ENOENT ' "$BS_TMP/plain.out" "plain client error"

env BACKSTOP_CONNECT_ATTEMPTS=40 BACKSTOP_CONNECT_BASE=100ms BACKSTOP_CONNECT_MAX_DELAY=500ms \
	BACKSTOP_CONNECT_DEADLINE=60s BACKSTOP_LOG=fd:3 LD_PRELOAD="$BS_PRELOAD" \
	"$BS_HELPERS/conn_client" "unix:$sock" 3>"$pipe" >"$BS_TMP/client.out" &
client=$!
exec 5<"$pipe"
"$BS_HELPERS/conn_logwait" "$log" '"errno":"ENOENT"' 2 <&5 || fail "no ENOENT retries"
echo bind >&6
"$BS_HELPERS/conn_logwait" "$log" '"errno":"ECONNREFUSED"' 1 <&5 || fail "no ECONNREFUSED retry"
echo listen >&6
cat <&5 >>"$log"
wait "$client" || fail "client: $(cat "$BS_TMP/client.out")"
exec 6>&-
wait "$server"
assert_eq "$(cat "$BS_TMP/server.out")" "accepted 1" "connections the server saw"

assert_log_valid "$log"
assert_log_valid "$log" connect.retry fd dest rule attempt attempts errno \
	delay_ms deadline_left_ms >/dev/null || fail "retry fields"
assert_grep "\"dest\":\"unix:$sock\"" "$log" "dest of a unix socket"
assert_eq "$(count_lines '"event":"connect.ok"' "$log")" 1 "connect.ok"
