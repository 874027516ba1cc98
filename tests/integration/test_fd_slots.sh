#!/usr/bin/env bash
# A cap slot comes back through every way a program lets go of a socket:
# close, close_range (not CLOSE_RANGE_CLOEXEC), closefrom, dup2 over it,
# dup / F_DUPFD (only after the last number closes, also along a chain of
# dups of dups), fork + exit (the child's close frees the child's copy,
# never the parent's), a child sharing the memory (vfork, clone with
# CLONE_VM, with and without CLONE_VFORK: its close never gives back the
# parent's slot, though close asks no getpid while no such child exists),
# and fdopen + fclose (glibc's internal close: reclaimed when the cap is full).
. "$BS_TOP/tests/integration/lib.sh"

capped_policy max_conns=1 on_cap=fail

for method in close close_range closefrom dup2 dup dup_chain fcntl_dupfd fork vfork clone_vfork \
	clone_vm fclose; do
	out=$(BACKSTOP_POLICY=policy.ini under_backstop "$BS_HELPERS/cap_slots" "$method") ||
		fail "$method: $out"
	assert_eq "$out" ok "$method"
done
# The helper's expectations hold only with the cap: without backstop its
# second connect succeeds.
out=$("$BS_HELPERS/cap_slots" close) && fail "cap_slots passed without backstop: $out"
assert_log_valid log.jsonl
