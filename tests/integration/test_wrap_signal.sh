#!/usr/bin/env bash
# A signal during a declared wrapper's pause keeps the program's signal
# semantics, as for connect: after a handler installed with SA_RESTART the
# retries go on; after one without it the call ends at once with the last
# real failure (wrap.giveup, reason interrupted). Signals are sent once the
# log shows the retry whose (long) pause they must land in.
. "$BS_TOP/tests/integration/lib.sh"

cat >policy.ini <<'EOF2'
[wrap "wrapf_busy"]
returns = int
retry_if = return == 5
attempts = 0
base = 2s
factor = 1
jitter = none
max_delay = 2s
deadline = 10m
EOF2

pipe="$BS_TMP/log.pipe" log="$BS_TMP/log.jsonl"
mkfifo "$pipe"
WRAPF_FAILS=1000 BACKSTOP_POLICY=policy.ini BACKSTOP_LOG=fd:3 \
	under_backstop "$BS_HELPERS/wrap_client" signal 3>"$pipe" >client.out &
client=$!
exec 5<"$pipe"
"$BS_HELPERS/conn_logwait" "$log" '"event":"wrap.retry"' 1 <&5 || fail "no wrap.retry logged"
pid=$(sed -n 's/^pid=//p' client.out)
[ -n "$pid" ] || fail "no pid from the client"
kill -USR2 "$pid" # SA_RESTART: the pause goes on, another call follows
"$BS_HELPERS/conn_logwait" "$log" '"event":"wrap.retry"' 1 <&5 ||
	fail "the call ended after an SA_RESTART handler: $(cat "$log")"
kill -USR1 "$pid" # no SA_RESTART: the call ends now
cat <&5 >>"$log"
wait "$client" || fail "wrap_client failed"
assert_eq "$(sed -n 2p client.out)" 5 "the last real return"
assert_log_valid "$log"
assert_eq "$(count_lines '"event":"wrap.retry"' "$log")" 2 "two retries"
assert_grep '"event":"wrap.giveup","symbol":"wrapf_busy","attempt":2,"return":5,"reason":"interrupted"' \
	"$log" "the give-up after SIGUSR1"
