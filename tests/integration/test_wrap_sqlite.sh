#!/usr/bin/env bash
# "database is locked" from the unmodified sqlite3 CLI (Debian's, linked to
# libsqlite3.so.0): while another process holds BEGIN EXCLUSIVE, an INSERT
# fails at once without backstop, and succeeds under
# examples/sqlite-busy.conf once the lock is released. The lock is released
# only after the CLI has logged a wrap.retry, so the retry is what got it
# through.
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/integration/wrap_lib.sh"

db="$BS_TMP/app.db"
# Without backstop: the error a new user meets.
hold_lock
sqlite3 "$db" 'INSERT INTO t VALUES (1)' 2>plain.err && fail "the INSERT succeeded under the lock"
assert_grep 'database is locked' plain.err "sqlite3's own error"
echo go >"$release"
wait "$holder" || fail "lock holder failed"

# Under the example policy.
hold_lock
insert_through_lock wrapped.out sqlite3 "$db" 'INSERT INTO t VALUES (2)'
assert_eq "$(sqlite3 "$db" 'SELECT group_concat(x) FROM t')" "0,0,2" "rows: two holders' and the wrapped INSERT"
assert_grep '"event":"wrap.retry","symbol":"sqlite3_prepare_v2","attempt":1,.*"return":5' "$log" "first retry"
assert_eq "$(count_lines '"event":"wrap.ok"' "$log")" 1 "one wrap.ok"
assert_no_grep '"event":"wrap.giveup"\|"event":"wrap.missing"' "$log" "no give-up, nothing missing"
note "$(count_lines '"event":"wrap.retry"' "$log") retries, then $(grep -o '"event":"wrap.ok".*' "$log")"
