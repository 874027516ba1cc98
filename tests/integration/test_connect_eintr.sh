#!/usr/bin/env bash
# A signal during a backoff sleep: connect returns -1/EINTR, as a plain
# connect interrupted by a handler installed without SA_RESTART would, and
# the handler ran once. The signal is sent once the log shows the retry
# (the sleep after it is 30s long, so the signal lands inside it).
. "$BS_TOP/tests/integration/lib.sh"

PORT=$(free_port) pipe="$BS_TMP/log.pipe" log="$BS_TMP/log.jsonl"
mkfifo "$pipe"
env BACKSTOP_CONNECT_BASE=30s BACKSTOP_CONNECT_MAX_DELAY=30s BACKSTOP_CONNECT_JITTER=none \
	BACKSTOP_CONNECT_DEADLINE=5m BACKSTOP_LOG=fd:3 LD_PRELOAD="$BS_PRELOAD" \
	"$BS_HELPERS/conn_client" -i "127.0.0.1:$PORT" 3>"$pipe" >"$BS_TMP/client.out" &
client=$!
exec 5<"$pipe"
"$BS_HELPERS/conn_logwait" "$log" '"event":"connect.retry"' 1 <&5 || fail "no retry logged"
pid=$(sed -n 's/^pid=//p' "$BS_TMP/client.out")
[ -n "$pid" ] || fail "no pid from the client"
kill -USR1 "$pid"
cat <&5 >>"$log"
wait "$client" && fail "connect succeeded"
assert_grep '^result=EINTR .*signals=1' "$BS_TMP/client.out" "errno after the signal"
assert_log_valid "$log"
assert_eq "$(count_lines '"event":"connect.giveup".*"errno":"EINTR"' "$log")" 1 "giveup line"
