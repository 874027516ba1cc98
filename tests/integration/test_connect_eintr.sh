#!/usr/bin/env bash
# A signal during a backoff sleep: after a handler installed without
# SA_RESTART the call ends, returning the last attempt's error (the
# refusal: the attempt was over, so that is what a plain connect would
# have returned; EINTR would send a POSIX program to wait for a connection
# that is not in flight, see test_fault_pause), logged with reason
# interrupted; after one with SA_RESTART the retries go on, as the kernel
# would restart a plain connect. Signals are sent once the log shows the retry they must follow
# (the sleep after it is long, so the signal lands inside it).
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
assert_grep '^result=ECONNREFUSED .*signals=1' "$BS_TMP/client.out" "errno after the signal"
assert_log_valid "$log"
assert_eq "$(count_lines '"event":"connect.giveup".*"errno":"ECONNREFUSED".*"reason":"interrupted"' "$log")" 1 "giveup line"

# SIGUSR2's handler has SA_RESTART: the sleep goes on and attempt 2 happens;
# only then does SIGUSR1 (no SA_RESTART) end the call, at attempt 2.
pipe="$BS_TMP/log2.pipe" log="$BS_TMP/log2.jsonl"
mkfifo "$pipe"
env BACKSTOP_CONNECT_BASE=2s BACKSTOP_CONNECT_MAX_DELAY=2s BACKSTOP_CONNECT_FACTOR=1 BACKSTOP_CONNECT_JITTER=none \
	BACKSTOP_CONNECT_DEADLINE=5m BACKSTOP_LOG=fd:3 LD_PRELOAD="$BS_PRELOAD" \
	"$BS_HELPERS/conn_client" -i "127.0.0.1:$PORT" 3>"$pipe" >"$BS_TMP/client2.out" &
client=$!
exec 5<"$pipe"
"$BS_HELPERS/conn_logwait" "$log" '"event":"connect.retry"' 1 <&5 || fail "no retry logged"
pid=$(sed -n 's/^pid=//p' "$BS_TMP/client2.out")
kill -USR2 "$pid"
"$BS_HELPERS/conn_logwait" "$log" '"event":"connect.retry"' 1 <&5 ||
	fail "the call ended after an SA_RESTART handler: $(cat "$log")"
kill -USR1 "$pid"
cat <&5 >>"$log"
wait "$client" && fail "connect succeeded"
assert_grep '^result=ECONNREFUSED .*signals=2' "$BS_TMP/client2.out" "errno after both signals"
assert_eq "$(count_lines '"event":"connect.giveup".*"attempt":2.*"errno":"ECONNREFUSED".*"reason":"interrupted"' "$log")" \
	1 "giveup at the second attempt"
