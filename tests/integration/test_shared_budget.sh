#!/usr/bin/env bash
# A machine-wide retry budget holds across processes: 100 python3
# processes connect at once to a closed port in a network namespace of
# our own, each allowed 10 attempts, under `share = machine` and a 20%
# budget with no minimum. nftables counts the SYNs: at most 100 first
# attempts + 20 retries (without the budget the same herd sends 300 with
# 3 attempts each: the control). The budget ends the calls with
# ECONNREFUSED, reason budget, one budget.exhausted line for the machine,
# and `backstop state` (and its Prometheus form, checked by promtool)
# shows the counts. Scaled to 100 processes for CI time.
. "$BS_TOP/tests/integration/lib.sh"

# 100 python3 processes, 20 under a sanitizer (a hundred sanitizer
# runtimes at once exhaust the machine's memory).
CLIENTS=$([ -n "${BS_SANITIZE:-}" ] && echo 20 || echo 100)
ns=$(netns_create budget)
count_syns() { # (re)load the table: its counter starts at 0
	ip netns exec "$ns" nft -f - <<'NFT'
table inet bs_count
delete table inet bs_count
table inet bs_count {
	chain output {
		type filter hook output priority 0; policy accept;
		tcp dport 5432 tcp flags syn counter
	}
}
NFT
}
syns() {
	ip netns exec "$ns" nft list table inet bs_count | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}

policy() { # FILE BUDGET ATTEMPTS
	cat >"$1" <<P
[global]
log = $BS_TMP/${1%.ini}.jsonl
state = $BS_TMP/state
[connect]
attempts = $3
base = 5ms
max_delay = 20ms
deadline = 60s
share = machine
retry_budget = $2
retry_budget_min = 0
retry_budget_window = 1h
P
}

herd() { # POLICY: CLIENTS python3 processes at once; prints how many connected
	ip netns exec "$ns" env BACKSTOP_POLICY="$BS_TMP/$1" LD_PRELOAD="$BS_PRELOAD" \
		bash -c 'for ((i = 0; i < $1; i++)); do
			timeout 120 python3 -c "
import socket, sys
s = socket.socket()
try:
    s.connect((\"127.0.0.1\", 5432))
except OSError as e:
    print(e.errno)
    sys.exit(1)
" >"$2.$i" &
		done; wait' _ "$CLIENTS" "$BS_TMP/${1%.ini}.errno" || true
	cat "$BS_TMP/${1%.ini}".errno.* >"$BS_TMP/${1%.ini}.errnos"
}

# Control: no budget, 3 attempts each.
count_syns
policy control.ini off 3
herd control.ini
assert_eq "$(syns)" $((3 * CLIENTS)) "SYNs of the herd without a budget"
assert_eq "$(sort -u control.errnos)" 111 "errno without a budget (ECONNREFUSED)"
count_syns

policy budget.ini 20% 10
herd budget.ini
total=$(syns)
note "with a 20% machine-wide budget: $total SYNs from $CLIENTS processes"
[ "$total" -le $((CLIENTS + CLIENTS / 5)) ] || fail "$total SYNs: more than 20% retries"
[ "$total" -gt "$CLIENTS" ] || fail "$total SYNs: the budget allowed no retry at all"
assert_eq "$(wc -l <budget.errnos)" "$CLIENTS" "clients that failed"
assert_eq "$(sort -u budget.errnos)" 111 "errno under the budget (the last real one)"
assert_log_valid budget.jsonl
retries=$(count_lines '"event":"connect.retry"' budget.jsonl)
assert_eq "$retries" $((total - CLIENTS)) "retries logged vs SYNs counted"
assert_eq "$(count_lines '"event":"connect.giveup".*"errno":"ECONNREFUSED","reason":"budget"' budget.jsonl)" \
	"$CLIENTS" "give-ups for the budget"
assert_eq "$(count_lines '"event":"budget.exhausted".*"rule":"connect".*"share":"machine"' budget.jsonl)" \
	1 "budget.exhausted lines (once per window for the machine)"

"$BS_CLI" state -p budget.ini >state.txt
cat state.txt
assert_grep "^  connect +$CLIENTS +$retries +$((CLIENTS / 5)) +$((CLIENTS / 5 - retries))\$" state.txt "backstop state's budget row"
"$BS_CLI" state -p budget.ini --prometheus >metrics.prom
assert_grep "^backstop_budget_calls\{rule=\"connect\"\} $CLIENTS\$" metrics.prom "calls metric"
assert_grep "^backstop_budget_retries\{rule=\"connect\"\} $retries\$" metrics.prom "retries metric"
promtool check metrics <metrics.prom || fail "promtool rejects backstop state --prometheus"

"$BS_CLI" state -p budget.ini --reset >/dev/null
"$BS_CLI" state -p budget.ini --prometheus >reset.prom
assert_grep '^backstop_budget_calls\{rule="connect"\} 0$' reset.prom "calls after --reset"
