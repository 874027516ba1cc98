#!/usr/bin/env bash
# 64 threads connecting and closing at once, 20 times each, against
# max_conns = 5 with on_cap = fail: afterwards every slot is back (5 new
# connections succeed without waiting) and the cap still holds (a 6th
# fails with EAGAIN).
. "$BS_TOP/tests/integration/lib.sh"

capped_policy max_conns=5 on_cap=fail

out=$(BACKSTOP_POLICY=policy.ini under_backstop "$BS_HELPERS/cap_clients" 0 64 churn 5)
assert_eq "$out" "ok=5 EAGAIN=1" "slots after the churn"
assert_log_valid log.jsonl
