#!/usr/bin/env bash
# A cap slot comes back through every way a program lets go of a socket:
# close, close_range (not CLOSE_RANGE_CLOEXEC), closefrom, dup2 over it,
# dup / F_DUPFD (only after the last number closes), fork + exit (the
# child's close frees the child's copy, never the parent's), and
# fdopen + fclose (glibc's internal close: reclaimed when the cap is full).
. "$BS_TOP/tests/integration/lib.sh"

capped_policy max_conns=1 on_cap=fail

for method in close close_range closefrom dup2 dup fcntl_dupfd fork fclose; do
	out=$(BACKSTOP_POLICY=policy.ini under_backstop "$BS_HELPERS/cap_slots" "$method") ||
		fail "$method: $out"
	assert_eq "$out" ok "$method"
done
# The helper's expectations hold only with the cap: without backstop its
# second connect succeeds.
out=$("$BS_HELPERS/cap_slots" close) && fail "cap_slots passed without backstop: $out"
assert_log_valid log.jsonl
