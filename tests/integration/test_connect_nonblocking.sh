#!/usr/bin/env bash
# Nonblocking connects. With `nonblocking = pass` backstop
# leaves them alone: EINPROGRESS comes back as from libc, and connect.pass
# is logged once per destination per process. With `nonblocking = sync`
# the call runs the retry loop and returns the final result, leaving
# O_NONBLOCK set. (`async`, the default, has its own tests: test_async_*.)
. "$BS_TOP/tests/integration/lib.sh"

P1=$(free_port) P2=$(free_port)
log="$BS_TMP/pass.jsonl"
env BACKSTOP_LOG="$log" BACKSTOP_CONNECT_NONBLOCKING=pass LD_PRELOAD="$BS_PRELOAD" \
	python3 - "$P1" "$P2" <<'PY' >"$BS_TMP/pass.out"
import errno, socket, sys
for port in (sys.argv[1], sys.argv[1], sys.argv[1], sys.argv[2]):
    s = socket.socket()
    s.setblocking(False)
    print(errno.errorcode.get(s.connect_ex(("127.0.0.1", int(port))), "0"))
    s.close()
PY
assert_eq "$(sort -u "$BS_TMP/pass.out")" EINPROGRESS "every nonblocking connect's result"
assert_log_valid "$log"
assert_eq "$(assert_log_valid "$log" connect.pass fd dest rule reason)" 2 \
	"connect.pass lines (two destinations)"
assert_eq "$(count_lines "\"dest\":\"127.0.0.1:$P1\"" "$log")" 1 "lines for the first destination"
assert_no_grep '"event":"connect.(retry|giveup)"' "$log" "pass must not retry"

log="$BS_TMP/sync.jsonl"
out=$(env BACKSTOP_LOG="$log" BACKSTOP_CONNECT_NONBLOCKING=sync BACKSTOP_CONNECT_ATTEMPTS=3 \
	BACKSTOP_CONNECT_BASE=10ms LD_PRELOAD="$BS_PRELOAD" "$BS_HELPERS/conn_client" -n "127.0.0.1:$P1") &&
	fail "sync connected to nobody"
assert_grep '^result=ECONNREFUSED .*flags_kept=yes' <(echo "$out") "sync: final errno, O_NONBLOCK kept"
assert_eq "$(count_lines '"event":"connect.retry"' "$log")" 2 "sync: retries"
assert_eq "$(count_lines '"reason":"attempts"' "$log")" 1 "sync: giveup"
