#!/usr/bin/env bash
# A connect answered by a TCP reset: in a network namespace of our own, a
# server listens on 127.0.0.1:P and nftables answers SYNs to P with
# `reject with tcp reset` (counted). Linux reports a reset in SYN_SENT as
# ECONNREFUSED, the same errno as a closed port: backstop retries it (it
# is in the default retry_on) and the log names it on every retry.
#  1. every SYN reset: -1/ECONNREFUSED after all attempts, reason attempts,
#     as many resets counted by nftables as attempts logged;
#  2. only the first two SYNs reset (numgen): connect succeeds on attempt
#     3, the server sees exactly one connection.
. "$BS_TOP/tests/integration/lib.sh"

ns=$(netns_create reset)
ready=$(ready_fifo server)
ip netns exec "$ns" python3 -c 'import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1], "w").write("%d\n" % s.getsockname()[1])
n = 0
while True:
    c, _ = s.accept(); n += 1; c.close()
    open(sys.argv[2], "w").write("%d\n" % n)' "$ready" "$BS_TMP/accepted" &
PORT=$(await_ready "$ready")

reset_rule() { # NFT-MATCH: load the table with a counted reset rule
	ip netns exec "$ns" nft -f - <<NFT
table inet bs_reset
delete table inet bs_reset
table inet bs_reset {
	chain output {
		type filter hook output priority 0; policy accept;
		tcp dport $PORT tcp flags syn $1 counter reject with tcp reset
	}
}
NFT
}
resets() {
	ip netns exec "$ns" nft list table inet bs_reset | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}
client() { # LOG
	ip netns exec "$ns" env BACKSTOP_CONNECT_ATTEMPTS=4 BACKSTOP_CONNECT_BASE=5ms \
		BACKSTOP_CONNECT_MAX_DELAY=20ms BACKSTOP_CONNECT_DEADLINE=30s BACKSTOP_LOG="$1" \
		BACKSTOP_SEED=5 LD_PRELOAD="$BS_PRELOAD" timeout 60 "$BS_HELPERS/conn_client" 127.0.0.1:$PORT
}

# 1. Every SYN is reset.
reset_rule ""
out=$(client "$BS_TMP/all.jsonl") && fail "connected through a reset: $out"
note "all reset: $out"
assert_grep '^result=ECONNREFUSED ' <(echo "$out") "the errno a reset SYN gives"
assert_eq "$(count_lines '"event":"connect.retry".*"errno":"ECONNREFUSED"' all.jsonl)" 3 "retries naming ECONNREFUSED"
assert_grep '"event":"connect.giveup".*"attempt":4.*"errno":"ECONNREFUSED".*"reason":"attempts"' all.jsonl "give-up"
assert_eq "$(resets)" 4 "SYNs reset by nftables (one per attempt)"
[ ! -e accepted ] || fail "the server saw a connection through the reset rule"

# 2. The first two SYNs are reset, the third passes.
reset_rule "numgen inc mod 3 != 2"
out=$(client "$BS_TMP/two.jsonl") || fail "no connection after two resets: $out"
note "two resets: $out"
assert_grep '^result=ok ' <(echo "$out") "connect after two resets"
assert_eq "$(count_lines '"event":"connect.retry".*"errno":"ECONNREFUSED"' two.jsonl)" 2 "retries after resets"
assert_grep '"event":"connect.ok".*"attempt":3' two.jsonl "connect.ok on the third attempt"
assert_eq "$(resets)" 2 "SYNs reset"
assert_eq "$(await_ready <(tail -n +1 -F accepted 2>/dev/null | head -1))" 1 "connections the server accepted"
assert_log_valid all.jsonl
assert_log_valid two.jsonl
