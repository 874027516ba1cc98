#!/usr/bin/env bash
# The policy file is replaced by garbage, then deleted, while a program
# runs under it: the policy was read once at start, so the program neither
# crashes nor changes behaviour; its second connect is retried exactly
# like the first (attempts = 3: two connect.retry lines each). A new
# process started on the garbage file refuses to run and says where.
. "$BS_TOP/tests/integration/lib.sh"

PORT=$(free_port) log="$BS_TMP/log.jsonl" policy="$BS_TMP/policy.conf"
printf '[connect]\nattempts = 3\nbase = 1ms\njitter = none\n' >"$policy"
ready=$(ready_fifo first) go=$(ready_fifo go)
env BACKSTOP_POLICY="$policy" BACKSTOP_LOG="$log" LD_PRELOAD="$BS_PRELOAD" python3 -c '
import socket, sys
port, ready, go = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def dial():
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        print("connected")
    except OSError as e:
        print(e.errno)
    s.close()
dial()
open(ready, "w").write("done\n")
open(go).read()
dial()
' "$PORT" "$ready" "$go" >out.txt &
app=$!
await_ready "$ready" >/dev/null
printf '[connect]\nattempts = zero\n\0garbage\n' >"$policy"
if env BACKSTOP_POLICY="$policy" LD_PRELOAD="$BS_PRELOAD" true 2>err.txt; then
	fail "a process started on the broken policy ran"
fi
assert_grep "$policy:2" err.txt "the error names the file and line"
rm "$policy"
echo go >"$go"
wait "$app" || fail "the program died after its policy file changed"
assert_eq "$(cat out.txt | tr '\n' ' ')" "111 111 " "both connects' errno (ECONNREFUSED)"
assert_eq "$(count_lines '"event":"connect.retry"' "$log")" 4 "connect.retry lines for two connects"
assert_eq "$(count_lines '"event":"connect.giveup".*"reason":"attempts"' "$log")" 2 "give-ups"
assert_log_valid "$log"
