#!/usr/bin/env bash
# backstop's log descriptor is its own: the program's close of that
# number fails with EBADF, a dup2 over it gives the program the number
# while the log moves elsewhere, and closefrom(3) leaves it open while the
# program's next open() still gets 3. Logging goes on to the same file.
. "$BS_TOP/tests/integration/lib.sh"

capped_policy max_conns=1 on_cap=fail

out=$(BACKSTOP_POLICY=policy.ini under_backstop "$BS_HELPERS/cap_slots" logfd "$BS_TMP/log.jsonl") ||
	fail "$out"
assert_eq "$out" ok "helper"
assert_log_valid log.jsonl
# One cap.reject before the dup2, one after it, one after closefrom(3).
assert_eq "$(count_lines '"event":"cap.reject"' log.jsonl)" 3 "cap.reject lines in the same log"
