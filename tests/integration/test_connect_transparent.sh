#!/usr/bin/env bash
# When backstop has nothing to do, the program cannot tell it is there: a
# first-try success leaves errno as it was, keeps the program's O_NONBLOCK
# flag and SO_SNDTIMEO, and writes no connect line.
. "$BS_TOP/tests/integration/lib.sh"

# The clients start once the server listens: a refused first try would
# be retried, and logged.
ready=$(ready_fifo server) listening=$(ready_fifo listening)
mkfifo "$BS_TMP/ctl"
"$BS_HELPERS/conn_late_server" -r "$ready" -c "$BS_TMP/ctl" -n 3 -l "$listening" >"$BS_TMP/server.out" &
server=$!
PORT=$(await_ready "$ready")
exec 6>"$BS_TMP/ctl"
echo listen >&6
await_ready "$listening" >/dev/null

log="$BS_TMP/log.jsonl"
client() {
	env BACKSTOP_LOG="$log" BACKSTOP_CONNECT_NONBLOCKING=sync LD_PRELOAD="$BS_PRELOAD" \
		"$BS_HELPERS/conn_client" "$@" "127.0.0.1:$PORT" || fail "connect failed: $*"
}
ok='^result=ok errno_kept=yes flags_kept=yes sndtimeo_kept=yes'
assert_grep "$ok" <(client -e 42) "blocking, errno 42 before the call"
assert_grep "$ok" <(client -e 7 -s 2500) "blocking with the program's own SO_SNDTIMEO"
assert_grep "$ok" <(client -e 11 -n) "nonblocking under sync"
exec 6>&-
wait "$server"
assert_eq "$(cat "$BS_TMP/server.out")" "accepted 3" "connections the server saw"
assert_log_valid "$log"
assert_no_grep '"event":"(connect|cap)\.' "$log" "a first-try success must log nothing"
