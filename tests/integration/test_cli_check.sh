# backstop check: typos in a file or in the environment are errors that name
# where they are; a good policy prints its effective values with origins.
. "$BS_TOP/tests/integration/lib.sh"
unset BACKSTOP_POLICY

cat >typo.conf <<'CONF'
[connect]
deadline = 5s
atempts = 3
CONF
rc=0; "$BS_CLI" check typo.conf >out 2>err || rc=$?
assert_eq "$rc" 1 "check on a typo'd key"
assert_grep "^backstop: typo.conf:3: unknown key 'atempts'" err "the error names file, line and key"
assert_no_grep 'policy OK' out "a bad policy is not reported OK"

rc=0; BACKSTOP_CONECT_DEADLINE=1s "$BS_CLI" check >out 2>err || rc=$?
assert_eq "$rc" 1 "check with a typo'd variable"
assert_grep 'BACKSTOP_CONECT_DEADLINE' err "the error names the variable"

rc=0; "$BS_CLI" check missing.conf >out 2>err || rc=$?
assert_eq "$rc" 1 "check on a missing file"
assert_grep 'missing.conf' err "the error names the missing file"

cat >good.conf <<'CONF'
[connect]
attempts = 7

[dest "db"]
match = 127.0.0.1:5432
max_conns = 4
CONF
BACKSTOP_CONNECT_DEADLINE=3s "$BS_CLI" check good.conf >out 2>err ||
	{ cat err >&2; fail "check on a good policy"; }
assert_grep '^connect\.attempts = 7 .*# good\.conf:2' out "a file value shows its file and line"
assert_grep '^connect\.deadline = 3s .*# BACKSTOP_CONNECT_DEADLINE' out "an env value shows its variable"
assert_grep '^connect\.factor = .*# default' out "an unset value shows it is the default"
assert_grep '^dest "db"\.max_conns = 4 ' out "dest rules are shown"
assert_grep '^policy OK: good\.conf.*, 1 dest rule$' out "the verdict names the source and rule count"

# BACKSTOP_POLICY is the file when no argument is given; nothing at all
# means the built-in policy.
BACKSTOP_POLICY=good.conf "$BS_CLI" check >out 2>err || { cat err >&2; fail "check via BACKSTOP_POLICY"; }
# (a relative BACKSTOP_POLICY is made absolute, as the library does)
assert_grep "^policy OK: $BS_TMP/good\\.conf" out "BACKSTOP_POLICY names the file"
"$BS_CLI" check >out 2>err || { cat err >&2; fail "check on the built-in policy"; }
assert_grep '^policy OK: built-in' out "no configuration means the built-in policy"

# max_per_client cannot bound a server that forks per connection (issue
# 10, defect 13): check says so whenever it is set.
BACKSTOP_ACCEPT_MAX_PER_CLIENT=5 "$BS_CLI" check >out 2>err || { cat err >&2; fail "check with max_per_client"; }
assert_grep '^backstop: warning: \[accept\] max_per_client counts the connections each process' err "the warning"
assert_grep 'forks a child per connection' err "what the warning is about"
"$BS_CLI" check good.conf >out 2>err
assert_no_grep 'warning' err "a warning without max_per_client"
