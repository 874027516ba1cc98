#!/usr/bin/env bash
# A machine-wide circuit breaker, with real programs in a network
# namespace of our own (nftables counts every SYN to the server's port):
#  1. on_open = fail, curl against a closed port: three failed calls open
#     the circuit; the next curls fail at once with ECONNREFUSED (reason
#     breaker) without a SYN; `backstop state` shows it open, and its
#     Prometheus form passes promtool.
#  2. on_open = wait, python3 against a late server: client A opens the
#     circuit; clients B1..B4 start while it is open and are held without
#     touching the network; each half-open lets exactly one probe out; the
#     server listens, a probe succeeds, breaker.close, and every client
#     connects: SYNs = 2 (opening) + failed probes + 5 (one per client).
. "$BS_TOP/tests/integration/lib.sh"

ns=$(netns_create breaker)
count_syns() { # PORT: (re)load the counter
	ip netns exec "$ns" nft -f - <<NFT
table inet bs_count
delete table inet bs_count
table inet bs_count {
	chain output {
		type filter hook output priority 0; policy accept;
		tcp dport $1 tcp flags syn counter
	}
}
NFT
}
syns() {
	ip netns exec "$ns" nft list table inet bs_count | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}
policy() { # FILE LOG KEY=VALUE...
	local file=$1 log=$2 kv
	shift 2
	{
		printf '[global]\nlog = %s\nstate = %s/state\n' "$log" "$BS_TMP"
		printf '[connect]\nshare = machine\nnonblocking = sync\ndeadline = 60s\n'
		for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
	} >"$file"
}
in_ns() { ip netns exec "$ns" env LD_PRELOAD="$BS_PRELOAD" "$@"; }

# 1. on_open = fail. curl deadlocks in its own setlocale under a preloaded
# sanitizer runtime (see test_connect_late.sh): python3 stands in there.
count_syns 5432
policy fail.ini "$BS_TMP/fail.jsonl" attempts=1 breaker=3 breaker_cooldown=1h on_open=fail
fail_client() {
	if [ -z "${BS_SANITIZE:-}" ]; then
		in_ns BACKSTOP_POLICY=fail.ini timeout 60 curl -s -o /dev/null http://127.0.0.1:5432/
	else
		in_ns BACKSTOP_POLICY=fail.ini timeout 60 python3 -c '
import socket, sys
try:
    socket.create_connection(("127.0.0.1", 5432))
except ConnectionRefusedError:
    sys.exit(7)'
	fi
}
for i in 1 2 3 4 5; do
	rc=0
	fail_client || rc=$?
	assert_eq "$rc" 7 "client $i: exit status (could not connect)"
done
assert_eq "$(syns)" 3 "SYNs: only the calls before the circuit opened"
assert_log_valid fail.jsonl
assert_grep '"event":"breaker.open","dest":"127.0.0.1:5432","rule":"connect","failures":3,"cooldown_ms":[0-9.]+,"share":"machine"' \
	fail.jsonl "breaker.open"
assert_eq "$(count_lines '"event":"connect.giveup".*"attempt":0,"errno":"ECONNREFUSED","reason":"breaker"' fail.jsonl)" \
	2 "curls failed fast with the last real error"
"$BS_CLI" state -p fail.ini >state.txt
assert_grep '^  connect +127\.0\.0\.1:5432 +open +3 +1 +ECONNREFUSED +[0-9]' state.txt "backstop state: open"
"$BS_CLI" state -p fail.ini --prometheus >metrics.prom
assert_grep '^backstop_breaker_state\{rule="connect",dest="127.0.0.1:5432",state="open"\} 1$' metrics.prom "state metric"
assert_grep '^backstop_breaker_failures\{rule="connect",dest="127.0.0.1:5432"\} 3$' metrics.prom "failures metric"
promtool check metrics <metrics.prom || fail "promtool rejects backstop state --prometheus"

# 2. on_open = wait.
ready=$(ready_fifo server)
ctl="$BS_TMP/server.ctl"
mkfifo "$ctl"
ip netns exec "$ns" "$BS_HELPERS/conn_late_server" -r "$ready" -c "$ctl" -n 5 >server.out &
server=$!
port=$(await_ready "$ready")
exec 6>"$ctl"
count_syns "$port"
mkfifo log.pipe
policy wait.ini fd:3 attempts=1000 base=10ms max_delay=50ms breaker=2 \
	breaker_cooldown=300ms on_open=wait
client() { # NAME [READY-FIFO]
	in_ns BACKSTOP_POLICY=wait.ini timeout 120 python3 -c '
import socket, sys
if len(sys.argv) > 2:
    open(sys.argv[2], "w").write("ready\n")
socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()
' "$port" "${@:2}" 3>log.pipe >"$BS_TMP/$1.out" 2>&1
}
exec 5<>log.pipe
client A &
pids=($!)
"$BS_HELPERS/conn_logwait" wait.jsonl '"event":"breaker.open"' 1 <&5 || fail "the circuit never opened"
held=$(ready_fifo held)
exec 7<>"$held"
for b in B1 B2 B3 B4; do
	client "$b" "$held" &
	pids+=($!)
done
for b in B1 B2 B3 B4; do read -r -t 60 _ <&7 || fail "client $b never got to connect"; done
# A probe that fails (nobody listens yet), then the server comes up.
"$BS_HELPERS/conn_logwait" wait.jsonl '"event":"breaker.half_open"' 1 <&5 || fail "no half-open"
echo listen >&6
for pid in "${pids[@]}"; do wait "$pid" || fail "a client failed: $(cat ./*.out)"; done
# The rest of the log, up to a marker of our own (the pipe has no EOF:
# this shell holds it open for reading and writing).
echo end-of-test >&5
"$BS_HELPERS/conn_logwait" wait.jsonl end-of-test 1 <&5 || fail "log marker lost"
sed -i '/^end-of-test$/d' wait.jsonl
exec 5<&- 6>&- 7<&-
wait "$server" || fail "server failed"
assert_log_valid wait.jsonl
assert_eq "$(cat server.out)" "accepted 5" "connections the server saw"
probes=$(count_lines '"event":"breaker.half_open"' wait.jsonl)
note "on_open = wait: $probes probes, $(syns) SYNs"
assert_eq "$(count_lines '"event":"breaker.close".*"share":"machine"' wait.jsonl)" 1 "breaker.close"
assert_eq "$(syns)" $((2 + probes - 1 + 5)) "SYNs: 2 opening failures, the failed probes, 5 connections"
assert_eq "$(count_lines '"event":"connect.ok"' wait.jsonl)" 5 "every client waited (connect.ok)"
"$BS_CLI" state -p wait.ini >state2.txt
assert_grep "^  connect +127\.0\.0\.1:$port +closed +0 +0 " state2.txt "backstop state: closed again"
