#!/usr/bin/env bash
# One thread alternating between a capped destination (max_conns = 1,
# on_cap = fail) and an uncapped one gets each destination's own rule
# every time: the rule and cap key a thread remembers for its latest
# destination (preload/destmemo.h) never answer for another address.
. "$BS_TOP/tests/integration/lib.sh"

capped_policy max_conns=1 on_cap=fail

out=$(BACKSTOP_POLICY=policy.ini under_backstop "$BS_HELPERS/cap_memo") || fail "$out"
assert_eq "$out" ok "alternating destinations"
# The expectations hold only with the cap: without backstop the capped
# destination takes a second connect.
out=$("$BS_HELPERS/cap_memo") && fail "cap_memo passed without backstop: $out"
assert_log_valid log.jsonl
