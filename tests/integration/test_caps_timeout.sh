#!/usr/bin/env bash
# At the cap: with a short cap_wait waiters give up with ETIMEDOUT and a
# cap.timeout line; with on_cap = fail they get EAGAIN and cap.reject at
# once; under nonblocking = pass a nonblocking socket never waits: EAGAIN
# (under async, the default, it queues without blocking: test_async_caps).
. "$BS_TOP/tests/integration/lib.sh"

policy() { # ON_CAP -> writes policy-ON_CAP.ini
	cat >"policy-$1.ini" <<EOF2
[global]
log = $BS_TMP/log-$1.jsonl
[dest "capped"]
match = 127.0.0.1/32
max_conns = 2
on_cap = $1
cap_wait = 200ms
deadline = 60s
EOF2
}
policy wait
policy fail
{ cat policy-wait.ini; echo "nonblocking = pass"; } >policy-pass.ini

# 8 threads keep what they get until all have tried: 2 hold the slots.
out=$(BACKSTOP_POLICY=policy-wait.ini under_backstop "$BS_HELPERS/cap_clients" 0 8 hold)
assert_eq "$out" "ok=2 ETIMEDOUT=6" "waiters past cap_wait"
assert_log_valid log-wait.jsonl
assert_eq "$(count_lines '"event":"cap.wait"' log-wait.jsonl)" 6 "cap.wait lines"
assert_eq "$(count_lines '"event":"cap.timeout"' log-wait.jsonl)" 6 "cap.timeout lines"
python3 - log-wait.jsonl <<'PY' || fail "cap.timeout lines lack fields"
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["event"] != "cap.timeout":
        continue
    assert o["rule"] == "capped" and o["max_conns"] == 2, o
    assert o["dest"].startswith("127.0.0.1:"), o
    assert isinstance(o["in_use"], int) and o["waited_ms"] >= 200, o
PY

out=$(BACKSTOP_POLICY=policy-fail.ini under_backstop "$BS_HELPERS/cap_clients" 0 8 hold)
assert_eq "$out" "ok=2 EAGAIN=6" "on_cap = fail"
assert_eq "$(count_lines '"event":"cap.reject"' log-fail.jsonl)" 6 "cap.reject lines"
assert_no_grep '"event":"cap.wait"' log-fail.jsonl "on_cap = fail never waits"

rm -f log-wait.jsonl
out=$(BACKSTOP_POLICY=policy-pass.ini under_backstop "$BS_HELPERS/cap_clients" 0 8 nonblock)
assert_eq "$out" "ok=2 EAGAIN=6" "nonblocking sockets at the cap"
assert_eq "$(count_lines '"event":"cap.reject"' log-wait.jsonl)" 6 "cap.reject lines (nonblocking)"
assert_no_grep '"event":"cap.wait"' log-wait.jsonl "a nonblocking socket never waits"
