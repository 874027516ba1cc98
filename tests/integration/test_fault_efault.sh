#!/usr/bin/env bash
# Bad pointers (issue 10, defect 10; tests/helpers/fault_efault.c):
# connect(s, (void *)8, 16), connect to an unmapped address, and accept
# with a bad addrlen or addr get EFAULT from the kernel, as without
# backstop, with and without a per-client cap (whose path used to copy the
# peer into addr itself). They used to crash the program.
. "$BS_TOP/tests/integration/lib.sh"

expected="connect-low rc=-1 errno=EFAULT
connect-unmapped rc=-1 errno=EFAULT
accept-addrlen rc=-1 errno=EFAULT
accept-addr rc=-1 errno=EFAULT"
plain=$("$BS_HELPERS/fault_efault") || fail "fault_efault without backstop"
assert_eq "$plain" "$expected" "without backstop"
for cap in 0 4; do
	out=$(timeout 60 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$BS_TMP/log.jsonl" \
		BACKSTOP_ACCEPT_MAX_PER_CLIENT=$cap "$BS_HELPERS/fault_efault") ||
		fail "max_per_client = $cap: fault_efault crashed or failed: $out"
	assert_eq "$out" "$expected" "max_per_client = $cap"
done
