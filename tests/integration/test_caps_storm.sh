#!/usr/bin/env bash
# A storm of waiters that time out does not starve the live ones: with
# the only slot held, 40 waiters queue and expire; 3 more queue behind
# them and are all served once the holder lets go.
. "$BS_TOP/tests/integration/lib.sh"

capped_policy max_conns=1 on_cap=wait cap_wait=300ms deadline=60s

out=$(BACKSTOP_POLICY=policy.ini under_backstop "$BS_HELPERS/cap_clients" 0 41 storm)
assert_eq "$out" "ok=4 ETIMEDOUT=40" "holder + 3 live served, 40 expired"
assert_log_valid log.jsonl
assert_eq "$(count_lines '"event":"cap.timeout"' log.jsonl)" 40 "cap.timeout lines"
