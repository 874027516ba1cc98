#!/usr/bin/env bash
# [wrap "SYMBOL"] declarations that cannot work are refused with the file
# and line to fix and what is allowed, by `backstop check` and by the
# preload alike (status 78 before the program runs); `backstop check`
# lists the declared wrappers; BACKSTOP_WRAP_<SYMBOL>_<KEY> changes a
# declared one and names itself in errors.
. "$BS_TOP/tests/integration/lib.sh"
unset BACKSTOP_POLICY

bad() { # EXPECTED-ERROR-REGEX then the policy on stdin
	cat >bad.conf
	"$BS_CLI" check bad.conf >/dev/null 2>err && fail "accepted: $(cat bad.conf)"
	assert_grep "$1" err "backstop check"
	env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_POLICY=bad.conf /bin/true 2>err && fail "the preload ran with: $(cat bad.conf)"
	assert_grep "$1" err "the preload"
}

bad 'bad\.conf:3: \[wrap "f"\] returns: unknown type .float. \(use one of void, int, unsigned, long, unsigned long, size_t, ssize_t, int64, uint64, double or pointer\)' <<'EOF2'
[wrap "f"]
args = int
returns = float
retry_if = return == 1
EOF2
bad 'bad\.conf:2: \[wrap "f"\] args: unknown type .char\*. in args' <<'EOF2'
[wrap "f"]
args = int, char*
EOF2
bad 'bad\.conf:1: \[wrap "f"\] has no .returns. \(add e\.g\. returns = int' <<'EOF2'
[wrap "f"]
args = pointer
retry_if = return in 5 6
EOF2
bad 'bad\.conf:1: \[wrap "f"\] has no .retry_if.' <<'EOF2'
[wrap "f"]
returns = int
EOF2
bad 'bad\.conf:3: \[wrap "f"\] retry_if: unknown operator .=~. \(use return OP VALUES \[and errno in NAMES\], OP one of == != < <= > >= in' <<'EOF2'
[wrap "f"]
returns = int
retry_if = return =~ 5
EOF2
bad 'bad\.conf:3: \[wrap "f"\] retry_if: after .and. comes .errno in NAMES.' <<'EOF2'
[wrap "f"]
returns = int
retry_if = return == -1 and errno EAGAIN
EOF2
bad 'bad\.conf:4: \[wrap "f"\] retry_if value .null. with returns = int: null is only for returns = pointer' <<'EOF2'
[wrap "f"]
returns = int

retry_if = return == null
EOF2
bad 'bad\.conf:3: \[wrap "f"\] retry_if value .-1. with returns = size_t: a negative number' <<'EOF2'
[wrap "f"]
returns = size_t
retry_if = return == -1
EOF2
bad 'bad\.conf:2: \[wrap "f"\] returns void: a function without a result cannot say it failed' <<'EOF2'
[wrap "f"]
returns = void
retry_if = return == 0
EOF2
bad 'bad\.conf:1: bad symbol .sqlite3-step. \(a C function name' <<'EOF2'
[wrap "sqlite3-step"]
EOF2
bad 'bad\.conf:3: section \[wrap "f"\] appears twice \(first at line 1\)' <<'EOF2'
[wrap "f"]
returns = int
[wrap "f"]
EOF2
bad 'bad\.conf:2: unknown key .retry_on. in \[wrap "f"\] \(did you mean .retry_if.\?\)' <<'EOF2'
[wrap "f"]
retry_on = EAGAIN
EOF2

# A good declaration: listed, with origins; the environment changes it.
"$BS_CLI" check "$BS_TOP/examples/sqlite-busy.conf" >good.out 2>err || { cat err; fail "check sqlite-busy.conf"; }
assert_grep '^policy OK: .*, 2 declared wrappers: sqlite3_prepare_v2 sqlite3_step$' good.out "the wrappers are listed"
BACKSTOP_WRAP_SQLITE3_STEP_DEADLINE=10s "$BS_CLI" check "$BS_TOP/examples/sqlite-busy.conf" >env.out ||
	fail "check with BACKSTOP_WRAP_SQLITE3_STEP_DEADLINE"
assert_grep '^wrap "sqlite3_step"\.deadline = 10s +# BACKSTOP_WRAP_SQLITE3_STEP_DEADLINE$' env.out "the variable's value and origin"
BACKSTOP_WRAP_SQLITE3_STEP_RETRY_IF='return in x' "$BS_CLI" check "$BS_TOP/examples/sqlite-busy.conf" \
	>/dev/null 2>err && fail "a bad variable was accepted"
assert_grep "^backstop: BACKSTOP_WRAP_SQLITE3_STEP_RETRY_IF: bad value 'x'" err "a bad variable names itself"
BACKSTOP_WRAP_SQLITE3_OPEN_BASE=1s "$BS_CLI" check "$BS_TOP/examples/sqlite-busy.conf" >/dev/null 2>err &&
	fail "a variable for an undeclared symbol was accepted"
assert_grep 'BACKSTOP_WRAP_SQLITE3_OPEN_BASE: no \[wrap\] section declares SQLITE3_OPEN' err "undeclared symbol"
