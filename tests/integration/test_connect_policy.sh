#!/usr/bin/env bash
# Start-up: a policy that cannot be loaded stops the program with status
# 78 (EX_CONFIG) and a message naming where the problem is, both for a bad
# file and for a bad variable; a good file is announced by policy.loaded.
. "$BS_TOP/tests/integration/lib.sh"

printf '[connect]\nattempts = 3\ndeadline = soon\n' >"$BS_TMP/bad.ini"
status=0
env BACKSTOP_POLICY="$BS_TMP/bad.ini" LD_PRELOAD="$BS_PRELOAD" true 2>"$BS_TMP/bad.err" || status=$?
assert_eq "$status" 78 "exit status for a bad policy file"
assert_grep '^backstop: error: .*bad\.ini:3.*deadline' "$BS_TMP/bad.err" "message names file, line and key"
assert_grep '"event":"policy.error".*"error":".*bad\.ini:3' "$BS_TMP/bad.err" "policy.error line"

status=0
env BACKSTOP_CONNECT_DEADLINE=soon LD_PRELOAD="$BS_PRELOAD" true 2>"$BS_TMP/env.err" || status=$?
assert_eq "$status" 78 "exit status for a bad variable"
assert_grep '^backstop: error: BACKSTOP_CONNECT_DEADLINE' "$BS_TMP/env.err" "message names the variable"

# The policy.error line goes where BACKSTOP_LOG says, when it can.
status=0
env BACKSTOP_POLICY="$BS_TMP/missing.ini" BACKSTOP_LOG="$BS_TMP/err.jsonl" LD_PRELOAD="$BS_PRELOAD" \
	true 2>/dev/null || status=$?
assert_eq "$status" 78 "exit status for a missing policy file"
assert_log_valid "$BS_TMP/err.jsonl"
assert_grep '"event":"policy.error".*missing\.ini' "$BS_TMP/err.jsonl" "policy.error in the log file"

printf '[connect]\nattempts = 3\n[dest "db"]\nmatch = 127.0.0.1:5432\n' >"$BS_TMP/good.ini"
env BACKSTOP_POLICY="$BS_TMP/good.ini" BACKSTOP_LOG="$BS_TMP/good.jsonl" LD_PRELOAD="$BS_PRELOAD" true ||
	fail "a good policy stopped the program"
assert_log_valid "$BS_TMP/good.jsonl"
assert_eq "$(assert_log_valid "$BS_TMP/good.jsonl" policy.loaded source rules)" 1 "policy.loaded"
assert_grep "\"source\":\"$BS_TMP/good.ini\+env\".*\"rules\":2" "$BS_TMP/good.jsonl" "source and rules"

# Nothing configured: nothing said (every child of a preloaded shell loads it).
env LD_PRELOAD="$BS_PRELOAD" true 2>"$BS_TMP/quiet.err" || fail "default policy stopped the program"
[ ! -s "$BS_TMP/quiet.err" ] || fail "built-in policy wrote: $(cat "$BS_TMP/quiet.err")"
