# backstop explain: the rule a destination gets and why, and a schedule
# sampled from the real backoff code, against the deadline.
. "$BS_TOP/tests/integration/lib.sh"
unset BACKSTOP_POLICY

# The built-in default: a schedule for every attempt, delays within max_delay.
"$BS_CLI" explain 127.0.0.1:5432 >out 2>err || { cat err >&2; fail "explain on the built-in default"; }
cat out
assert_grep '^destination +127\.0\.0\.1:5432' out "the destination is echoed"
assert_grep '^rule +connect \(no \[dest\] rule matches' out "the built-in default has no dest rule"
assert_grep '^attempt +delay before it' out "the schedule table is printed"
# attempts = 0 (the default): no count limit, so explain counts how many
# attempts the deadline allows when each fails at once (the engine's rule:
# a pause must end before the deadline). With max_delay = 1s and a 10 s
# deadline that is more than the 5 rows a table of 5 attempts would show.
assert_grep '^settings +attempts = 0 \(no count limit\)' out "attempts = 0 is spelled out"
count=$(sed -n 's/.*the call makes \([0-9]*\) \/ \([0-9]*\) \/ \([0-9]*\) attempts.*/\1 \2 \3/p' out)
[ -n "$count" ] || fail "no attempt count for attempts = 0"
set -- $count
[ "$1" -le "$2" ] && [ "$2" -le "$3" ] && [ "$1" -gt 5 ] ||
	fail "attempt count min/median/max out of order or too small: $count"
"$BS_CLI" explain 127.0.0.1:5432 >again 2>&1
cmp -s out again || fail "the schedule is not stable from run to run"
python3 - out <<'PY' || fail "schedule table is not consistent"
import re, sys
text = open(sys.argv[1]).read()
maxd = re.search(r"max_delay = (\S+?),", text).group(1)
units = {"ms": 1, "s": 1000, "m": 60000}
m = re.fullmatch(r"([\d.]+)(ms|s|m)", maxd)
max_ms = float(m.group(1)) * units[m.group(2)]
deadline_ms = float(re.search(r"the deadline is (\d+) ms", text).group(1))
rows = re.findall(r"^\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+|-)\s+(.+)$", text, re.M)
assert rows and rows[0][0] == "1", rows
prev_start = -1
for n, lo, med, hi, start, end, verdict in rows:
    start, end = float(start), float(end) if end != "-" else None
    if n != "1":
        lo, med, hi = float(lo), float(med), float(hi)
        assert 0 <= lo <= med <= hi <= max_ms, (n, lo, med, hi, max_ms)
    assert start >= prev_start, "worst-case start times grow"
    assert end is None or end <= deadline_ms, "no attempt ends past the deadline"
    prev_start = start
    assert verdict.startswith(("fits", "may be cut", "cut by deadline")), verdict
print(len(rows), "rows, max_delay", max_ms, "deadline", deadline_ms)
PY

# A policy where the deadline cuts the schedule, and where the most specific
# rule wins.
cat >p.conf <<'CONF'
[connect]
attempts = 8
base = 1s
factor = 2
max_delay = 4s
jitter = none
attempt_timeout = 1s
deadline = 5s

[dest "lan"]
match = 127.0.0.0/8
jitter = full

[dest "db"]
match = 127.0.0.1:5432 unix:/run/db/*.sock
exempt = 127.0.0.1:5432
max_conns = 3
CONF
"$BS_CLI" explain -p p.conf 127.0.0.1:5432 >out 2>err || { cat err >&2; fail "explain -p"; }
cat out
assert_grep '^rule +db, matched by 127\.0\.0\.1(/32)?:5432 in \[dest "db"\]' out "the most specific rule and its pattern"
assert_grep '^cap +exempt' out "an exempt destination is shown as exempt"
"$BS_CLI" explain -p p.conf 127.0.0.9:80 >out 2>err || { cat err >&2; fail "explain lan"; }
assert_grep '^rule +lan, matched by 127\.0\.0\.0/8' out "the wider rule for other loopback addresses"
"$BS_CLI" explain -p p.conf 10.0.0.1:80 >out 2>err || { cat err >&2; fail "explain connect"; }
# jitter = none: delays 1s 2s 4s exactly; attempt 3 may start at worst after
# 1+1+1+2 = 5s, so it may be cut; attempt 4 needs at least 1+2+4 = 7s > 5s.
assert_grep '^ +2 +1000\.0 +1000\.0 +1000\.0 +2000 +3000 +fits$' out "attempt 2 fits"
assert_grep '^ +3 +2000\.0 +2000\.0 +2000\.0 +5000 +- +may be cut$' out "attempt 3 may be cut"
assert_grep '^ +4 +4000\.0 +4000\.0 +4000\.0 .*cut by deadline$' out "attempt 4 is cut by the deadline"
assert_grep 'attempts 5 to 8 not shown: the deadline ends the call' out "later attempts are summarised"
"$BS_CLI" explain -p p.conf unix:/run/db/main.sock >out 2>err || { cat err >&2; fail "explain unix"; }
assert_grep '^rule +db, matched by unix:/run/db/\*\.sock' out "unix paths match by glob"
assert_grep '^cap +max_conns = 3' out "a capped destination shows its cap"

# A host name and port: the rule that matches the name, or [connect].
cat >names.conf <<'CONF'
[dest "svc"]
match = svc.test:80 *.internal
attempts = 3
failover = off
CONF
"$BS_CLI" explain -p names.conf SVC.test:80 >out 2>err || { cat err >&2; fail "explain a name"; }
assert_grep '^destination +svc\.test:80 \(a host name\)' out "the name, lower-cased"
assert_grep '^rule +svc, matched by name in \[dest "svc"\] match: svc\.test:80 \*\.internal' out "the name rule"
assert_grep '^settings +attempts = 3,' out "the name rule's settings"
assert_grep 'failover = off' out "failover shown"
"$BS_CLI" explain -p names.conf db.internal:5432 >out 2>err || { cat err >&2; fail "explain a glob"; }
assert_grep '^rule +svc, matched by name' out "a glob matches"
"$BS_CLI" explain -p names.conf other.test:80 >out 2>err || { cat err >&2; fail "explain another name"; }
assert_grep '^rule +connect \(no \[dest\] rule matches the name' out "no name rule"
rc=0; "$BS_CLI" explain -p names.conf 'svc.*:80' >out 2>err || rc=$?
assert_eq "$rc" 2 "a glob is no destination"

rc=0; "$BS_CLI" explain -p missing.conf 127.0.0.1:1 >out 2>err || rc=$?
assert_eq "$rc" 1 "explain with a missing policy file"

# A declared wrapper: its keys with their origins, and a schedule that the
# deadline ends (attempts = 0 sets no count limit).
"$BS_CLI" explain -p "$BS_TOP/examples/sqlite-busy.conf" sqlite3_step >wrap.out 2>err ||
	{ cat err >&2; fail "explain SYMBOL"; }
assert_grep '^symbol +sqlite3_step$' wrap.out "the symbol is echoed"
assert_grep '^wrap "sqlite3_step"\.retry_if = return in 5 6 +# .*sqlite-busy\.conf:[0-9]+$' wrap.out "retry_if and its line"
assert_grep 'calls taken to return at once, the deadline is 3000 ms' wrap.out "the wrapper's deadline"
assert_grep '^ +21 .* may be cut$' wrap.out "attempts past the deadline are marked"
assert_grep 'attempts = 0: no count limit; later attempts follow alike' wrap.out "no count limit"
assert_grep 'the call makes [0-9]+ / [0-9]+ / [0-9]+ attempts' wrap.out "the attempts the deadline allows"
"$BS_CLI" explain -p "$BS_TOP/examples/sqlite-busy.conf" sqlite3_open >/dev/null 2>err &&
	fail "explain of an undeclared symbol succeeded"
assert_grep "'sqlite3_open' is not a destination .* nor a symbol a \[wrap\] section" err "undeclared symbol"
